/**
 * Pins what docs/ferretdb.md says FerretDB 1.24 lacks, against the running test server, so the page
 * stays true: if a FerretDB upgrade adds a feature, its test here fails and the page (and the code
 * that works around the gap) can be revisited. With MONGODB_URL pointing at a real MongoDB there is
 * nothing to pin, and the suite checks only that the server answers.
 */
import { type Db, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const ferretdb = inject('mongodbManaged');

describe('test MongoDB server', () => {
  let client: MongoClient;
  let db: Db;
  beforeAll(async () => {
    client = new MongoClient(inject('mongodbUrl'), { serverSelectionTimeoutMS: 5000 });
    db = client.db(`gaps_${process.pid}_${Date.now()}`);
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  it('answers ping', async () => {
    expect((await db.command({ ping: 1 })).ok).toBe(1);
  });

  if (ferretdb) {
    describe('FerretDB 1.24 gaps (docs/ferretdb.md)', () => {
      it('rejects TTL indexes (expireAfterSeconds)', async () => {
        await expect(db.collection('ttl').createIndex({ at: 1 }, { expireAfterSeconds: 60 })).rejects.toThrow(
          /expireAfterSeconds.*not implemented/,
        );
      });

      it('rejects multi-document transactions', async () => {
        const session = client.startSession();
        try {
          await expect(
            session.withTransaction(async () => {
              await db.collection('tx').insertOne({ _id: 1 } as never, { session });
            }),
          ).rejects.toThrow();
        } finally {
          await session.endSession();
        }
      });

      it('rejects change streams', async () => {
        const stream = db.collection('cs').watch();
        try {
          await expect(stream.tryNext()).rejects.toThrow(/\$changeStream.*not implemented/);
        } finally {
          await stream.close();
        }
      });

      it('rejects $lookup, partial indexes, arrayFilters and pipeline updates', async () => {
        const c = db.collection<{ _id: string; items?: { k: number; q: number }[] }>('misc');
        await c.insertOne({ _id: 'a', items: [{ k: 1, q: 1 }] });
        await expect(
          c
            .aggregate([{ $lookup: { from: 'misc', localField: '_id', foreignField: '_id', as: 'x' } }])
            .toArray(),
        ).rejects.toThrow(/\$lookup.*not implemented/);
        await expect(
          c.createIndex({ k: 1 }, { unique: true, partialFilterExpression: { k: { $exists: true } } }),
        ).rejects.toThrow(/partialFilterExpression.*not implemented/);
        await expect(
          c.updateOne({ _id: 'a' }, { $set: { 'items.$[e].q': 5 } }, { arrayFilters: [{ 'e.k': 1 }] }),
        ).rejects.toThrow(/arrayFilters/);
        await expect(c.updateOne({ _id: 'a' }, [{ $set: { z: 1 } }])).rejects.toThrow();
      });

      it('ignores $slice in $push (silently: the array keeps growing)', async () => {
        const c = db.collection<{ _id: string; list: number[] }>('slice');
        await c.insertOne({ _id: 'a', list: [1, 2] });
        await c.updateOne({ _id: 'a' }, { $push: { list: { $each: [3, 4], $slice: -2 } } });
        expect((await c.findOne({ _id: 'a' }))?.list).toEqual([1, 2, 3, 4]);
      });

      it('drops an empty array given in $setOnInsert', async () => {
        const c = db.collection<{ _id: string; a?: number; list?: number[] }>('soi');
        await c.updateOne({ _id: 'a' }, { $set: { a: 1 }, $setOnInsert: { list: [] } }, { upsert: true });
        expect(await c.findOne({ _id: 'a' })).toEqual({ _id: 'a', a: 1 });
      });

      it('refuses keys that start with $ or contain . (a second line behind assertSafeDocument)', async () => {
        const c = db.collection('keys');
        await expect(c.insertOne({ _id: 'a', $where: 1 } as never)).rejects.toThrow(
          /must not start with '\$'/,
        );
        await expect(c.insertOne({ _id: 'b', 'a.b': 1 } as never)).rejects.toThrow(/must not contain '\.'/);
      });

      it('keeps unique _id inserts atomic: one of many concurrent inserts wins', async () => {
        const c = db.collection<{ _id: string; n: number }>('unique');
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, n) => c.insertOne({ _id: 'same', n })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 11000 });
      });
    });
  }
});
