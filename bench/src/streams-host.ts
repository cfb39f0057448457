/**
 * The streams path of `make bench`: readings published over AMQP (as `make stream` does) → a RabbitmqSource →
 * the broker → a trigger → window-aggregator (the real function, from source) → its store, on real RabbitMQ. The
 * store is MongoDB when MONGODB_URL is set, else `make dev`'s in-memory dev store served from this process (as
 * the pipeline path uses an in-memory store: FerretDB's SQLite backend, the tests' stand-in, writes one at a
 * time and would be what is measured). Processes:
 * - this one (pinned to the load core by streams.ts): the publisher (confirm channel), the store check, the
 *   dead-letter sink and, after the run, the window.closed catcher;
 * - the broker (`--broker`: startBroker with the bench manifests), pinned to the server core;
 * - window-aggregator, pinned to the server core (broker and function share it, as in the pipeline path).
 * Measured: `readings` distinct readings (1 % resent on top) from the first publish until every one is stored
 * in its window (`streams_readings`), after `warmup` readings. Then window-closer, fired once the stream is idle
 * (a tick an hour ahead), makes every window final and publishes it here: each must equal the window computed
 * from what was sent. Prints `BENCHJSON {"rate",…,"exact"}`.
 *   node bench/src/streams-host.ts '{"url":"amqp://…","readings":5000,"warmup":500,"sensors":100,"inFlight":50,"serverCpu":"0"}'
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import {
  type BrokerProcessArgs,
  cpuSeconds,
  killProcess,
  listen,
  type SourcePath,
  serveBroker,
  startFunctionProcess,
  startSourcePath,
} from './bench-processes.ts';
import { ROOT } from './servers.ts';
import {
  type BenchReading,
  benchReading,
  compareWindows,
  expectedWindows,
  parseStreamsBenchArgs,
  READING_SOURCE,
  READING_TYPE,
  STREAMS_DEAD_LETTER,
  STREAMS_FUNCTION,
  streamsBenchManifests,
  type WindowFigures,
} from './streams-bench.ts';

async function brokerProcess(argText: string | undefined): Promise<void> {
  const a = JSON.parse(argText ?? '{}') as BrokerProcessArgs;
  await serveBroker({
    url: a.url,
    manifests: streamsBenchManifests(a),
    subscribers: { [STREAMS_FUNCTION]: a.functionUrl, [STREAMS_DEAD_LETTER]: a.deadLetterUrl },
    name: 'streams-host',
  });
}

/** Polls every 250 ms: counting the in-memory store scans it, on the core the dev store serves from. */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`streams-host: ${what} not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function hostProcess(argText: string | undefined): Promise<void> {
  const args = parseStreamsBenchArgs(argText);
  const run = `sb${process.pid}x${Date.now().toString(36)}`;
  const exchange = `sluice-bench-readings-${run}`;
  const published: WindowFigures[] = [];
  const catcher = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      published.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WindowFigures);
      res.writeHead(202).end();
    });
  });
  let closer: ChildProcess | undefined;
  let path: SourcePath | undefined;
  try {
    path = await startSourcePath({
      script: import.meta.filename,
      url: args.url,
      exchange,
      db: `streams_bench_${run}`,
      functionDir: join(ROOT, 'functions/streams', STREAMS_FUNCTION),
      functionName: STREAMS_FUNCTION,
      cpu: args.serverCpu,
      parallelism: args.inFlight,
    });
    const { store, connection, broker } = path;
    const aggregator = path.fn.child;

    const channel = await connection.createConfirmChannel();
    const sent: BenchReading[] = [];
    const publish = (r: BenchReading): void => {
      sent.push(r);
      channel.publish(exchange, '', Buffer.from(JSON.stringify({ value: r.value, unit: r.unit })), {
        persistent: true,
        messageId: r.id,
        contentType: 'application/json',
        headers: {
          'ce-specversion': '1.0',
          'ce-id': r.id,
          'ce-source': READING_SOURCE,
          'ce-type': READING_TYPE,
          'ce-subject': r.sensorId,
          'ce-time': new Date(r.timeMs).toISOString(),
        },
      });
    };
    let n = 0;
    /** `count` distinct readings (and every 100th once more), confirmed by RabbitMQ in batches. */
    const send = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const r = benchReading(run, n++, args.sensors, Date.now());
        publish(r);
        if (n % 100 === 0) publish(r);
        if (i % 1000 === 999) await channel.waitForConfirms();
      }
      await channel.waitForConfirms();
    };
    const stored = (): Promise<number> => store.collection('streams_readings').countDocuments({});

    await send(args.warmup);
    await until('the warm-up readings stored', 120_000, async () => (await stored()) >= args.warmup);
    const brokerCpu0 = cpuSeconds(broker.pid);
    const fnCpu0 = cpuSeconds(aggregator.pid);
    const t0 = performance.now();
    await send(args.readings);
    await until('every reading stored', 600_000, async () => (await stored()) >= args.warmup + args.readings);
    const elapsed = (performance.now() - t0) / 1000;
    const share = (a: number | undefined, b: number | undefined): number | undefined =>
      a === undefined || b === undefined ? undefined : (b - a) / elapsed;
    const brokerCpu = share(brokerCpu0, cpuSeconds(broker.pid));
    const functionCpu = share(fnCpu0, cpuSeconds(aggregator.pid));

    // Exact? window-closer, ticked an hour ahead (the stream is idle), publishes every window here.
    const closerFn = await startFunctionProcess({
      dir: join(ROOT, 'functions/streams', 'window-closer'),
      name: 'window-closer',
      cpu: args.serverCpu,
      env: { ...path.storeEnv, BROKER_URL: catcher.url },
    });
    closer = closerFn.child;
    for (let tick = 0; tick < 50; tick++) {
      const before = published.length;
      const res = await fetch(closerFn.url, {
        method: 'POST',
        headers: {
          'ce-specversion': '1.0',
          'ce-id': `${run}-tick-${tick}`,
          'ce-source': '/bench/streams/ping',
          'ce-type': 'dev.knative.sources.ping',
          'ce-time': new Date(Date.now() + 3_600_000).toISOString(),
          'content-type': 'application/json',
        },
        body: '{}',
      });
      if (!res.ok) throw new Error(`window-closer answered ${res.status}`);
      if (published.length === before) break;
    }
    const problems = compareWindows(expectedWindows(sent), published);
    process.stdout.write(
      `BENCHJSON ${JSON.stringify({
        rate: args.readings / elapsed,
        readings: args.readings,
        sent: sent.length,
        elapsedSeconds: elapsed,
        brokerCpu,
        functionCpu,
        windows: published.length,
        exact: problems.length === 0,
        problems: problems.slice(0, 5),
        deadLetters: path.deadLetters.count(),
        store: path.storeLabel,
      })}\n`,
    );
  } finally {
    await killProcess(closer);
    await path?.stop();
    catcher.server.close();
  }
}

if (process.argv[2] === '--broker') await brokerProcess(process.argv[3]);
else await hostProcess(process.argv[2]);
