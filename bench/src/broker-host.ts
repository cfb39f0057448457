/**
 * The broker path of `make bench`: ingress POST (binary CloudEvent) → persistent publish with
 * publisher confirms → trigger queue → HTTP dispatch → ack, on real RabbitMQ. Two processes:
 * - this one (pinned to the load core by broker.ts): the poster (`inFlight` keep-alive connections,
 *   each POSTing the next event as soon as the ingress answered 202), the subscriber (bare node:http,
 *   204 at once) and the dead-letter sink — poster and subscriber share one clock, so end-to-end latency
 *   is `now − ce-benchsent` at the subscriber;
 * - the broker (`--broker`, startBroker with in-memory manifests), spawned pinned to the server core.
 *   It prints `READY <url>` and destroys its exchanges/queues and exits when its stdin closes.
 * Prints `BENCHJSON {"rate","p50Ms","p99Ms",…}` like amqp-floor.ts.
 *   node bench/src/broker-host.ts '{"url":"amqp://…","seconds":3,"warmupSeconds":1,"inFlight":50,"serverCpu":"0"}'
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import amqp from 'amqplib';
import { startBroker } from '../../eventing/src/index.ts';
import { JsonLogger } from '../../functions/runtime/src/index.ts';
import { EventRecorder } from '../../platform/local/src/console/recorder.ts';
import {
  BANKING,
  BENCH_DEAD_LETTER,
  BENCH_SUBSCRIBER,
  type BrokerBenchArgs,
  benchManifests,
  cpuTicksFromStat,
  PIPELINE_FUNCTION,
  parseBrokerBenchArgs,
  pipelineManifests,
  SENT_EXTENSION,
} from './broker-bench.ts';
import { EVENT_BODY, EVENT_HEADERS, EVENT_TYPE } from './event.ts';
import { freePort, ROOT } from './servers.ts';
import { percentile } from './stats.ts';

const SENT_HEADER = `ce-${SENT_EXTENSION}`;
const STOP_TIMEOUT_MS = 15_000;

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds used so far by a process (user + system), or undefined when /proc is not readable. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const ticks = cpuTicksFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === undefined ? undefined : ticks / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

async function brokerProcess(argText: string | undefined): Promise<void> {
  const { url, inFlight, mode, queueType, recording, subscriberUrl, deadLetterUrl, functionUrl } = JSON.parse(
    argText ?? '{}',
  ) as {
    url: string;
    inFlight: number;
    mode: BrokerBenchArgs['mode'];
    queueType: BrokerBenchArgs['queueType'];
    recording?: boolean;
    subscriberUrl: string;
    deadLetterUrl: string;
    functionUrl?: string;
  };
  // What make dev adds to the broker's path: every accepted event and delivery into the console's recorder.
  const recorder = recording === true ? new EventRecorder() : undefined;
  const broker = await startBroker({
    ...(recorder === undefined
      ? {}
      : { onAccepted: (r) => void recorder.add(r), onTrail: (r) => void recorder.add(r) }),
    manifests:
      mode === 'pipeline'
        ? pipelineManifests(inFlight)
        : benchManifests({ eventType: EVENT_TYPE, parallelism: inFlight, queueType }),
    resolveSubscriber: (ref) => {
      if (ref.name === BENCH_SUBSCRIBER) return subscriberUrl;
      if (ref.name === BENCH_DEAD_LETTER) return deadLetterUrl;
      if (ref.name === PIPELINE_FUNCTION && functionUrl !== undefined) return functionUrl;
      throw new Error(`broker-host: no server for ${ref.name}`);
    },
    replyTypesOf: async () => undefined,
    port: 0,
    rabbitmqUrl: url,
    instance: `bench${process.pid}x${Date.now().toString(36)}`,
    // Only start-up and errors are logged at info; keep them off the READY channel.
    log: new JsonLogger({ serviceName: 'sluice-bench-broker', sink: process.stderr }),
  });
  const { topology } = broker.plan;
  const names = { queues: topology.queues.map((q) => q.name), exchanges: topology.exchanges };
  process.stdout.write(`READY ${broker.url} ${JSON.stringify(names)}\n`);
  // stdin closing (the host is done, or died) is the stop signal: delete the topology, exit.
  process.stdin.resume();
  await new Promise<void>((r) => process.stdin.once('close', r).once('end', r));
  await broker.destroy();
  process.exit(0);
}

interface Sink {
  readonly server: Server;
  readonly url: string;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Sink> {
  const server = createServer({ keepAliveTimeout: 30_000 }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

interface TopologyNames {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

interface BrokerChild {
  readonly child: ChildProcess;
  readonly url: string;
  readonly names: TopologyNames;
}

async function startBrokerChild(args: object, cpu: string): Promise<BrokerChild> {
  const child = spawn(
    'taskset',
    ['-c', cpu, process.execPath, import.meta.filename, '--broker', JSON.stringify(args)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('broker did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`broker exited with ${code} before READY`)));
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(line.slice('READY '.length).trim());
    });
  });
  const space = ready.indexOf(' ');
  return { child, url: ready.slice(0, space), names: JSON.parse(ready.slice(space + 1)) as TopologyNames };
}

/** Asks the broker to delete its topology and exit; if it has to be killed, deletes the topology here. */
async function stopBrokerChild(broker: BrokerChild, rabbitmqUrl: string): Promise<void> {
  const { child } = broker;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  if (child.exitCode === 0) return;
  const connection = await amqp.connect(rabbitmqUrl);
  try {
    const ch = await connection.createChannel();
    ch.on('error', () => {});
    for (const q of broker.names.queues) await ch.deleteQueue(q).catch(() => {});
    for (const e of broker.names.exchanges) await ch.deleteExchange(e).catch(() => {});
  } finally {
    await connection.close().catch(() => {});
  }
}

