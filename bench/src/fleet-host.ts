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
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BrokerProcessArgs,
  countingSink,
  type SourcePath,
  serveBroker,
  startSourcePath,
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
  const dir = await mkdtemp(join(tmpdir(), 'sluice-fleet-bench-'));
  const tripCatcher = await countingSink();
  let path: SourcePath | undefined;
  try {
    path = await startSourcePath({
      script: import.meta.filename,
      url: args.url,
      exchange,
      db: `fleet_bench_${run}`,
      functionDir: join(ROOT, 'functions/fleet', FLEET_FUNCTION),
      functionName: FLEET_FUNCTION,
      cpu: args.serverCpu,
      parallelism: args.inFlight,
      functionEnv: { BROKER_URL: tripCatcher.url },
    });
    const { store } = path;

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
        deadLetters: path.deadLetters.count(),
        trips: tripCatcher.count(),
        store: path.storeLabel,
      })}\n`,
    );
  } finally {
    await path?.stop();
    tripCatcher.server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--broker') await brokerProcess(process.argv[3]);
else await hostProcess(process.argv[2]);
