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

  it('tells apart a string id from the JSON of another id, and a string that starts with NUL', async () => {
    const c = new MemoryDocumentStore().collection('c');
    const ids = [1, '1', '\u00001', '\u0000"\u00001"', { a: 1 }, '{"a":1}', '\u0000{"a":1}'];
    for (const [i, _id] of ids.entries()) await c.insertOne({ _id, i });
    for (const [i, _id] of ids.entries()) expect((await c.findOne({ _id }))?.i).toBe(i);
    expect(await c.countDocuments({})).toBe(ids.length);
  });

  it('stores Dates that no caller can change: not the one given, not one read back', async () => {
    const c = new MemoryDocumentStore().collection('c');
    const at = new Date('2026-01-01T00:00:00Z');
    await c.insertOne({ _id: 'a', at });
    await c.insertOne({ _id: 'b', at: new Date(at) }); // the same instant, stored once
    at.setTime(0);
    const read = await c.findOne({ _id: 'a' });
    if (!(read?.at instanceof Date)) throw new Error('no Date read back');
    read.at.setTime(1);
    expect(await c.findOne({ _id: 'a' })).toEqual({ _id: 'a', at: new Date('2026-01-01T00:00:00Z') });
    expect(await c.findOne({ _id: 'b' })).toEqual({ _id: 'b', at: new Date('2026-01-01T00:00:00Z') });
    expect(await c.countDocuments({ at: new Date('2026-01-01T00:00:00Z') })).toBe(2);
  });

  it('answers ping and close at once (nothing to reach)', async () => {
    const store = new MemoryDocumentStore();
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.close()).resolves.toBeUndefined();
    expect(store.kind).toBe('memory');
  });
});
