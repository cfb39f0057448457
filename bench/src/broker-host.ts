/**
 * The broker path of `make bench`: ingress POST (binary CloudEvent) → persistent publish with
 * publisher confirms → trigger queue → HTTP dispatch → ack, on real RabbitMQ. Two processes:
 * - this one (pinned to the load core by broker.ts): the poster (`inFlight` keep-alive connections,
 *   each POSTing the next event as soon as the ingress answered 202), the subscriber (bare node:http,
 *   204 at once) and the dead-letter sink — poster and subscriber share one clock, so end-to-end latency
 *   is `now − ce-benchsent` at the subscriber;
 * - the broker (broker-child.ts, startBroker with in-memory manifests), spawned pinned to the server core.
 * Prints `BENCHJSON {"rate","p50Ms","p99Ms",…}` like amqp-floor.ts.
 *   node bench/src/broker-host.ts '{"url":"amqp://…","seconds":3,"warmupSeconds":1,"inFlight":50,"serverCpu":"0","queueType":"quorum"}'
 */
import { Agent, get } from 'node:http';
import {
  type BrokerChild,
  closeServer,
  countingSink,
  cpuSeconds,
  listen,
  type Outgoing,
  post,
  startBrokerChild,
  stopBrokerChild,
} from './bench-processes.ts';
import { BENCH_DEAD_LETTER, BENCH_SUBSCRIBER, parseBrokerBenchArgs, SENT_EXTENSION } from './broker-bench.ts';
import { EVENT_BODY, EVENT_HEADERS, EVENT_TYPE } from './event.ts';
import { percentile } from './stats.ts';

const SENT_HEADER = `ce-${SENT_EXTENSION}`;

const args = parseBrokerBenchArgs(process.argv[2]);
let measuring = false;
let delivered = 0;
let deliveredTotal = 0;
const latencies: number[] = [];

/**
 * Recording runs switch the recording on and off every TOGGLE_MS while measuring (SIGUSR2 to the broker), and
 * each delivered event counts for the window it was POSTed in: on and off windows see the same machine, which
 * separate runs on these 2 shared cores do not (single runs of the same code swing 2× and more).
 */
const TOGGLE_MS = 250;
let windowsFrom = Number.NaN;
const perWindow: number[] = [];

const subscriber = await listen((req, res) => {
  const sent = Number(req.headers[SENT_HEADER]);
  deliveredTotal++;
  if (measuring) {
    delivered++;
    if (Number.isFinite(sent)) latencies.push(performance.now() - sent);
  }
  if (sent >= windowsFrom) {
    const w = Math.floor((sent - windowsFrom) / TOGGLE_MS);
    perWindow[w] = (perWindow[w] ?? 0) + 1;
  }
  req.resume();
  res.writeHead(204).end();
});
const deadLetter = await countingSink();

/**
 * An open console page: reads the broker's console stream (server-sent events) and counts the records in it.
 * Resolves once the stream answered 200; `stop` ends it.
 */
async function watchConsole(server: NonNullable<BrokerChild['console']>): Promise<{
  records(): number;
  stop(): void;
}> {
  let records = 0;
  const req = get(`${server.url}/v1/stream`, { headers: { authorization: `Bearer ${server.token}` } });
  await new Promise<void>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      if (res.statusCode !== 200) reject(new Error(`console stream answered ${res.statusCode}`));
      res.setEncoding('utf8');
      // Every record is one frame that starts with its `id:` line.
      res.on('data', (chunk: string) => {
        for (let i = chunk.indexOf('id: '); i !== -1; i = chunk.indexOf('id: ', i + 4)) records++;
      });
      res.on('error', () => {});
      resolve();
    });
  });
  return { records: () => records, stop: () => req.destroy() };
}

/** Deliveries of the events POSTed with recording on ÷ with it off, over the first `windows` windows (pairs). */
function onOff(windows: number): { recordingOnOff?: number; windows: number } {
  let on = 0;
  let off = 0;
  for (let w = 0; w < windows; w++) {
    if (w % 2 === 0) on += perWindow[w] ?? 0;
    else off += perWindow[w] ?? 0;
  }
  return off > 0 ? { recordingOnOff: on / off, windows } : { windows };
}

