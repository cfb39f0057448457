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
import { acceptsAny, handle, idempotent } from './handler.ts';

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

  it('stores the event apart from its knativeerror* extensions, and counts repeats', async () => {
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
      count: 2,
      data: JSON.stringify(dead.data),
      dataEncoding: 'utf8',
    });
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
