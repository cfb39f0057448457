/**
 * The orders path of `make bench` (docs/orders.md, "Load"), one round: the local platform as `make dev` runs it
 * (startDevPlatform: api-gateway, orders-api, billing and the rest from their manifests, the broker on RabbitMQ,
 * the store MongoDB when MONGODB_URL is set, else a FerretDB started here: a MongoDB-wire store either way).
 * With billing's Trigger paused, `orders` orders are placed through the gateway (POST /api/billing → orders-api →
 * broker, 202 after the confirm) and `orders` more straight at the broker ingress (the broker path: the same
 * `…order.placed.v1` CloudEvent, 202 after the confirm), `inFlight` at a time, in the order `first` says; the
 * queue must then hold every one. Billing is resumed and timed until every order is billed; nothing may be lost:
 * one bill and one distinct invoice number per order. Prints `BENCHJSON {"gatewayRate","brokerRate","billedRate",…}`.
 *   node bench/src/orders-host.ts '{"url":"amqp://…","orders":1000,"inFlight":32,"first":"gateway"}'
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningBroker, startBroker } from '../../eventing/src/index.ts';
import { type DocumentStore, openStore, toBinary } from '../../functions/runtime/src/index.ts';
import { type DevPlatform, startDevPlatform } from '../../platform/local/src/platform.ts';
import { type FerretdbProcess, startFerretdb } from '../../platform/test-servers/ferretdb.ts';
import { ROOT } from './servers.ts';

const a = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  orders: number;
  inFlight: number;
  first: 'gateway' | 'broker';
};
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const PLACED = 'dev.sluice.orders.order.placed.v1';

/** `count` calls of `one`, `inFlight` at a time; resolves with the seconds it took. */
async function drive(count: number, inFlight: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      for (let i = next++; i < count; i = next++) await one(i);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`orders bench: ${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let ferret: FerretdbProcess | undefined;
let platform: DevPlatform | undefined;
let broker: RunningBroker | undefined;
let store: DocumentStore | undefined;
const dir = await mkdtemp(join(tmpdir(), 'sluice-orders-bench-'));
const run = `ob${process.pid}x${Date.now().toString(36)}`;
try {
  let mongodbUrl = process.env.MONGODB_URL;
  if (!mongodbUrl) {
    ferret = await startFerretdb();
    mongodbUrl = ferret.url;
  }
  const db = `orders_bench_${run}`;
  store = (await openStore({ mongodbUrl, mongodbDb: db })) as DocumentStore;
  platform = await startDevPlatform({
    root: ROOT,
    log: quiet,
    out: { write: () => true },
    env: {
      PATH: process.env.PATH,
      BROKER_PORT: '0',
      GATEWAY_PORT: '0',
      SLUICE_SCALE_TO_ZERO_AFTER: '600s',
      SLUICE_PROMETHEUS_TARGETS: join(dir, 'targets.json'),
      SLUICE_LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
      RABBITMQ_URL: a.url,
      MONGODB_URL: mongodbUrl,
      MONGODB_DB: db,
    },
    startBroker: async (ctx) => {
      broker = await startBroker({ ...ctx, instance: run });
      return broker;
    },
  });
  const gateway = `${platform.gateway?.url}/api/billing`;
  const ingress = platform.broker?.url as string;
  await until(
    'orders-api up',
    async () => (await fetch(`${gateway}/${randomUUID()}`)).status === 404,
    120_000,
  );
  await broker?.pause('billing', true);

  const viaGateway = async (i: number): Promise<void> => {
    const res = await fetch(gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        user_id: `u-${i % 50}`,
        number_of_items: String((i % 9) + 1),
        total_amount: `${i % 500}.99`,
      }),
    });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`gateway answered ${res.status}`);
  };
  const viaBroker = async (i: number): Promise<void> => {
    const orderId = randomUUID();
    const m = toBinary({
      specversion: '1.0',
      id: orderId,
      source: '/sluice/bench/orders',
      type: PLACED,
      subject: orderId,
      datacontenttype: 'application/json',
      data: {
        orderId,
        userId: `u-${i % 50}`,
        numberOfItems: (i % 9) + 1,
        totalAmountCents: (i % 500) * 100 + 99,
        placedAt: new Date().toISOString(),
      },
      extensions: {},
    });
    const res = await fetch(ingress, { method: 'POST', headers: m.headers, body: m.body });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`broker answered ${res.status}`);
  };
  // Warm-up: both paths once (connections, JIT, orders-api's first publish).
  const warm = Math.max(50, Math.round(a.orders / 10));
  await drive(warm, a.inFlight, viaGateway);
  await drive(warm, a.inFlight, viaBroker);
  const secs: Record<'gateway' | 'broker', number> = { gateway: Number.NaN, broker: Number.NaN };
  for (const path of a.first === 'gateway'
    ? (['gateway', 'broker'] as const)
    : (['broker', 'gateway'] as const))
    secs[path] = await drive(a.orders, a.inFlight, path === 'gateway' ? viaGateway : viaBroker);

  const total = 2 * (warm + a.orders);
  const depthOf = async (): Promise<number | undefined> =>
    (await broker?.triggers())?.find((t) => t.name === 'billing')?.depth;
  await until(`billing's queue holding all ${total}`, async () => (await depthOf()) === total, 60_000);
  const bills = store.collection('orders');
  const resumed = process.hrtime.bigint();
  await broker?.pause('billing', false);
  await until(`all ${total} billed`, async () => (await bills.countDocuments({})) >= total, 600_000);
  const billedSecs = Number(process.hrtime.bigint() - resumed) / 1e9;
  const billed = await bills.countDocuments({});
  const invoices = await store.collection('invoices').find({});
  const distinct = new Set(invoices.map((i) => i._id)).size;
  const perOrder = new Set(invoices.map((i) => i.orderId)).size;
  process.stdout.write(
    `BENCHJSON ${JSON.stringify({
      gatewayRate: a.orders / secs.gateway,
      brokerRate: a.orders / secs.broker,
      billedRate: total / billedSecs,
      orders: total,
      billed,
      invoices: invoices.length,
      lost: total - Math.min(billed, perOrder, distinct),
      store: process.env.MONGODB_URL ? 'mongodb' : 'ferretdb',
    })}\n`,
  );
} finally {
  await platform?.stop();
  await broker?.destroy();
  await (store as unknown as { db?: { dropDatabase(): Promise<unknown> } } | undefined)?.db
    ?.dropDatabase()
    .catch(() => {});
  await store?.close();
  await ferret?.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
