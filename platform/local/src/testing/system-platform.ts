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
