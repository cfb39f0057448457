import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MongoDocumentStore } from '../adapters/mongodb/mongo-document-store.ts';
import { IdempotencyGuard } from './idempotency-store.ts';

describe('IdempotencyGuard on MongoDB (FerretDB unless MONGODB_URL)', () => {
  let store: MongoDocumentStore;
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = () => now;

  beforeAll(async () => {
    store = await MongoDocumentStore.connect(inject('mongodbUrl'), `idem_${process.pid}_${Date.now()}`);
    await store.ping();
  });
  afterAll(async () => {
    await store.db.dropDatabase();
    await store.close();
  });

  it('claims a new key once and reports the second claim as in progress', async () => {
    const guard = new IdempotencyGuard(store, 'fn', { now: clock, lockSeconds: 10 });
    await guard.init();
    const first = await guard.claim('/src', 'e1');
    const second = await guard.claim('/src', 'e1');
    expect(first.kind).toBe('claimed');
    expect(second.kind).toBe('in-progress');
  });

  it('replays the recorded outcome after completion', async () => {
    const guard = new IdempotencyGuard(store, 'fn', { now: clock });
    const claim = await guard.claim('/src', 'e2');
    await guard.complete(claim.key, { status: 204 });
    expect(await guard.claim('/src', 'e2')).toEqual({
      kind: 'completed',
      key: claim.key,
      outcome: { status: 204 },
    });
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const guard = new IdempotencyGuard(store, 'fn', { now: clock });
    const results = await Promise.all(Array.from({ length: 20 }, () => guard.claim('/src', 'e3')));
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
  });

  it('takes over a claim whose holder crashed once the lock has passed', async () => {
    const guard = new IdempotencyGuard(store, 'fn', { now: clock, lockSeconds: 5 });
    expect((await guard.claim('/src', 'e4')).kind).toBe('claimed');
    now += 6_000;
    expect((await guard.claim('/src', 'e4')).kind).toBe('claimed');
    expect((await guard.claim('/src', 'e4')).kind).toBe('in-progress');
  });

  it('lets exactly one of many concurrent takeovers of an abandoned lock win', async () => {
    // A conditional update is not atomic on FerretDB; the takeover is fenced by a unique insert instead.
    const guard = new IdempotencyGuard(store, 'fn', { now: clock, lockSeconds: 5 });
    expect((await guard.claim('/src', 'e7')).kind).toBe('claimed');
    now += 6_000;
    const results = await Promise.all(Array.from({ length: 10 }, () => guard.claim('/src', 'e7')));
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
  });

  it('runs again after release (a failed, retriable invocation)', async () => {
    const guard = new IdempotencyGuard(store, 'fn', { now: clock });
    const claim = await guard.claim('/src', 'e5');
    await guard.release(claim.key);
    expect((await guard.claim('/src', 'e5')).kind).toBe('claimed');
  });

  it('keeps keys of different functions apart', async () => {
    const a = new IdempotencyGuard(store, 'fn-a', { now: clock });
    const b = new IdempotencyGuard(store, 'fn-b', { now: clock });
    expect((await a.claim('/src', 'e6')).kind).toBe('claimed');
    expect((await b.claim('/src', 'e6')).kind).toBe('claimed');
  });
});
