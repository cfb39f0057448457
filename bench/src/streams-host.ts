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
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import amqp from 'amqplib';
import { type DocumentStore, openStore } from '../../functions/runtime/src/index.ts';
import { startDevStoreServer } from '../../platform/local/src/dev-store-server.ts';
import {
  type BrokerProcessArgs,
  killProcess,
  listen,
  serveBroker,
  startFunctionProcess,
} from './bench-processes.ts';
import { cpuTicksFromStat } from './broker-bench.ts';
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

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const cpuSeconds = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined;
  try {
    const ticks = cpuTicksFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === undefined ? undefined : ticks / CLOCK_TICKS;
  } catch {
    return undefined;
  }
};

async function brokerProcess(argText: string | undefined): Promise<void> {
  const a = JSON.parse(argText ?? '{}') as BrokerProcessArgs;
  await serveBroker({
    url: a.url,
    manifests: streamsBenchManifests(a),
    subscribers: { [STREAMS_FUNCTION]: a.functionUrl, [STREAMS_DEAD_LETTER]: a.deadLetterUrl },
    name: 'streams-host',
  });
}

/** A function from source on the server core, its store the benchmark's. */

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
  const queue = exchange;
  const db = `streams_bench_${run}`;
  const mongodbUrl = process.env.MONGODB_URL || undefined;
  const devStore = mongodbUrl === undefined ? await startDevStoreServer() : undefined;
  const store = (devStore?.store ?? (await openStore({ mongodbUrl, mongodbDb: db }))) as DocumentStore;
  const storeEnv: Record<string, string> =
    devStore === undefined
      ? { MONGODB_URL: mongodbUrl as string, MONGODB_DB: db }
      : { SLUICE_DEV_STORE_URL: devStore.url, SLUICE_DEV_STORE_TOKEN: devStore.token };
  const connection = await amqp.connect(args.url);
  let deadLetters = 0;
  const sink = await listen((req, res) => {
    deadLetters++;
    req.resume();
    res.writeHead(202).end();
  });
  const published: WindowFigures[] = [];
  const catcher = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      published.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WindowFigures);
      res.writeHead(202).end();
    });
  });
  let aggregator: ChildProcess | undefined;
  let closer: ChildProcess | undefined;
  let broker: ChildProcess | undefined;
  try {
    const setup = await connection.createChannel();
    await setup.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
    await setup.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    await setup.bindQueue(queue, exchange, '');
    await setup.close();
    const fn = await startFunctionProcess({
      dir: join(ROOT, 'functions/streams', STREAMS_FUNCTION),
      name: STREAMS_FUNCTION,
      cpu: args.serverCpu,
      env: storeEnv,
    });
    aggregator = fn.child;
    broker = spawn(
      'taskset',
      [
        '-c',
        args.serverCpu,
        process.execPath,
        import.meta.filename,
        '--broker',
        JSON.stringify({
          url: args.url,
          exchange,
          queue,
          parallelism: args.inFlight,
          functionUrl: fn.url,
          deadLetterUrl: sink.url,
        }),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const child = broker;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('broker did not start within 30 s')), 30_000);
      child.once('exit', (code) => reject(new Error(`broker exited with ${code} before READY`)));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.startsWith('READY ')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

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
      env: { ...storeEnv, BROKER_URL: catcher.url },
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
        deadLetters,
        store: devStore === undefined ? 'mongodb' : 'dev store (in memory)',
      })}\n`,
    );
  } finally {
    await killProcess(closer);
    if (broker !== undefined && broker.exitCode === null) {
      const exited = new Promise<void>((r) => broker?.once('exit', () => r()));
      broker.stdin?.end();
      const timer = setTimeout(() => broker?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await killProcess(aggregator);
    const cleanup = await connection.createChannel();
    cleanup.on('error', () => {});
    await cleanup.deleteQueue(queue).catch(() => {});
    await cleanup.deleteExchange(exchange).catch(() => {});
    await connection.close().catch(() => {});
    if (devStore === undefined) {
      await (store as unknown as { db?: { dropDatabase(): Promise<unknown> } }).db
        ?.dropDatabase()
        .catch(() => {});
      await store.close();
    } else await devStore.close();
    sink.server.close();
    catcher.server.close();
  }
}

if (process.argv[2] === '--broker') await brokerProcess(process.argv[3]);
else await hostProcess(process.argv[2]);
