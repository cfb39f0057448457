/**
 * The store floor of the pipeline section: what the store alone does with the pipeline's concurrency —
 * `inFlight` loops, each inserting the next small document (the size of a ledger entry) as soon as the
 * previous insert was acknowledged, through the raw MongoDB Node driver (FerretDB or MongoDB at
 * `mongodbUrl`), or through the dev store's HTTP wire when no URL is given (`make dev`'s in-memory store,
 * served by this same process). Prints `BENCHJSON {"rate"}` (inserts/s in the measure window).
 *   node bench/src/store-floor.ts '{"mongodbUrl":"mongodb://…","db":"bench","seconds":3,"warmupSeconds":1,"inFlight":50}'
 */
import { MongoClient } from 'mongodb';
import { openStore } from '../../functions/runtime/src/index.ts';
import { startDevStoreServer } from '../../platform/local/src/dev-store-server.ts';

interface FloorArgs {
  readonly mongodbUrl?: string;
  readonly db?: string;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly inFlight: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as FloorArgs;
const collection = `store_floor_${process.pid}`;
let insert: (doc: Record<string, unknown>) => Promise<unknown>;
let close: () => Promise<void>;
if (args.mongodbUrl !== undefined) {
  const client = await MongoClient.connect(args.mongodbUrl, { maxPoolSize: args.inFlight });
  const c = client.db(args.db ?? 'sluice_bench').collection(collection);
  insert = (doc) => c.insertOne(doc);
  close = async () => {
    await c.drop().catch(() => {});
    await client.close();
  };
} else {
  const server = await startDevStoreServer();
  const store = await openStore({ devStoreUrl: server.url, devStoreToken: server.token, memory: false });
  if (store === undefined) throw new Error('store-floor: no dev store');
  const c = store.collection(collection);
  insert = (doc) => c.insertOne(doc);
  close = async () => {
    await store.close();
    await server.close();
  };
}

let measuring = false;
let stopping = false;
let done = 0;
let sequence = 0;
const loop = async (): Promise<void> => {
  while (!stopping) {
    const n = ++sequence;
    await insert({
      _id: `floor-acc-${n % 100}#${String(n).padStart(12, '0')}`,
      account: `floor-acc-${n % 100}`,
      txId: `floor-tx-${n}`,
      kind: 'debit',
      seq: n,
      delta: -1,
      balanceAfter: 1_000_000 - n,
      at: new Date().toISOString(),
    });
    if (measuring) done++;
  }
};
const loops = Array.from({ length: args.inFlight }, loop);
await new Promise((r) => setTimeout(r, args.warmupSeconds * 1000));
measuring = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, args.seconds * 1000));
measuring = false;
const elapsed = (performance.now() - t0) / 1000;
stopping = true;
await Promise.all(loops);
await close();
process.stdout.write(`BENCHJSON ${JSON.stringify({ rate: done / elapsed, inserts: done })}\n`);
