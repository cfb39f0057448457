import { describe, expect, it } from 'vitest';
import { describeDocumentStoreContract } from '../../ports/document-store.contract.ts';
import { MemoryDocumentStore } from './memory-document-store.ts';

describeDocumentStoreContract('memory', async () => ({
  store: new MemoryDocumentStore(),
  close: async () => {},
}));

describe('MemoryDocumentStore', () => {
  it('keeps collections apart and by name', async () => {
    const store = new MemoryDocumentStore();
    await store.collection('a').insertOne({ _id: 1 });
    expect(await store.collection('a').countDocuments({})).toBe(1);
    expect(await store.collection('b').countDocuments({})).toBe(0);
  });

  it('tells numeric and string ids apart', async () => {
    const c = new MemoryDocumentStore().collection('c');
    await c.insertOne({ _id: 1, v: 'number' });
    await c.insertOne({ _id: '1', v: 'string' });
    expect((await c.findOne({ _id: 1 }))?.v).toBe('number');
    expect((await c.findOne({ _id: '1' }))?.v).toBe('string');
  });

  it('answers ping and close at once (nothing to reach)', async () => {
    const store = new MemoryDocumentStore();
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.close()).resolves.toBeUndefined();
    expect(store.kind).toBe('memory');
  });
});
