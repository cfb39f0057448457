// The runtime's HTTP store adapter against the dev store server the local platform hosts (loopback, but it
// opens sockets: integration project).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../functions/runtime/src/index.ts';
import {
  describeDocumentStoreContract,
  describeIdempotencyGuard,
  ExpiryMode,
  HttpDocumentStore,
  IdempotencyGuard,
} from '../../../functions/runtime/test/support.ts';
import { type DevStoreServer, startDevStoreServer } from './dev-store-server.ts';

/** A dev store server of its own and the runtime's client to it. */
async function openDevStore(): Promise<{ store: HttpDocumentStore; close(): Promise<void> }> {
  const server = await startDevStoreServer();
  const store = new HttpDocumentStore(server.url, { token: server.token });
  return {
    store,
    close: async () => {
      await store.close();
      await server.close();
    },
  };
}

describeDocumentStoreContract('http adapter on the dev store server', openDevStore);

// The guard as `make dev` runs it on the dev store: its inserts of one turn in one bulkWrite.
describeIdempotencyGuard(
  'the dev store over HTTP',
  openDevStore,
  { expiry: ExpiryMode.purge },
  { batchInserts: true },
);

describe('HttpDocumentStore', () => {
  let server: DevStoreServer;
  let a: HttpDocumentStore;
  let b: HttpDocumentStore;

  beforeAll(async () => {
    server = await startDevStoreServer();
    // Two clients: two function instances (or two functions) on one shared store.
    a = new HttpDocumentStore(server.url, { token: server.token });
    b = new HttpDocumentStore(`${server.url}/`, { token: server.token });
  });
  afterAll(async () => {
    await server.close();
  });

  it('shares documents between clients, as instances of a scaled-out function need', async () => {
    await a.collection('accounts').insertOne({ _id: 'ada', balance: 10 });
    await b.collection('accounts').updateOne({ _id: 'ada' }, { $inc: { balance: 5 } });
    expect(await a.collection('accounts').findOne({ _id: 'ada' })).toEqual({ _id: 'ada', balance: 15 });
    expect(await server.store.collection('accounts').findOne({ _id: 'ada' })).toEqual({
      _id: 'ada',
      balance: 15,
    });
  });

  it('lets exactly one of 20 concurrent idempotency claims win, across two clients', async () => {
    const guards = [a, b].map((s) => new IdempotencyGuard(s, 'fn'));
    await guards[0]?.init();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (guards[i % 2] as IdempotencyGuard).claim('/src', 'e1')),
    );
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in-progress')).toHaveLength(19);
  });

  it('passes $regex query operators and RegExp values through unchanged', async () => {
    const c = a.collection('people');
    for (const name of ['Ada', 'alan', 'Grace']) await c.insertOne({ _id: name, name });
    const byOperator = await c.find({ name: { $regex: '^a', $options: 'i' } }, { sort: { _id: 1 } });
    expect(byOperator.map((d) => d._id)).toEqual(['Ada', 'alan']);
    expect(await c.countDocuments({ name: /^G/ })).toBe(1);
  });

  it('keeps binary data as bytes', async () => {
    const c = a.collection('blobs');
    await c.insertOne({ _id: 'x', bytes: new Uint8Array([0, 1, 254, 255]) });
    expect((await b.collection('blobs').findOne({ _id: 'x' }))?.bytes).toEqual(
      new Uint8Array([0, 1, 254, 255]),
    );
  });

  it('rejects an invalid filter with TypeError, as a bad argument', async () => {
    await expect(a.collection('x').findOne([] as never)).rejects.toThrow(TypeError);
  });

  it('is refused without the per-run token: a 401 that is not retried as an outage', async () => {
    const anonymous = new HttpDocumentStore(server.url);
    const refused = anonymous.ping();
    await expect(refused).rejects.toThrow(/dev store 401/);
    await expect(refused).rejects.not.toBeInstanceOf(StoreUnavailableError);
  });

  it('reports an unreachable dev store as StoreUnavailableError (transient, retried)', async () => {
    // Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    const gone = new HttpDocumentStore('http://127.0.0.1:9');
    await expect(gone.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(gone.collection('x').insertOne({ _id: 'y' })).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
