import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../adapters/memory/memory-document-store.ts';
import { describeIdempotencyGuard } from './idempotency-guard.contract.ts';
import { ExpiryMode, IdempotencyGuard, idempotencyKey, slotId } from './idempotency-store.ts';

describeIdempotencyGuard(
  'the memory store',
  async () => ({ store: new MemoryDocumentStore(), close: async () => {} }),
  { expiry: ExpiryMode.purge },
);

describeIdempotencyGuard(
  'the memory store',
  async () => ({ store: new MemoryDocumentStore(), close: async () => {} }),
  { expiry: ExpiryMode.purge },
  { batchInserts: true },
);

describe('IdempotencyGuard records', () => {
  it('are a chain of generations, each written once: claim, then its ending', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const store = new MemoryDocumentStore();
    const guard = new IdempotencyGuard(store, 'fn', { now: () => now, lockSeconds: 5, ttlSeconds: 60 });
    const first = await guard.claim('/s', 'e');
    if (first.kind !== 'claimed') throw new Error(first.kind);
    await guard.release(first);
    now += 1_000;
    const second = await guard.claim('/s', 'e');
    if (second.kind !== 'claimed') throw new Error(second.kind);
    await guard.complete(second, { status: 204 });
    const key = idempotencyKey('fn', '/s', 'e');
    const records = await store.collection('sluice_idempotency').find({}, { sort: { generation: 1 } });
    expect(records.map((r) => [r._id, r.status, r.expiresAt])).toEqual([
      [slotId(key, 0), 'IN_PROGRESS', new Date('2026-01-01T00:01:00Z')],
      [slotId(key, 1), 'RELEASED', new Date('2026-01-01T00:01:00Z')],
      [slotId(key, 2), 'IN_PROGRESS', new Date('2026-01-01T00:01:00Z')],
      [slotId(key, 3), 'COMPLETED', new Date('2026-01-01T00:01:00Z')],
    ]);
    expect(records.every((r) => r.eventSource === '/s' && r.eventId === 'e' && r.functionName === 'fn')).toBe(
      true,
    );
  });
});

describe('IdempotencyGuard and records written before chains', () => {
  it('replays a completed one and takes over an abandoned one at generation 1', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const store = new MemoryDocumentStore();
    const records = store.collection('sluice_idempotency');
    const guard = new IdempotencyGuard(store, 'fn', { now: () => now, lockSeconds: 5, ttlSeconds: 60 });
    const legacy = (id: string, fields: Record<string, unknown>) => ({
      _id: idempotencyKey('fn', '/s', id),
      functionName: 'fn',
      eventSource: '/s',
      eventId: id,
      lockedUntil: new Date(now - 1000),
      expiresAt: new Date(now + 30_000),
      ...fields,
    });
    await records.insertOne(legacy('done', { status: 'COMPLETED', outcome: { status: 204 } }));
    await records.insertOne(legacy('crashed', { status: 'IN_PROGRESS', claimId: 'c1' }));
    expect(await guard.claim('/s', 'done')).toMatchObject({ kind: 'completed', outcome: { status: 204 } });
    expect(await guard.claim('/s', 'crashed')).toMatchObject({ kind: 'claimed', generation: 1 });
  });
});