/** The transfer pipeline's function: the transaction-processor bundle, in-memory store, pinned. */
async function startFunction(cpu: string): Promise<{ child: ChildProcess; url: string }> {
  // From source, not the bundle: the bundle's lazily imported mingo has no `Query` (the memory store
  // fails every non-_id query with 500; reported, docs/performance.md). Start-up cost is not measured here.
  const port = await freePort();
  const { MONGODB_URL: _mongo, ...env } = process.env;
  const main = join(ROOT, 'functions/runtime/src/main.ts');
  const child = spawn('taskset', ['-c', cpu, process.execPath, main], {
    // No MONGODB_URL: the in-memory dev store. Log lines go to /dev/null like the function path.
    env: {
      ...env,
      FUNCTION_DIR: join(ROOT, 'functions', PIPELINE_FUNCTION),
      PORT: String(port),
      HOST: '127.0.0.1',
      K_SERVICE: PIPELINE_FUNCTION,
      LOG_LEVEL: 'info',
    },
    // BENCH_FUNCTION_LOG=<file> keeps its log lines (to see why deliveries fail).
    stdio: [
      'ignore',
      process.env.BENCH_FUNCTION_LOG === undefined ? 'ignore' : openSync(process.env.BENCH_FUNCTION_LOG, 'w'),
      'inherit',
    ],
  });
  const url = `http://127.0.0.1:${port}/`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${PIPELINE_FUNCTION} exited with ${child.exitCode}`);
    const ok = await fetch(`${url}health/readiness`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url };
    if (performance.now() > deadline) throw new Error(`${PIPELINE_FUNCTION} not ready within 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ACCOUNTS = 100;
const account = (i: number): string => `bench-acc-${i % ACCOUNTS}`;

interface Outgoing {
  readonly headers: Record<string, string | number>;
  readonly body: Buffer;
}

async function hostProcess(argText: string | undefined): Promise<void> {
  const args = parseBrokerBenchArgs(argText);
  const pipeline = args.mode === 'pipeline';
  let measuring = false;
  let delivered = 0;
  let deliveredTotal = 0;
  let deadLetters = 0;
  let rejected = 0;
  const latencies: number[] = [];
  // Pipeline: replies carry the transaction id as subject (not our extension): sent times by id, and
  // the poster waiting for that reply (end-to-end closed loop: `inFlight` transfers at most in the
  // pipeline, so latency is not the age of a backlog the ingress accepted faster than it drains).
  const sentAt = new Map<string, number>();
  const waiting = new Map<string, () => void>();

  const subscriber = await listen((req, res) => {
    const subject = req.headers['ce-subject'];
    const sent = pipeline
      ? typeof subject === 'string'
        ? sentAt.get(subject)
        : undefined
      : Number(req.headers[SENT_HEADER]);
    if (pipeline && typeof subject === 'string') {
      sentAt.delete(subject);
      waiting.get(subject)?.();
      waiting.delete(subject);
    }
    if (req.headers['ce-type'] === BANKING.rejected) rejected++;
    deliveredTotal++;
    if (measuring) {
      delivered++;
      if (sent !== undefined && Number.isFinite(sent)) latencies.push(performance.now() - sent);
    }
    req.resume();
    res.writeHead(204).end();
  });
  const deadLetter = await listen((req, res) => {
    deadLetters++;
    req.resume();
    res.writeHead(202).end();
  });

  let brokerChild: BrokerChild | undefined;
  let fn: ChildProcess | undefined;
  let accepted = 0;
  let failures = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: args.inFlight });
  try {
    const started = pipeline ? await startFunction(args.serverCpu) : undefined;
    fn = started?.child;
    const broker = await startBrokerChild(
      {
        url: args.url,
        inFlight: args.inFlight,
        mode: args.mode,
        queueType: args.queueType,
        recording: args.recording,
        subscriberUrl: subscriber.url,
        deadLetterUrl: deadLetter.url,
        ...(started === undefined ? {} : { functionUrl: started.url }),
      },
      args.serverCpu,
    );
    brokerChild = broker;
    const child = broker.child;
    const ingress = new URL(broker.url);
    const benchBody = Buffer.from(EVENT_BODY);
    let stopping = false;
    let sequence = 0;

    const post = (out: Outgoing): Promise<number> =>
      new Promise((resolve) => {
        const req = request(
          {
            agent,
            host: ingress.hostname,
            port: ingress.port,
            path: ingress.pathname,
            method: 'POST',
            headers: { ...out.headers, 'content-length': out.body.length },
          },
          (res) => {
            res.resume();
            res.once('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.once('error', () => resolve(0));
        req.end(out.body);
      });
    const banking = (type: string, id: string, data: object): Outgoing => ({
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-source': '/bench/loadgen',
        'ce-type': type,
        'ce-id': id,
      },
      body: Buffer.from(JSON.stringify(data)),
    });
    const transfer = (n: number): Outgoing => {
      const id = `bench-tx-${process.pid}-${n}`;
      sentAt.set(id, performance.now());
      // Consecutive accounts: spreads the writes; no two in-flight transfers need the same pair.
      return banking(BANKING.submitted, `submit-${id}`, {
        transactionId: id,
        from: account(n),
        to: account(n + 1),
        amount: 1,
        currency: 'EUR',
      });
    };
    const next = (): Outgoing => {
      const n = ++sequence;
      if (pipeline) return transfer(n);
      return {
        headers: {
          ...EVENT_HEADERS,
          'ce-id': `broker-${process.pid}-${n}`,
          [SENT_HEADER]: String(performance.now()),
        },
        body: benchBody,
      };
    };

    if (pipeline) {
      for (let i = 0; i < ACCOUNTS; i++) {
        const status = await post(
          banking(BANKING.accountOpened, `open-${process.pid}-${i}`, {
            accountId: account(i),
            currency: 'EUR',
            openingBalance: 1_000_000_000,
          }),
        );
        if (status !== 202) throw new Error(`account open answered ${status}`);
      }
      // Accounts are applied in order (parallelism 1); a transfer from the last one shows they are in.
      const deadline = performance.now() + 20_000;
      let probe = 0;
      while (deliveredTotal === rejected) {
        if (performance.now() > deadline) throw new Error('accounts not open within 20 s');
        if (deliveredTotal === probe) {
          probe++;
          await post(transfer(ACCOUNTS - 1 + ACCOUNTS * probe * 1000));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    // One loop per connection; each stops after its current POST once `stopping` is set.
    const replyTo = (id: string): Promise<void> =>
      new Promise((resolve) => {
        const timer = setTimeout(resolve, 10_000); // bounded: a lost reply only slows this loop
        waiting.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    const poster = async (): Promise<void> => {
      while (!stopping) {
        const out = next();
        const id = pipeline ? String(out.headers['ce-id']).slice('submit-'.length) : '';
        const reply = pipeline ? replyTo(id) : undefined;
        const status = await post(out);
        if (status === 202) accepted++;
        else failures++;
        if (reply !== undefined) {
          if (status === 202) await reply;
          else waiting.delete(id);
        }
      }
    };
    const posters = Array.from({ length: args.inFlight }, poster);
    const base = deliveredTotal + deadLetters;

    await new Promise((r) => setTimeout(r, args.warmupSeconds * 1000));
    // taskset execs node, so the child's pid is the broker's.
    const brokerCpu0 = cpuSeconds(child.pid);
    const fnCpu0 = cpuSeconds(fn?.pid);
    const hostCpu0 = process.cpuUsage();
    measuring = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, args.seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const brokerCpu1 = cpuSeconds(child.pid);
    const fnCpu1 = cpuSeconds(fn?.pid);
    const hostCpu = process.cpuUsage(hostCpu0);
    stopping = true;
    await Promise.all(posters);
    // Let the queues drain (bounded) so the broker stops with nothing in flight.
    const deadline = performance.now() + 10_000;
    while (deliveredTotal + deadLetters - base < accepted && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const share = (a: number | undefined, b: number | undefined): number | undefined =>
      a === undefined || b === undefined ? undefined : (b - a) / elapsed;
    process.stdout.write(
      `BENCHJSON ${JSON.stringify({
        rate: delivered / elapsed,
        delivered,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        accepted,
        postFailures: failures,
        deadLetters,
        rejected,
        undelivered: accepted - (deliveredTotal + deadLetters - base),
        // Share of one core while measuring: is the broker (or the function, or this process) CPU-bound?
        brokerCpu: share(brokerCpu0, brokerCpu1),
        functionCpu: share(fnCpu0, fnCpu1),
        hostCpu: (hostCpu.user + hostCpu.system) / 1e6 / elapsed,
      })}\n`,
    );
  } finally {
    agent.destroy();
    if (brokerChild !== undefined) await stopBrokerChild(brokerChild, args.url);
    if (fn !== undefined) await stopFunction(fn);
    await closeServer(subscriber.server);
    await closeServer(deadLetter.server);
  }
}

async function stopFunction(fn: ChildProcess): Promise<void> {
  if (fn.exitCode !== null || fn.signalCode !== null) return;
  const exited = new Promise<void>((r) => fn.once('exit', () => r()));
  fn.kill('SIGKILL');
  await exited;
}

// Last, so every module-level constant above is initialised before either process runs.
if (process.argv[2] === '--broker') await brokerProcess(process.argv[3]);
else await hostProcess(process.argv[2]);
