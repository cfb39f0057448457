import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type CloudEvent,
  DEAD_LETTERS_COLLECTION as COLLECTION,
  type Context,
  type DeadLetter,
  deadLetterId,
  decodeErrorData,
  type Handler,
  MemoryDocumentStore,
} from '../../runtime/src/index.ts';
import { acceptsAny, handle, idempotent, init } from './handler.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const context = (store: MemoryDocumentStore): Context => ({
  log: silent,
  store,
  functionName: 'dead-letter-sink',
  signal: new AbortController().signal,
  traceId: '0'.repeat(32),
});

const dead: CloudEvent = {
  specversion: '1.0',
  id: 'e-1',
  source: '/orders',
  type: 'dev.sluice.order.placed.v1',
  datacontenttype: 'application/json',
  data: { $where: 'data keys that look like operators stay text' },
  extensions: {
    tenant: 'acme',
    knativeerrordest: 'http://processor.sluice.svc.cluster.local/',
    knativeerrorcode: 422,
    knativeerrordata: Buffer.from('{"detail":"insufficient funds"}').toString('base64'),
  },
};

describe('dead-letter-sink handler', () => {
  it('accepts any type without the idempotency guard', () => {
    expectTypeOf(handle).toEqualTypeOf<Handler>();
    expect(acceptsAny).toBe(true);
    expect(idempotent).toBe(false);
  });

  it('stores the event apart from its knativeerror* extensions, once however often it is delivered', async () => {
    const store = new MemoryDocumentStore();
    expect(await handle(dead, context(store))).toBeUndefined();
    await handle(dead, context(store));
    const rows = await store.collection<DeadLetter>(COLLECTION).find({});
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      _id: deadLetterId('/orders', 'e-1', 'http://processor.sluice.svc.cluster.local/'),
      eventId: 'e-1',
      type: 'dev.sluice.order.placed.v1',
      extensions: { tenant: 'acme' },
      dest: 'http://processor.sluice.svc.cluster.local/',
      code: 422,
      reason: '{"detail":"insufficient funds"}',
      status: 'dead-lettered',
      count: 1,
      data: JSON.stringify(dead.data),
      dataEncoding: 'utf8',
    });
  });

  it('counts a new failure once the record was replayed', async () => {
    const store = new MemoryDocumentStore();
    const records = store.collection<DeadLetter>(COLLECTION);
    await handle(dead, context(store));
    await records.updateOne({ eventId: 'e-1' }, { $set: { status: 'replayed' } });
    await handle(dead, context(store));
    await handle(dead, context(store));
    expect(await records.find({})).toMatchObject([{ status: 'dead-lettered', count: 2 }]);
  });

  it('restores the content type of data a function kept as opaque bytes', async () => {
    const store = new MemoryDocumentStore();
    const opaque: CloudEvent = {
      ...dead,
      datacontenttype: 'application/octet-stream',
      data: Buffer.from('{not json'),
      extensions: { ...dead.extensions, sluicedatacontenttype: 'application/json' },
    };
    await handle(opaque, context(store));
    const [row] = await store.collection<DeadLetter>(COLLECTION).find({});
    expect(row).toMatchObject({
      datacontenttype: 'application/json',
      dataEncoding: 'base64',
      extensions: { tenant: 'acme' },
    });
    expect(Buffer.from(row?.data as string, 'base64').toString()).toBe('{not json');
  });

  it('refuses to become ready on a store held in its own process memory', async () => {
    const store = new MemoryDocumentStore();
    await expect(init?.({ log: silent, store, functionName: 'dead-letter-sink' })).rejects.toThrow(
      /MONGODB_URL/,
    );
  });

  it('keeps one record per failing destination', async () => {
    const store = new MemoryDocumentStore();
    await handle(dead, context(store));
    await handle(
      { ...dead, extensions: { ...dead.extensions, knativeerrordest: 'http://journal/' } },
      context(store),
    );
    expect(await store.collection(COLLECTION).countDocuments({})).toBe(2);
  });

  it('decodes knativeerrordata when base64, else keeps the text', () => {
    expect(decodeErrorData(Buffer.from('store down').toString('base64'))).toBe('store down');
    expect(decodeErrorData('failed to publish: nacked')).toBe('failed to publish: nacked');
    expect(decodeErrorData(undefined)).toBe('');
  });
});
