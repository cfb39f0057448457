import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../adapters/memory/memory-document-store.ts';
import { StoreUnavailableError } from '../errors.ts';
import type { BulkWriteOperation, BulkWriteResult, Collection, Doc } from '../ports/document-store.ts';
import { countStoreCalls, type StoreOperation } from '../store-calls.ts';
import { InsertBatch, MAX_BATCH_BYTES, MAX_BATCH_INSERTS } from './insert-batch.ts';

/** A memory store whose calls are counted as round trips, as the runtime counts a network store's. */
function counted() {
  const calls: StoreOperation[] = [];
  const store = countStoreCalls(new MemoryDocumentStore(), (_c, op) => calls.push(op));
  const collection = store.collection('records');
  return { calls, collection, batch: new InsertBatch(collection, () => 100) };
}

describe('InsertBatch', () => {
  it('sends the inserts of one turn as one bulkWrite, each with its own answer', async () => {
    const { calls, collection, batch } = counted();
    await collection.insertOne({ _id: 'taken' });
    calls.length = 0;
    const results = await Promise.all(
      ['a', 'taken', 'b', 'a', 'c'].map((id) => batch.insert({ _id: id, n: 1 })),
    );
    expect(results).toEqual([true, false, true, false, true]);
    expect(calls).toEqual(['bulkWrite']);
    expect((await collection.find({})).map((d) => d._id).sort()).toEqual(['a', 'b', 'c', 'taken']);
  });

  it('sends an insert alone as insertOne, and a later turn as a batch of its own', async () => {
    const { calls, batch } = counted();
    expect(await batch.insert({ _id: 'x' })).toBe(true);
    expect(await batch.insert({ _id: 'x' })).toBe(false);
    await Promise.all([batch.insert({ _id: 'y' }), batch.insert({ _id: 'z' })]);
    expect(calls).toEqual(['insertOne', 'insertOne', 'bulkWrite']);
  });

  it(`flushes at ${MAX_BATCH_INSERTS} inserts without waiting for the turn to end`, async () => {
    const { calls, batch } = counted();
    const n = MAX_BATCH_INSERTS * 2 + 3;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => batch.insert({ _id: `d${i}` })));
    expect(results.every((r) => r)).toBe(true);
    expect(calls).toEqual(['bulkWrite', 'bulkWrite', 'bulkWrite']);
  });

  it('keeps a batch under its byte budget', async () => {
    const calls: StoreOperation[] = [];
    const store = countStoreCalls(new MemoryDocumentStore(), (_c, op) => calls.push(op));
    const batch = new InsertBatch(store.collection('big'), () => MAX_BATCH_BYTES / 2);
    await Promise.all(Array.from({ length: 5 }, (_, i) => batch.insert({ _id: `b${i}` })));
    // Two per batch fit exactly; the fifth goes alone.
    expect(calls).toEqual(['bulkWrite', 'bulkWrite', 'insertOne']);
  });

  it('reads the duplicates of a batch by index, in whatever order the store lists them', async () => {
    const collection: Pick<Collection<Doc>, 'bulkWrite' | 'insertOne'> = {
      bulkWrite: async () => ({ duplicateKeyIndexes: [3, 0] }),
      insertOne: async () => {},
    };
    const batch = new InsertBatch(collection, () => 100);
    const results = await Promise.all([0, 1, 2, 3].map((i) => batch.insert({ _id: `o${i}` })));
    expect(results).toEqual([false, true, true, false]);
  });

  /** A collection whose bulkWrite fails with `err`; single inserts go to a real memory store. */
  function failingBatches(err: Error) {
    const inner = new MemoryDocumentStore().collection('f');
    const singles: string[] = [];
    const collection: Pick<Collection<Doc>, 'bulkWrite' | 'insertOne'> = {
      bulkWrite: (_ops: readonly BulkWriteOperation<Doc>[]): Promise<BulkWriteResult> => Promise.reject(err),
      insertOne: (doc: Doc) => {
        singles.push(String(doc._id));
        return inner.insertOne(doc);
      },
    };
    return { singles, inner, batch: new InsertBatch(collection, () => 100) };
  }

  it('fails every insert of a batch with the store unavailable, without asking again', async () => {
    const down = new StoreUnavailableError('store down', { retryAfterSeconds: 1 });
    const { singles, batch } = failingBatches(down);
    const results = await Promise.allSettled([batch.insert({ _id: 'p' }), batch.insert({ _id: 'q' })]);
    expect(results.map((r) => (r.status === 'rejected' ? r.reason : r.value))).toEqual([down, down]);
    expect(singles).toEqual([]);
  });

  it('tries each insert alone when the batch as a whole was refused, so one record cannot fail the others', async () => {
    const { singles, inner, batch } = failingBatches(new TypeError('a document the store refused'));
    await inner.insertOne({ _id: 'dup' });
    const results = await Promise.all([batch.insert({ _id: 'ok' }), batch.insert({ _id: 'dup' })]);
    expect(results).toEqual([true, false]);
    expect(singles).toEqual(['ok', 'dup']);
  });
});
