/**
 * A system's end-to-end tests on the local platform, as `make dev` runs it (the repository's manifests, every
 * function from zero, the gateway) on the test RabbitMQ and FerretDB, with its own database, broker names and
 * temporary folder — and only the system's own RabbitmqSources (SLUICE_SOURCES), on an exchange and a queue of the
 * run's own: two consumers of one queue share its messages, so two runs of one test on the same RabbitMQ (two
 * checkouts' `make test`, or a test beside `make dev`) would each get about half of what the other's generator
 * sent, and wait on counts the two halves can still add up to.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'amqplib';
import {
  type EventingManifests,
  loadEventingManifests,
  type RunningBroker,
  type StartBrokerOptions,
  startBroker,
} from '../../../../eventing/src/index.ts';
import { type DocumentStore, type Logger, openStore } from '../../../../functions/runtime/src/index.ts';
import { type DevPlatform, startDevPlatform } from '../platform.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');

export interface SystemPlatformOptions {
  /** Names the database, the broker's RabbitMQ names and the temporary folder. */
  readonly name: string;
  readonly rabbitmqUrl: string;
  readonly mongodbUrl: string;
  readonly log: Logger;
  /** The RabbitmqSources this test feeds, by name: each runs on the run's own exchange and queue (`sources`). */
  readonly sources?: readonly string[];
  /** More of the broker's options (a clock the test moves). */
  readonly broker?: Pick<StartBrokerOptions, 'clock'>;
}

export interface SystemPlatform {
  readonly platform: DevPlatform;
  readonly broker: RunningBroker;
  /** The run's database (MONGODB_DB of every function), and a store on it for the test's own reads. */
  readonly db: string;
  readonly store: DocumentStore;
  readonly dir: string;
  /** Where the test publishes to each source it feeds: the run's own exchange (and the queue bound to it). */
  readonly sources: ReadonlyMap<string, { readonly exchange: string; readonly queue: string }>;
  stop(): Promise<void>;
}

/**
 * The manifests with the named RabbitmqSources on exchanges and queues of the run (`<manifest's name>.<run>`), as
 * the broker's own names carry its instance; the other sources are left as they are (they do not run).
 */
export function withRunSources(
  manifests: EventingManifests,
  names: readonly string[],
  run: string,
): EventingManifests {
  const fed = new Set(names);
  return {
    ...manifests,
    sources: manifests.sources.map((s) =>
      fed.has(s.name)
        ? {
            ...s,
            predeclared: false,
            exchangeName: `${s.exchangeName ?? s.queueName}.${run}`,
            queueName: `${s.queueName}.${run}`,
          }
        : s,
    ),
  };
}

export async function startSystemPlatform(options: SystemPlatformOptions): Promise<SystemPlatform> {
  const run = `${options.name}_${process.pid}x${Date.now().toString(36)}`;
  const db = run.replaceAll('-', '_');
  const dir = await mkdtemp(join(tmpdir(), `sluice-${options.name}-`));
  const names = options.sources ?? [];
  const manifests = withRunSources(await loadEventingManifests(join(ROOT, 'eventing/manifests')), names, run);
  const sources = new Map(
    manifests.sources
      .filter((s) => names.includes(s.name))
      .map((s) => [s.name, { exchange: s.exchangeName as string, queue: s.queueName }] as const),
  );
  const store = (await openStore({ mongodbUrl: options.mongodbUrl, mongodbDb: db })) as DocumentStore;
  let broker: RunningBroker | undefined;
  const platform = await startDevPlatform({
    root: ROOT,
    log: options.log,
    out: { write: () => true },
    env: {
      PATH: process.env.PATH,
      BROKER_PORT: '0',
      GATEWAY_PORT: '0',
      SLUICE_SCALE_TO_ZERO_AFTER: '60s',
      SLUICE_PROMETHEUS_TARGETS: join(dir, 'targets.json'),
      RABBITMQ_URL: options.rabbitmqUrl,
      SLUICE_SOURCES: names.join(','),
      MONGODB_URL: options.mongodbUrl,
      // One database for the run (make dev's MONGODB_DB wins over each Service's own, as here).
      MONGODB_DB: db,
    },
    startBroker: async (ctx) => {
      broker = await startBroker({ ...ctx, ...options.broker, manifests, instance: run });
      return broker;
    },
  });
  const running = broker as RunningBroker;
  return {
    platform,
    broker: running,
    db,
    store,
    dir,
    sources,
    async stop() {
      await platform.stop();
      await running.destroy();
      if (sources.size > 0) {
        // The source's queue and exchange are the run's: nothing else will read them.
        const conn = await connect(options.rabbitmqUrl);
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        for (const s of sources.values()) {
          await ch.deleteQueue(s.queue).catch(() => undefined);
          await ch.deleteExchange(s.exchange).catch(() => undefined);
        }
        await conn.close().catch(() => undefined);
      }
      await (store as unknown as { db?: { dropDatabase(): Promise<unknown> } }).db?.dropDatabase();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Statuses the gateway answers while a Service scales from zero: its instance is not taking requests yet. */
const STARTING = new Set([502, 503, 504]);

/**
 * Waits until `url` (through the gateway) answers other than "starting", and returns that answer. Every function
 * starts from zero here, as on the cluster, and a route's `timeout` (10 s for most) is shorter than a cold start on
 * a loaded machine, where the first request gets 504: a test that means "the Service answers" waits for that
 * first, then checks the answer. `timeoutMs` bounds a hang, not a start.
 */
export async function whenServing(url: string, timeoutMs = 120_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url).catch(() => undefined);
    if (res !== undefined && !STARTING.has(res.status)) return res;
    await res?.body?.cancel();
    if (Date.now() > deadline)
      throw new Error(`${url} still answered ${res?.status ?? 'nothing'} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface SourceCliOptions {
  /** The run's exchange of the source the CLI feeds (`SystemPlatform.sources`), not the manifest's. */
  readonly exchange: string;
  /** Where the CLI writes what it sent. */
  readonly out: string;
  /** Added to this process's environment (RABBITMQ_URL). */
  readonly env: Readonly<Record<string, string>>;
  /** A bound on a hang of a CLI that ends by itself (its --duration). @default 60 000 */
  readonly timeoutMs?: number;
  /** Instead of a bound: runs until this aborts, then SIGTERM (as Ctrl-C stops it). */
  readonly signal?: AbortSignal;
}

/**
 * A dev CLI that publishes into a source (`make simulate`, `make stream`: `what`, for the error), run with `args`
 * plus `--exchange` and `--out`: resolves with what it wrote to `out`, one JSON object a line (what it sent).
 */
export function runSourceCli<T>(
  what: string,
  cli: string,
  args: readonly string[],
  options: SourceCliOptions,
): Promise<T[]> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [cli, ...args, '--exchange', options.exchange, '--out', options.out],
      {
        env: { ...process.env, ...options.env },
        ...(options.signal === undefined
          ? { timeout: options.timeoutMs ?? 60_000 }
          : { signal: options.signal, killSignal: 'SIGTERM' }),
      },
      (err, _stdout, stderr) => {
        if (err !== null) return fail(new Error(`${what} failed: ${stderr}`));
        readFile(options.out, 'utf8').then(
          (text) =>
            done(
              text
                .split('\n')
                .filter((l) => l !== '')
                .map((l) => JSON.parse(l) as T),
            ),
          fail,
        );
      },
    );
  });
}
