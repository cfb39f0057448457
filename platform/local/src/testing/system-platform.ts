/**
 * A system's end-to-end tests on the local platform, as `make dev` runs it (the repository's manifests, every
 * function from zero, the gateway) on the test RabbitMQ and FerretDB, with its own database, broker names and
 * temporary folder — and only the system's own RabbitmqSources, so that platforms started by tests running beside
 * it do not take each other's messages (SLUICE_SOURCES).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'amqplib';
import { type RunningBroker, type StartBrokerOptions, startBroker } from '../../../../eventing/src/index.ts';
import { type DocumentStore, type Logger, openStore } from '../../../../functions/runtime/src/index.ts';
import { type DevPlatform, startDevPlatform } from '../platform.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');

export interface SystemPlatformOptions {
  /** Names the database, the broker's RabbitMQ names and the temporary folder. */
  readonly name: string;
  readonly rabbitmqUrl: string;
  readonly mongodbUrl: string;
  readonly log: Logger;
  /** The RabbitmqSources this test feeds; their queues are purged first (a queue left by an earlier run would feed it). */
  readonly sources?: readonly { readonly name: string; readonly queue: string }[];
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
  stop(): Promise<void>;
}

export async function startSystemPlatform(options: SystemPlatformOptions): Promise<SystemPlatform> {
  const run = `${options.name}_${process.pid}x${Date.now().toString(36)}`;
  const db = run.replaceAll('-', '_');
  const dir = await mkdtemp(join(tmpdir(), `sluice-${options.name}-`));
  const sources = options.sources ?? [];
  if (sources.length > 0) {
    const conn = await connect(options.rabbitmqUrl);
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    for (const s of sources) await ch.purgeQueue(s.queue).catch(() => undefined);
    await conn.close().catch(() => undefined);
  }
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
      SLUICE_SOURCES: sources.map((s) => s.name).join(','),
      MONGODB_URL: options.mongodbUrl,
      // One database for the run (make dev's MONGODB_DB wins over each Service's own, as here).
      MONGODB_DB: db,
    },
    startBroker: async (ctx) => {
      broker = await startBroker({ ...ctx, ...options.broker, instance: run });
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
    async stop() {
      await platform.stop();
      await running.destroy();
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
