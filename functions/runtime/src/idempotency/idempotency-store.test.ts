import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../adapters/memory/memory-document-store.ts';
import type { Collection, DocumentStore } from '../ports/document-store.ts';
import { IdempotencyGuard, idempotencyKey } from './idempotency-store.ts';

/**
 * The memory store seen only through the Collection API, as a remote store is: the guard then takes
 * its generic path (insert, find, compare-and-set) instead of the in-process one.
 */
function remoteLike(store: MemoryDocumentStore): DocumentStore {
  return {
    kind: 'remote-like',
    collection: <T extends Record<string, unknown>>(name: string): Collection<T> => {
      const c = store.collection<T>(name);
      return {
        findOne: (f) => c.findOne(f),
        find: (f, o) => c.find(f, o),
        insertOne: (d) => c.insertOne(d),
        updateOne: (f, u, o) => c.updateOne(f, u, o),
        findOneAndUpdate: (f, u, o) => c.findOneAndUpdate(f, u, o),
        deleteOne: (f) => c.deleteOne(f),
        deleteMany: (f) => c.deleteMany(f),
        countDocuments: (f) => c.countDocuments(f),
        createIndex: (s) => c.createIndex(s),
      };
    },
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

describe.each([
  { path: 'in-process', wrap: (s: MemoryDocumentStore): DocumentStore => s },
  { path: 'generic', wrap: remoteLike },
])('IdempotencyGuard ($path path)', ({ wrap }) => {
  function setup(lockSeconds = 5, ttlSeconds = 60) {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    const store = new MemoryDocumentStore();
    const guard = new IdempotencyGuard(wrap(store), 'fn', { now: () => clock.now, lockSeconds, ttlSeconds });
    return { clock, store, guard, records: store.collection('sluice_idempotency') };
  }

  describe('claim', () => {
    it('claims a new key, then reports in-progress, then replays once completed', async () => {
      const { guard } = setup();
      const first = await guard.claim('/s', 'e1');
      expect(first).toEqual({ kind: 'claimed', key: idempotencyKey('fn', '/s', 'e1') });
      expect((await guard.claim('/s', 'e1')).kind).toBe('in-progress');
      await guard.complete(first.key, { status: 204 });
      expect(await guard.claim('/s', 'e1')).toEqual({
        kind: 'completed',
        key: first.key,
        outcome: { status: 204 },
      });
    });

    it('lets exactly one of many concurrent takeovers of an abandoned lock win', async () => {
      const { guard, clock } = setup();
      await guard.claim('/s', 'crashed');
      clock.now += 6_000; // the holder's lock has passed
      const results = await Promise.all(Array.from({ length: 10 }, () => guard.claim('/s', 'crashed')));
      expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    });

    it('can take over again when the new holder crashes too', async () => {
      const { guard, clock } = setup();
      await guard.claim('/s', 'twice');
      clock.now += 6_000;
      expect((await guard.claim('/s', 'twice')).kind).toBe('claimed');
      clock.now += 6_000;
      expect((await guard.claim('/s', 'twice')).kind).toBe('claimed');
      expect((await guard.claim('/s', 'twice')).kind).toBe('in-progress');
    });

    it('runs an expired completed event again', async () => {
      const { guard, clock } = setup(5, 60);
      const c = await guard.claim('/s', 'old');
      await guard.complete(c.key, { status: 204 });
      clock.now += 61_000;
      expect((await guard.claim('/s', 'old')).kind).toBe('claimed');
    });
  });

  describe('release', () => {
    it('gives an in-progress key back so the event runs again, and leaves a completed one alone', async () => {
      const { guard } = setup();
      const first = await guard.claim('/s', 'retry');
      await guard.release(first.key);
      expect((await guard.claim('/s', 'retry')).kind).toBe('claimed');
      await guard.complete(first.key, { status: 204 });
      await guard.release(first.key);
      expect((await guard.claim('/s', 'retry')).kind).toBe('completed');
    });
  });

  describe('purgeExpired', () => {
    it('removes expired records and takeover markers and keeps live ones', async () => {
      const { guard, clock, records } = setup(5, 60);
      const old = await guard.claim('/s', 'old');
      await guard.complete(old.key, { status: 204 });
      await guard.claim('/s', 'abandoned');
      clock.now += 6_000;
      await guard.claim('/s', 'abandoned'); // takeover: writes a marker
      clock.now += 55_000; // t0+61: `old` (completed at t0, ttl 60) has expired
      await guard.claim('/s', 'fresh');
      expect(await records.countDocuments({})).toBe(4); // old, abandoned, its takeover marker, fresh
      expect(await guard.purgeExpired()).toBe(1);
      clock.now += 6_000; // t0+67: the taken-over record and its marker (t0+66) have expired
      expect(await guard.purgeExpired()).toBe(2);
      expect((await records.find({})).map((r) => r.eventId)).toEqual(['fresh']);
    });
  });
});

describe('IdempotencyGuard records', () => {
  it('are the same documents on the in-process and the generic path', async () => {
    const stores = [new MemoryDocumentStore(), new MemoryDocumentStore()];
    const docs = [];
    for (const [i, store] of stores.entries()) {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const guard = new IdempotencyGuard(i === 0 ? store : remoteLike(store), 'fn', { now: () => now });
      const done = await guard.claim('/s', 'done');
      await guard.complete(done.key, { status: 204 });
      await guard.claim('/s', 'taken-over');
      now += 31_000;
      await guard.claim('/s', 'taken-over');
      const all = await store.collection('sluice_idempotency').find({});
      // claimId is random per claim, and names the takeover marker after it.
      docs.push(
        all.map(({ claimId, ...rest }) => ({
          ...rest,
          _id: String(rest._id).split('/')[0],
          claimId: typeof claimId,
        })),
      );
    }
    expect(docs[0]).toHaveLength(3); // done, taken-over, its takeover marker
    expect(docs[0]).toEqual(docs[1]);
  });
});
