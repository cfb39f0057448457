/**
 * The behaviour every DocumentStore adapter must show, written once and run against each: the memory
 * store in unit tests, the MongoDB adapter on FerretDB (or MONGODB_URL) in integration tests. Handlers
 * rely on exactly these semantics, so the embedded default and production cannot drift apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateKeyError } from '../errors.ts';
import type { Collection, Doc, DocumentStore } from './document-store.ts';

export interface ContractSubject {
  readonly store: DocumentStore;
  /** Removes what the suite wrote and closes the store. */
  close(): Promise<void>;
}

interface Account extends Doc {
  _id: string;
  owner?: string;
  balance: number;
  history?: number[];
}

/** What a backend really guarantees; MongoDB and the memory store do all of it. */
export interface StoreCapabilities {
  /**
   * Concurrent updates of one document are atomic (a `$gte` guard cannot be raced). FerretDB 1.24
   * reads, modifies and writes back without a lock, so it loses concurrent updates; the suite then
   * checks the guard sequentially. See docs/ferretdb.md.
   * @default true
   */
  readonly atomicConcurrentUpdates?: boolean;
  /** `$push` honours `$slice` (FerretDB 1.24 silently ignores it). @default true */
  readonly pushSlice?: boolean;
}

export function describeDocumentStoreContract(
  name: string,
  open: () => Promise<ContractSubject>,
  capabilities: StoreCapabilities = {},
): void {
  const { atomicConcurrentUpdates = true, pushSlice = true } = capabilities;
  describe(`DocumentStore contract: ${name}`, () => {
    let subject: ContractSubject;
    let n = 0;
    // A fresh collection per test: no test sees another's documents.
    const fresh = <T extends Doc = Account>(): Collection<T> =>
      subject.store.collection<T>(`contract_${process.pid}_${++n}`);

    beforeAll(async () => {
      subject = await open();
      await subject.store.ping();
    });
    afterAll(async () => {
      await subject?.close();
    });

    describe('insertOne and findOne', () => {
      it('stores a copy and reads it back, dates included', async () => {
        const c = fresh<Doc>();
        const at = new Date('2026-03-04T05:06:07.089Z');
        const doc = { _id: 'a', balance: 10, at, tags: ['x'] };
        await c.insertOne(doc);
        doc.tags.push('mutated after insert');
        const found = await c.findOne({ _id: 'a' });
        expect(found).toEqual({ _id: 'a', balance: 10, at, tags: ['x'] });
        expect(found?.at).toBeInstanceOf(Date);
      });

      it('returns null when nothing matches', async () => {
        expect(await fresh().findOne({ _id: 'missing' })).toBeNull();
      });

      it('assigns an _id when the document has none', async () => {
        const c = fresh<Doc>();
        await c.insertOne({ owner: 'ada', balance: 1 });
        const found = await c.findOne({ owner: 'ada' });
        expect(found?._id).toBeDefined();
      });

      it('throws DuplicateKeyError for an existing _id', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', balance: 1 });
        await expect(c.insertOne({ _id: 'a', balance: 2 })).rejects.toBeInstanceOf(DuplicateKeyError);
        expect((await c.findOne({ _id: 'a' }))?.balance).toBe(1);
      });

      it('lets exactly one of many concurrent inserts of one _id win', async () => {
        const c = fresh();
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => c.insertOne({ _id: 'race', balance: i })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DuplicateKeyError);
        }
      });

      it('throws DuplicateKeyError for a unique index and allows duplicates elsewhere', async () => {
        const c = fresh();
        await c.createIndex({ keys: { owner: 1 }, unique: true, name: 'owner_unique' });
        await c.createIndex({ keys: { balance: -1 }, name: 'balance' });
        await c.insertOne({ _id: 'a', owner: 'ada', balance: 1 });
        await c.insertOne({ _id: 'b', owner: 'bob', balance: 1 });
        await expect(c.insertOne({ _id: 'c', owner: 'ada', balance: 2 })).rejects.toBeInstanceOf(
          DuplicateKeyError,
        );
        expect(await c.countDocuments({})).toBe(2);
      });

      it('frees a unique key when its document is deleted or moves to another key', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', owner: 'ada', balance: 1 });
        await c.createIndex({ keys: { owner: 1, balance: 1 }, unique: true, name: 'owner_balance' });
        await expect(c.insertOne({ _id: 'b', owner: 'ada', balance: 1 })).rejects.toBeInstanceOf(
          DuplicateKeyError,
        );
        await c.updateOne({ _id: 'a' }, { $set: { balance: 2 } });
        await c.insertOne({ _id: 'b', owner: 'ada', balance: 1 });
        await expect(c.insertOne({ _id: 'c', owner: 'ada', balance: 2 })).rejects.toBeInstanceOf(
          DuplicateKeyError,
        );
        await c.deleteOne({ _id: 'a' });
        await c.insertOne({ _id: 'c', owner: 'ada', balance: 2 });
        expect((await c.find({}, { sort: { _id: 1 } })).map((d) => d._id)).toEqual(['b', 'c']);
      });
    });

    describe('find and countDocuments', () => {
      it('filters with operators, sorts and limits', async () => {
        const c = fresh();
        for (const [id, balance] of [
          ['a', 5],
          ['b', 50],
          ['c', 20],
          ['d', 35],
        ] as const) {
          await c.insertOne({ _id: id, balance });
        }
        const rich = await c.find({ balance: { $gte: 20 } }, { sort: { balance: -1 }, limit: 2 });
        expect(rich.map((d) => d._id)).toEqual(['b', 'd']);
        const some = await c.find({ _id: { $in: ['a', 'c', 'zz'] } }, { sort: { _id: 1 } });
        expect(some.map((d) => d._id)).toEqual(['a', 'c']);
        expect(await c.countDocuments({ balance: { $lt: 30 } })).toBe(2);
        expect(await c.countDocuments({})).toBe(4);
      });

      it('finds by {_id: {$eq}} as by the bare value, and only that document', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', balance: 1 });
        await c.insertOne({ _id: 'b', balance: 2 });
        expect((await c.findOne({ _id: { $eq: 'b' } }))?.balance).toBe(2);
        expect(await c.findOne({ _id: { $eq: 'b' }, balance: 1 })).toBeNull();
        expect(await c.findOne({ _id: { $eq: 'zz' } })).toBeNull();
        expect(await c.findOne({ _id: { $eq: '$gt' } })).toBeNull();
        expect(await c.updateOne({ _id: { $eq: 'a' } }, { $set: { balance: 5 } })).toMatchObject({
          matchedCount: 1,
        });
        expect(await c.deleteOne({ _id: { $eq: 'b' } })).toBe(1);
        expect((await c.find({}, { sort: { _id: 1 } })).map((d) => [d._id, d.balance])).toEqual([['a', 5]]);
      });

      it('reads _id ranges in _id order, both ways, with limits, as writes come and go', async () => {
        // The keyset reads the functions page and fold with: a vehicle's fixes, a term's postings.
        const c = fresh();
        for (const id of ['v2|003', 'v1|002', 'v2|001', 'v1|001', 'v10|001', 'v1|003', 'w'])
          await c.insertOne({ _id: id, balance: 0 });
        const ids = (docs: readonly { _id: unknown }[]) => docs.map((d) => d._id);
        const v1 = { $gte: 'v1|', $lt: 'v1|~' };
        expect(ids(await c.find({ _id: v1 }, { sort: { _id: 1 } }))).toEqual(['v1|001', 'v1|002', 'v1|003']);
        expect(ids(await c.find({ _id: v1 }, { sort: { _id: -1 }, limit: 2 }))).toEqual(['v1|003', 'v1|002']);
        expect(ids(await c.find({ _id: { $gt: 'v1|001', $lte: 'v1|003' } }, { sort: { _id: 1 } }))).toEqual([
          'v1|002',
          'v1|003',
        ]);
        expect(ids(await c.find({ _id: { $gt: 'v1|003' } }, { sort: { _id: 1 }, limit: 2 }))).toEqual([
          'v2|001',
          'v2|003',
        ]);
        expect(ids(await c.find({}, { sort: { _id: -1 }, limit: 1 }))).toEqual(['w']);
        await c.deleteOne({ _id: 'v1|002' });
        await c.updateOne({ _id: 'v1|000' }, { $set: { late: true } }, { upsert: true });
        await c.insertOne({ _id: 'v1|004', balance: 0 });
        expect(ids(await c.find({ _id: v1 }, { sort: { _id: 1 } }))).toEqual([
          'v1|000',
          'v1|001',
          'v1|003',
          'v1|004',
        ]);
        expect(ids(await c.find({ _id: { $lt: 'v1|' } }, { sort: { _id: 1 } }))).toEqual(['v10|001']);
      });
    });

    describe('updateOne', () => {
      it('reports matched and modified counts', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', balance: 1 });
        const hit = await c.updateOne({ _id: 'a' }, { $inc: { balance: 2 } });
        expect(hit).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
        const miss = await c.updateOne({ _id: 'nope' }, { $inc: { balance: 2 } });
        expect(miss).toMatchObject({ matchedCount: 0, modifiedCount: 0 });
        expect((await c.findOne({ _id: 'a' }))?.balance).toBe(3);
      });

      it('upserts from the equality fields of the filter, $set and $setOnInsert', async () => {
        const c = fresh();
        const created = await c.updateOne(
          { _id: 'new', owner: 'ada' },
          { $set: { balance: 7 }, $setOnInsert: { history: [1] } },
          { upsert: true },
        );
        expect(created.matchedCount).toBe(0);
        expect(created.upsertedId).toBe('new');
        expect(await c.findOne({ _id: 'new' })).toEqual({
          _id: 'new',
          owner: 'ada',
          balance: 7,
          history: [1],
        });

        const again = await c.updateOne(
          { _id: 'new', owner: 'ada' },
          { $set: { balance: 8 }, $setOnInsert: { history: [99] } },
          { upsert: true },
        );
        expect(again.matchedCount).toBe(1);
        expect(await c.findOne({ _id: 'new' })).toEqual({
          _id: 'new',
          owner: 'ada',
          balance: 8,
          history: [1],
        });
      });
    });

    describe('findOneAndUpdate', () => {
      it('returns the document after the update, or null when nothing matched', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', balance: 1 });
        expect(await c.findOneAndUpdate({ _id: 'a' }, { $inc: { balance: 4 } })).toEqual({
          _id: 'a',
          balance: 5,
        });
        expect(await c.findOneAndUpdate({ _id: 'b' }, { $inc: { balance: 4 } })).toBeNull();
      });

      it('creates the document on upsert', async () => {
        const c = fresh();
        expect(await c.findOneAndUpdate({ _id: 'ada' }, { $inc: { balance: 1 } }, { upsert: true })).toEqual({
          _id: 'ada',
          balance: 1,
        });
        expect(await c.findOneAndUpdate({ _id: 'ada' }, { $inc: { balance: 1 } }, { upsert: true })).toEqual({
          _id: 'ada',
          balance: 2,
        });
      });

      it('applies a $gte guard: a debit that would overdraw matches nothing', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'acct', balance: 15 });
        const guard = { _id: 'acct', balance: { $gte: 10 } };
        expect(await c.findOneAndUpdate(guard, { $inc: { balance: -10 } })).toEqual({
          _id: 'acct',
          balance: 5,
        });
        expect(await c.findOneAndUpdate(guard, { $inc: { balance: -10 } })).toBeNull();
        expect((await c.findOne({ _id: 'acct' }))?.balance).toBe(5);
      });

      if (atomicConcurrentUpdates) {
        it('applies a $gte guard atomically: concurrent debits never overdraw', async () => {
          const c = fresh();
          await c.insertOne({ _id: 'acct', balance: 50 });
          const debits = await Promise.all(
            Array.from({ length: 8 }, () =>
              c.findOneAndUpdate({ _id: 'acct', balance: { $gte: 10 } }, { $inc: { balance: -10 } }),
            ),
          );
          expect(debits.filter((d) => d !== null)).toHaveLength(5);
          expect((await c.findOne({ _id: 'acct' }))?.balance).toBe(0);
        });
      }
    });

    describe('array updates', () => {
      it('$push with $each appends every item, and a plain $push one', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', balance: 0, history: [1, 2] });
        await c.updateOne({ _id: 'a' }, { $push: { history: { $each: [3, 4] } } });
        await c.updateOne({ _id: 'a' }, { $push: { history: 5 } });
        expect((await c.findOne({ _id: 'a' }))?.history).toEqual([1, 2, 3, 4, 5]);
      });

      if (pushSlice) {
        it('$push with $each and $slice keeps the newest entries', async () => {
          const c = fresh();
          await c.insertOne({ _id: 'a', balance: 0, history: [1, 2] });
          await c.updateOne({ _id: 'a' }, { $push: { history: { $each: [3, 4, 5], $slice: -3 } } });
          expect((await c.findOne({ _id: 'a' }))?.history).toEqual([3, 4, 5]);
        });
      }

      it('$pull removes matching entries', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', balance: 0, history: [1, 2, 3, 2] });
        await c.updateOne({ _id: 'a' }, { $pull: { history: 2 } });
        expect((await c.findOne({ _id: 'a' }))?.history).toEqual([1, 3]);
      });

      it('matches array membership in filters ($ne on an array field)', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'a', balance: 0, history: [1, 2] });
        expect(
          await c.findOneAndUpdate({ _id: 'a', history: { $ne: 2 } }, { $push: { history: 2 } }),
        ).toBeNull();
        expect(
          await c.findOneAndUpdate({ _id: 'a', history: { $ne: 3 } }, { $push: { history: 3 } }),
        ).not.toBeNull();
      });
    });

    describe('deleteOne and deleteMany', () => {
      it('returns how many documents went', async () => {
        const c = fresh();
        for (const id of ['a', 'b', 'c']) await c.insertOne({ _id: id, balance: id === 'a' ? 1 : 2 });
        expect(await c.deleteOne({ _id: 'a' })).toBe(1);
        expect(await c.deleteOne({ _id: 'a' })).toBe(0);
        expect(await c.deleteMany({ balance: 2 })).toBe(2);
        expect(await c.countDocuments({})).toBe(0);
      });

      it('deletes expired documents with a date filter (the clean-up TTL indexes would do)', async () => {
        const c = fresh<Doc>();
        await c.insertOne({ _id: 'old', expiresAt: new Date('2020-01-01T00:00:00Z') });
        await c.insertOne({ _id: 'new', expiresAt: new Date('2999-01-01T00:00:00Z') });
        expect(await c.deleteMany({ expiresAt: { $lte: new Date('2026-01-01T00:00:00Z') } })).toBe(1);
        expect((await c.find({})).map((d) => d._id)).toEqual(['new']);
      });
    });

    describe('bulkWrite', () => {
      it('stops an ordered batch at its first duplicate key and says which one', async () => {
        const c = fresh();
        await c.insertOne({ _id: 'b', balance: 0 });
        const r = await c.bulkWrite([
          { insertOne: { document: { _id: 'a', balance: 1 } } },
          { insertOne: { document: { _id: 'b', balance: 2 } } },
          { insertOne: { document: { _id: 'c', balance: 3 } } },
        ]);
        expect(r).toEqual({ duplicateKeyIndexes: [1] });
        expect((await c.find({}, { sort: { _id: 1 } })).map((d) => [d._id, d.balance])).toEqual([
          ['a', 1],
          ['b', 0],
        ]);
      });

      it('goes on past duplicate keys when unordered, a unique index included', async () => {
        const c = fresh();
        await c.createIndex({ keys: { owner: 1 }, unique: true, name: 'owner_unique' });
        await c.insertOne({ _id: 'a', owner: 'ada', balance: 0 });
        const r = await c.bulkWrite(
          [
            { insertOne: { document: { _id: 'a', owner: 'amy', balance: 1 } } },
            { insertOne: { document: { _id: 'b', owner: 'bob', balance: 2 } } },
            { insertOne: { document: { _id: 'c', owner: 'ada', balance: 3 } } },
            { insertOne: { document: { _id: 'd', owner: 'dan', balance: 4 } } },
          ],
          { ordered: false },
        );
        expect(r).toEqual({ duplicateKeyIndexes: [0, 2] });
        expect((await c.find({}, { sort: { _id: 1 } })).map((d) => d._id)).toEqual(['a', 'b', 'd']);
      });

      it('applies guarded upserts: newer versions land, an older one collides on _id', async () => {
        const c = fresh<Doc>();
        await c.insertOne({ _id: 'x', version: 5 });
        const newer = (id: string, version: number) => ({
          updateOne: {
            filter: { _id: id, version: { $lt: version } },
            update: { $set: { version } },
            upsert: true,
          },
        });
        const r = await c.bulkWrite([newer('x', 3), newer('y', 1), newer('x', 7)], { ordered: false });
        expect(r).toEqual({ duplicateKeyIndexes: [0] });
        expect(await c.find({}, { sort: { _id: 1 } })).toEqual([
          { _id: 'x', version: 7 },
          { _id: 'y', version: 1 },
        ]);
      });

      it('answers an empty batch with nothing done', async () => {
        expect(await fresh().bulkWrite([])).toEqual({ duplicateKeyIndexes: [] });
      });

      it('rejects the batch when a document has an unsafe key', async () => {
        const c = fresh<Doc>();
        await expect(
          c.bulkWrite([
            { insertOne: { document: { _id: 'ok' } } },
            { insertOne: { document: { _id: 'x', data: { $where: '1' } } } },
          ]),
        ).rejects.toThrow(/unsafe key/);
      });
    });

    describe('unsafe keys from event data', () => {
      it.each([
        ['a $ operator key', { _id: 'x', data: { $where: 'sleep(1000)' } }],
        ['a dotted key', { _id: 'x', data: { 'a.b': 1 } }],
        ['an operator deep in an array', { _id: 'x', list: [{ ok: 1 }, { $gt: '' }] }],
      ])('rejects insertOne of a document with %s', async (_what, doc) => {
        const c = fresh<Doc>();
        await expect(c.insertOne(doc)).rejects.toThrow(/unsafe key/);
        expect(await c.countDocuments({})).toBe(0);
      });

      it('rejects $set values and $push items with operator keys, and updates without operators', async () => {
        const c = fresh<Doc>();
        await c.insertOne({ _id: 'x', list: [] });
        await expect(c.updateOne({ _id: 'x' }, { $set: { profile: { $ne: null } } })).rejects.toThrow(
          /unsafe key/,
        );
        await expect(
          c.updateOne({ _id: 'x' }, { $push: { list: { $each: [{ 'a.b': 1 }] } } }),
        ).rejects.toThrow(/unsafe key/);
        await expect(c.findOneAndUpdate({ _id: 'x' }, { $set: { $where: { a: 1 } } })).rejects.toThrow(
          /unsafe key/,
        );
        await expect(c.updateOne({ _id: 'x' }, { list: { a: 1 } } as never)).rejects.toThrow(/operators/);
        expect(await c.findOne({ _id: 'x' })).toEqual({ _id: 'x', list: [] });
      });
    });
  });
}
