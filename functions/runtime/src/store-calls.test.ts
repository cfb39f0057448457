import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from './adapters/memory/memory-document-store.ts';
import { countStoreCalls } from './store-calls.ts';

describe('countStoreCalls', () => {
  it('tells each call with its collection and operation, and passes results through', async () => {
    const calls: string[] = [];
    const store = countStoreCalls(new MemoryDocumentStore(), (c, op) => calls.push(`${c}.${op}`));
    const items = store.collection<{ _id: string; n: number }>('items', { timeoutMs: 100 });
    await items.insertOne({ _id: 'a', n: 1 });
    expect(await items.findOne({ _id: 'a' })).toEqual({ _id: 'a', n: 1 });
    expect((await items.updateOne({ _id: 'a' }, { $set: { n: 2 } })).modifiedCount).toBe(1);
    expect(await items.countDocuments({})).toBe(1);
    await store.collection('other').deleteMany({});
    expect(calls).toEqual([
      'items.insertOne',
      'items.findOne',
      'items.updateOne',
      'items.countDocuments',
      'other.deleteMany',
    ]);
    expect(store.kind).toBe('memory');
  });
});
