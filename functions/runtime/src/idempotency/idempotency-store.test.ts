import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../adapters/memory/memory-document-store.ts';
import { IdempotencyGuard, idempotencyKey } from './idempotency-store.ts';

describe('IdempotencyGuard', () => {
  function setup(lockSeconds = 5, ttlSeconds = 60) {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    const store = new MemoryDocumentStore();
    const guard = new IdempotencyGuard(store, 'fn', { now: () => clock.now, lockSeconds, ttlSeconds });
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