let brokerChild: BrokerChild | undefined;
let page: Awaited<ReturnType<typeof watchConsole>> | undefined;
let accepted = 0;
let failures = 0;
const agent = new Agent({ keepAlive: true, maxSockets: args.inFlight });
try {
  const broker = await startBrokerChild(
    {
      url: args.url,
      manifests: {
        kind: 'broker',
        eventType: EVENT_TYPE,
        parallelism: args.inFlight,
        queueType: args.queueType,
      },
      subscribers: { [BENCH_SUBSCRIBER]: subscriber.url, [BENCH_DEAD_LETTER]: deadLetter.url },
      recording: args.recording,
    },
    args.serverCpu,
  );
  brokerChild = broker;
  if (broker.console !== undefined) page = await watchConsole(broker.console);
  const ingress = new URL(broker.url);
  const body = Buffer.from(EVENT_BODY);
  let stopping = false;
  let sequence = 0;
  const next = (): Outgoing => ({
    headers: {
      ...EVENT_HEADERS,
      'ce-id': `broker-${process.pid}-${++sequence}`,
      [SENT_HEADER]: String(performance.now()),
    },
    body,
  });
  // One loop per connection; each stops after its current POST once `stopping` is set.
  const poster = async (): Promise<void> => {
    while (!stopping) {
      if ((await post(agent, ingress, next())) === 202) accepted++;
      else failures++;
    }
  };
  const posters = Array.from({ length: args.inFlight }, poster);
  const base = deliveredTotal + deadLetter.count();

  await new Promise((r) => setTimeout(r, args.warmupSeconds * 1000));
  // taskset execs node, so the child's pid is the broker's.
  const brokerCpu0 = cpuSeconds(broker.child.pid);
  const hostCpu0 = process.cpuUsage();
  measuring = true;
  const pageRecords0 = page?.records() ?? 0;
  const t0 = performance.now();
  // Recording on in even windows (the broker starts with it on), off in odd ones.
  let toggles = 0;
  const toggle =
    page === undefined
      ? undefined
      : setInterval(() => {
          toggles++;
          if (broker.child.pid !== undefined) process.kill(broker.child.pid, 'SIGUSR2');
        }, TOGGLE_MS);
  if (toggle !== undefined) windowsFrom = t0;
  await new Promise((r) => setTimeout(r, args.seconds * 1000));
  clearInterval(toggle);
  const windows = toggle === undefined ? 0 : toggles - (toggles % 2);
  windowsFrom = Number.POSITIVE_INFINITY;
  measuring = false;
  const pageRecords = (page?.records() ?? 0) - pageRecords0;
  const elapsed = (performance.now() - t0) / 1000;
  const brokerCpu1 = cpuSeconds(broker.child.pid);
  const hostCpu = process.cpuUsage(hostCpu0);
  stopping = true;
  await Promise.all(posters);
  // Let the queue drain (bounded) so the broker stops with nothing in flight.
  const deadline = performance.now() + 10_000;
  while (deliveredTotal + deadLetter.count() - base < accepted && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  process.stdout.write(
    `BENCHJSON ${JSON.stringify({
      rate: delivered / elapsed,
      delivered,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      accepted,
      postFailures: failures,
      deadLetters: deadLetter.count(),
      undelivered: accepted - (deliveredTotal + deadLetter.count() - base),
      // Share of one core while measuring: is the broker (or this process) CPU-bound?
      brokerCpu:
        brokerCpu0 === undefined || brokerCpu1 === undefined
          ? undefined
          : (brokerCpu1 - brokerCpu0) / elapsed,
      hostCpu: (hostCpu.user + hostCpu.system) / 1e6 / elapsed,
      // With recording: the records the watching page received in the window (an accepted + a delivery per event).
      ...(page === undefined ? {} : { consoleRecords: pageRecords, ...onOff(windows) }),
    })}\n`,
  );
} finally {
  page?.stop();
  agent.destroy();
  if (brokerChild !== undefined) await stopBrokerChild(brokerChild, args.url);
  await closeServer(subscriber.server);
  await closeServer(deadLetter.server);
}
