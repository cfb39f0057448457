/**
 * What the idempotency guard promises, run against every store the runtime uses: the memory store
 * (`idempotency-store.test.ts`) and a MongoDB wire-protocol server, FerretDB 1.24 unless MONGODB_URL
 * (`idempotency-store.int.test.ts`). The races here are won by unique inserts only, which FerretDB makes
 * atomic too, so every test holds on both (docs/ferretdb.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../ports/document-store.ts';
import type { ClaimResult } from '../ports/idempotency-store.ts';
import {
  ClaimLostError,
  ExpiryMode,
  IdempotencyGuard,
  type IdempotencyOptions,
} from './idempotency-store.ts';

export interface GuardSubject {
  readonly store: DocumentStore;
  close(): Promise<void>;
}

function claimed(result: ClaimResult): Extract<ClaimResult, { kind: 'claimed' }> {
  if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${result.kind}`);
  return result;
}

/** `guardOptions`: given to every guard of the run (e.g. `batchInserts`, as the runtime sets it for a network store). */
export function describeIdempotencyGuard(
  name: string,
  open: () => Promise<GuardSubject>,
  expected: { readonly expiry: ExpiryMode },
  guardOptions: IdempotencyOptions = {},
): void {
  const batched = guardOptions.batchInserts === true ? ', inserts batched' : '';
  describe(`IdempotencyGuard on ${name}${batched}`, () => {
    let subject: GuardSubject;
    let n = 0;
    beforeAll(async () => {
      subject = await open();
    });
    afterAll(async () => {
      await subject.close();
    });

    /** A guard on its own collection, with a clock the test moves. */
    async function setup(options: IdempotencyOptions = {}) {
      const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
      const collection = `idem_${n++}`;
      const make = (fn = 'fn') =>
        new IdempotencyGuard(subject.store, fn, {
          now: () => clock.now,
          lockSeconds: 5,
          ttlSeconds: 60,
          collection,
          ...guardOptions,
          ...options,
        });
      const guard = make();
      const expiry = await guard.init();
      return { clock, guard, make, expiry, records: subject.store.collection(collection) };
    }

    it('claims a new key, then reports it in progress, then replays it once completed', async () => {
      const { guard } = await setup();
      const first = claimed(await guard.claim('/s', 'e1'));
      expect(first.generation).toBe(0);
      expect((await guard.claim('/s', 'e1')).kind).toBe('in-progress');
      await guard.complete(first, { status: 204 });
      expect(await guard.claim('/s', 'e1')).toEqual({
        kind: 'completed',
        key: first.key,
        outcome: { status: 204 },
      });
    });

    it('lets exactly one of many concurrent claims of a new key win', async () => {
      const { guard } = await setup();
      const results = await Promise.all(Array.from({ length: 20 }, () => guard.claim('/s', 'race')));
      expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    });

    it('takes over a claim whose lock has passed, and lets exactly one of many takeovers win', async () => {
      const { guard, clock } = await setup();
      claimed(await guard.claim('/s', 'crashed'));
      clock.now += 6_000;
      const results = await Promise.all(Array.from({ length: 10 }, () => guard.claim('/s', 'crashed')));
      const winners = results.filter((r) => r.kind === 'claimed');
      expect(winners).toHaveLength(1);
      expect(winners[0]).toMatchObject({ generation: 1 });
      clock.now += 6_000;
      expect(claimed(await guard.claim('/s', 'crashed')).generation).toBe(2); // the new holder crashed too
    });

    it('does not let a slow holder whose lock was taken over complete the newer claim', async () => {
      const { guard, clock } = await setup();
      const slow = claimed(await guard.claim('/s', 'slow'));
      clock.now += 6_000;
      const newer = claimed(await guard.claim('/s', 'slow'));
      await expect(guard.complete(slow, { status: 200 })).rejects.toBeInstanceOf(ClaimLostError);
      expect((await guard.claim('/s', 'slow')).kind).toBe('in-progress'); // the newer claim still holds
      await guard.complete(newer, { status: 204 });
      expect(await guard.claim('/s', 'slow')).toMatchObject({ kind: 'completed', outcome: { status: 204 } });
    });

    it('does not let a slow holder whose lock was taken over release the newer claim', async () => {
      const { guard, clock } = await setup();
      const slow = claimed(await guard.claim('/s', 'stale-release'));
      clock.now += 6_000;
      claimed(await guard.claim('/s', 'stale-release'));
      expect(await guard.release(slow)).toBe(false);
      expect((await guard.claim('/s', 'stale-release')).kind).toBe('in-progress');
    });

    it('does not let a stale release free a live claim or undo a completion', async () => {
      const { guard } = await setup();
      const first = claimed(await guard.claim('/s', 'released'));
      expect(await guard.release(first)).toBe(true);
      const second = claimed(await guard.claim('/s', 'released')); // the retry runs again
      expect(second.generation).toBe(2);
      expect(await guard.release(first)).toBe(false); // the first holder again: nothing to free
      expect((await guard.claim('/s', 'released')).kind).toBe('in-progress');
      await guard.complete(second, { status: 204 });
      expect(await guard.release(second)).toBe(false);
      await expect(guard.complete(second, { status: 500 })).rejects.toBeInstanceOf(ClaimLostError);
      expect(await guard.claim('/s', 'released')).toMatchObject({
        kind: 'completed',
        outcome: { status: 204 },
      });
    });

    it('lets exactly one of a completion and a takeover of the same generation win', async () => {
      const { guard, clock } = await setup();
      const slow = claimed(await guard.claim('/s', 'photo-finish'));
      clock.now += 6_000;
      const [completion, takeover] = await Promise.allSettled([
        guard.complete(slow, { status: 204 }),
        guard.claim('/s', 'photo-finish'),
      ]);
      const completed = completion.status === 'fulfilled';
      const tookOver = takeover.status === 'fulfilled' && takeover.value.kind === 'claimed';
      expect(completed !== tookOver).toBe(true);
    });

    it('keeps the records of different functions apart', async () => {
      const { make } = await setup();
      expect((await make('fn-a').claim('/s', 'shared')).kind).toBe('claimed');
      expect((await make('fn-b').claim('/s', 'shared')).kind).toBe('claimed');
    });

    it(`removes expired records by ${expected.expiry}, and claims the key anew after that`, async () => {
      const { guard, clock, records, expiry } = await setup();
      expect(expiry).toBe(expected.expiry);
      const old = claimed(await guard.claim('/s', 'old'));
      await guard.complete(old, { status: 204 });
      claimed(await guard.claim('/s', 'abandoned'));
      clock.now += 61_000; // `old` and `abandoned` were claimed at t0 with a 60 s TTL
      claimed(await guard.claim('/s', 'fresh'));
      expect((await guard.claim('/s', 'old')).kind).toBe('expired'); // not replayed, not yet run again
      if (expiry === ExpiryMode.purge) {
        expect(await guard.purgeExpired()).toBe(3); // old (claim + completion) and abandoned
        expect(await guard.purgeExpired()).toBeUndefined(); // one purge per interval
      } else {
        // MongoDB's TTL monitor removes them within a minute; the test does not wait for it.
        await records.deleteMany({ expiresAt: { $lte: new Date(clock.now) } });
      }
      expect((await records.find({ key: { $exists: true } })).map((r) => r.eventId)).toEqual(['fresh']);
      expect(claimed(await guard.claim('/s', 'old')).generation).toBe(0);
    });
  });
}
