/**
 * The fleet path of `make bench`: `make simulate`'s CLI (200 vehicles at 1 Hz for 60 s, its resends, late fixes
 * and jumps) publishing over AMQP → a RabbitmqSource → the broker → the tracker's trigger → position-tracker (the
 * real function, from source) → its store, on real RabbitMQ. The store is MongoDB when MONGODB_URL is set, else
 * `make dev`'s in-memory dev store served from this process (as the streams path: FerretDB's SQLite backend writes
 * one at a time and would be what is measured). Processes: this one (the dev store, the dead-letter and trip
 * catchers), the simulator and the broker and position-tracker, the last two pinned to the server core.
 * Measured: positions/s from the simulator's start until every distinct fix is in history and derived, against
 * the rate the simulator offered (the floor: a tracker that kept up exactly); the tracker lag (processing time −
 * fix time) of the fixes sent on time, p50 and p99; nothing lost (every distinct fix stored and derived once).
 * Prints `BENCHJSON {…}`.
 *   node bench/src/fleet-host.ts '{"url":"amqp://…","vehicles":200,"seconds":60,"inFlight":20,"serverCpu":"0","loadCpu":"1"}'
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
import {
  FLEET_DEAD_LETTER,
  FLEET_FUNCTION,
  fleetBenchManifests,
  fleetFigures,
  type SentFix,
  type StoredFix,
} from './fleet-bench.ts';
import { ROOT } from './servers.ts';

interface HostArgs {
  url: string;
  vehicles: number;
  seconds: number;
  inFlight: number;
  serverCpu: string;
  loadCpu: string;
}

async function brokerProcess(argText: string | undefined): Promise<void> {
  const a = JSON.parse(argText ?? '{}') as BrokerProcessArgs;
  await serveBroker({
    url: a.url,
    manifests: fleetBenchManifests(a),
    subscribers: { [FLEET_FUNCTION]: a.functionUrl, [FLEET_DEAD_LETTER]: a.deadLetterUrl },
    name: 'fleet-host',
  });
}

async function hostProcess(argText: string | undefined): Promise<void> {
  const args = JSON.parse(argText ?? '{}') as HostArgs;
  const run = `fb${process.pid}x${Date.now().toString(36)}`;
  const exchange = `sluice-bench-positions-${run}`;
  const queue = exchange;
  const db = `fleet_bench_${run}`;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-fleet-bench-'));
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
  let trips = 0;
  const tripCatcher = await listen((req, res) => {
    trips++;
    req.resume();
    res.writeHead(202).end();
  });
  let tracker: ChildProcess | undefined;
  let broker: ChildProcess | undefined;
  try {
    const setup = await connection.createChannel();
    await setup.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
    await setup.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    await setup.bindQueue(queue, exchange, '');
    await setup.close();
    const fn = await startFunctionProcess({
      dir: join(ROOT, 'functions/fleet', FLEET_FUNCTION),
      name: FLEET_FUNCTION,
      cpu: args.serverCpu,
      env: { ...storeEnv, BROKER_URL: tripCatcher.url },
    });
    tracker = fn.child;
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

    // `make simulate` as a user runs it, into the bench's own exchange.
    const out = join(dir, 'sent.jsonl');
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      execFile(
        'taskset',
        [
          '-c',
          args.loadCpu,
          process.execPath,
          join(ROOT, 'functions/fleet/position-simulator/cli.ts'),
          ...[
            '--vehicles',
            String(args.vehicles),
            '--rate',
            '1',
            '--duration',
            `${args.seconds}s`,
            '--seed',
            '1',
          ],
          ...['--prefix', 'bench', '--exchange', exchange, '--out', out],
        ],
        { env: { ...process.env, RABBITMQ_URL: args.url }, timeout: (args.seconds + 120) * 1000 },
        (err, _stdout, stderr) => (err === null ? resolve() : reject(new Error(`simulator: ${stderr}`))),
      );
    });
    const offeredSeconds = (performance.now() - t0) / 1000;
    const sent = (await readFile(out, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as SentFix);
    const distinct = new Set(sent.map((f) => `${f.vehicleId}|${f.fixT}`)).size;
    const positions = store.collection<StoredFix & Record<string, unknown>>('fleet_positions');
    const track = store.collection('fleet_track');
    const deadline = performance.now() + 300_000;
    let derived = 0;
    for (;;) {
      derived = await track.countDocuments({});
      if (derived >= distinct || performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const elapsed = (performance.now() - t0) / 1000;
    const figures = fleetFigures(sent, await positions.find({}));
    process.stdout.write(
      `BENCHJSON ${JSON.stringify({
        rate: distinct / elapsed,
        offeredRate: distinct / offeredSeconds,
        sent: sent.length,
        derived,
        ...figures,
        deadLetters,
        trips,
        store: devStore === undefined ? 'mongodb' : 'dev store (in memory)',
      })}\n`,
    );
  } finally {
    if (broker !== undefined && broker.exitCode === null) {
      const exited = new Promise<void>((r) => broker?.once('exit', () => r()));
      broker.stdin?.end();
      const timer = setTimeout(() => broker?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await killProcess(tracker);
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
    tripCatcher.server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--broker') await brokerProcess(process.argv[3]);
else await hostProcess(process.argv[2]);
