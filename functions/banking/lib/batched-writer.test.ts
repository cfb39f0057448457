import { describe, expect, it } from 'vitest';
import type { BulkWriteOperation, Collection, Doc } from '../../runtime/src/index.ts';
import { MemoryDocumentStore, StoreUnavailableError } from '../../runtime/src/index.ts';
import { BatchedWriter } from './batched-writer.ts';

/** A memory collection whose bulkWrite calls are recorded and, when `gate` is set, held until it opens. */
function recorded(collection: Collection) {
  const batches: number[] = [];
  let gate: Promise<void> | undefined;
  let failWith: Error | undefined;
  const wrapped: Pick<Collection, 'bulkWrite'> = {
    bulkWrite: async (ops: readonly BulkWriteOperation[], options) => {
      batches.push(ops.length);
      if (gate !== undefined) await gate;
      if (failWith !== undefined) throw failWith;
      return collection.bulkWrite(ops, options);
    },
  };
  return {
    wrapped,
    batches,
    hold(): () => void {
      let open = (): void => {};
      gate = new Promise((r) => {
        open = r;
      });
      return () => {
        gate = undefined;
        open();
      };
    },
    failNext(err: Error): void {
      failWith = err;
    },
  };
}

describe('BatchedWriter', () => {
  describe('write', () => {
    it('sends the writes asked for in one turn as one batch and answers each: written or duplicate', async () => {
      const c = new MemoryDocumentStore().collection('docs');
      await c.insertOne({ _id: 'b' });
      const r = recorded(c);
      const writer = new BatchedWriter<Doc>(r.wrapped);
      const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => writer.insert({ _id: id })));
      expect(outcomes).toEqual(['written', 'duplicate', 'written']);
      expect(r.batches).toEqual([3]);
      expect(await c.countDocuments({})).toBe(3);
    });

    it('gathers the writes asked for while a batch is in flight into the next one', async () => {
      const c = new MemoryDocumentStore().collection('docs');
      const r = recorded(c);
      const writer = new BatchedWriter<Doc>(r.wrapped, 1);
      const open = r.hold();
      const first = writer.insert({ _id: 'a' });
      await new Promise((resolve) => setImmediate(resolve)); // the first batch is on its way
      const later = ['b', 'c', 'd'].map((id) => writer.insert({ _id: id }));
      open();
      expect(await Promise.all([first, ...later])).toEqual(['written', 'written', 'written', 'written']);
      expect(r.batches).toEqual([1, 3]);
    });

    /** Writes in three turns (a; b; c, d, e) while the store holds the first batch: its batches before and after. */
    const inThreeTurns = async (limit?: number): Promise<{ held: number[]; after: number[] }> => {
      const r = recorded(new MemoryDocumentStore().collection('docs'));
      const writer = new BatchedWriter<Doc>(r.wrapped, limit);
      const open = r.hold();
      const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
      const first = writer.insert({ _id: 'a' });
      await turn();
      const second = writer.insert({ _id: 'b' });
      await turn();
      const waiting = ['c', 'd', 'e'].map((id) => writer.insert({ _id: id }));
      await turn();
      const held = [...r.batches];
      open();
      expect(await Promise.all([first, second, ...waiting])).toEqual(Array(5).fill('written'));
      return { held, after: r.batches };
    };

    it('keeps one batch on its way by default: the writes of the next turns wait for it and go together', async () => {
      expect(await inThreeTurns()).toEqual({ held: [1], after: [1, 4] });
    });

    it('keeps at most its limit of batches on their way; the writes asked for meanwhile wait and go together', async () => {
      expect(await inThreeTurns(2)).toEqual({ held: [1, 1], after: [1, 1, 3] });
    });

    it('fails only the bad write of a batch, not its neighbours', async () => {
      const c = new MemoryDocumentStore().collection('docs');
      const writer = new BatchedWriter<Doc>(c);
      const [good, bad, other] = await Promise.allSettled([
        writer.insert({ _id: 'a' }),
        writer.insert({ _id: 'x', data: { $where: '1' } }),
        writer.insert({ _id: 'b' }),
      ]);
      expect(good).toEqual({ status: 'fulfilled', value: 'written' });
      expect(bad?.status).toBe('rejected');
      expect(other).toEqual({ status: 'fulfilled', value: 'written' });
      expect(await c.countDocuments({})).toBe(2);
    });

    it('fails every write of the batch when the store is unavailable (each event is redelivered)', async () => {
      const r = recorded(new MemoryDocumentStore().collection('docs'));
      r.failNext(new StoreUnavailableError('down', { retryAfterSeconds: 1 }));
      const writer = new BatchedWriter<Doc>(r.wrapped);
      const results = await Promise.allSettled([writer.insert({ _id: 'a' }), writer.insert({ _id: 'b' })]);
      expect(results.map((s) => s.status)).toEqual(['rejected', 'rejected']);
      expect(r.batches).toEqual([2]);
    });
  });
});
