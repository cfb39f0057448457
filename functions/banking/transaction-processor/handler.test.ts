import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Collection, Doc, DocumentStore } from '../../runtime/src/index.ts';
import { loadSchemas, MemoryDocumentStore } from '../../runtime/src/index.ts';
import { BankingEventType, RejectionReason, type TransactionSubmitted } from '../lib/banking.ts';
import { checkInvariants, type OutcomeRecord } from '../lib/invariants.ts';
import {
  AccountConflictError,
  createLedgerIndexes,
  EntryKind,
  Ledger,
  LedgerCache,
  type TransferOutcome,
  TransferState,
} from '../lib/ledger.ts';
import { seededRandom } from '../lib/prng.ts';
import { bankingEvent, stubContext } from '../lib/test-support.ts';
import { handle } from './handler.ts';

const EUR = 'EUR';

async function ledgerWith(balances: Record<string, number>, currency: Record<string, string> = {}) {
  const store = new MemoryDocumentStore();
  await createLedgerIndexes(store);
  const ledger = new Ledger(store);
  for (const [id, opening] of Object.entries(balances)) {
    await ledger.openAccount(
      { accountId: id, currency: currency[id] ?? EUR, openingBalance: opening },
      `open-${id}`,
    );
  }
  return { store, ledger };
}

const tx = (id: string, from: string, to: string, amount: number, currency = EUR): TransactionSubmitted => ({
  transactionId: id,
  from,
  to,
  amount,
  currency,
});

/** The store, with every collection call it receives listed as `<collection>.<operation>`. */
function countingStore(inner: DocumentStore): { store: DocumentStore; calls: string[] } {
  const calls: string[] = [];
  const store: DocumentStore = {
    kind: inner.kind,
    ping: (options) => inner.ping(options),
    close: () => inner.close(),
    collection<T extends Doc = Doc>(name: string): Collection<T> {
      const c = inner.collection<T>(name);
      return new Proxy(c, {
        get(target, prop) {
          const value: unknown = Reflect.get(target, prop);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            calls.push(`${name}.${String(prop)}`);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    },
  };
  return { store, calls };
}

async function balance(ledger: Ledger, id: string): Promise<number> {
  return (await ledger.head(id, 0)).balanceAfter;
}

function reasonOf(outcome: TransferOutcome): string | undefined {
  return outcome.kind === 'rejected' ? outcome.data.reason : undefined;
}

describe('transaction-processor', () => {
  describe('handle', () => {
    it('replies processed with the resulting balances of both accounts', async () => {
      const { store } = await ledgerWith({ a: 1000, b: 500 });
      const reply = await handle(
        bankingEvent(BankingEventType.transactionSubmitted, 'sub-1', tx('t1', 'a', 'b', 300)),
        stubContext(store),
      );
      expect(reply?.type).toBe(BankingEventType.transactionProcessed);
      expect(reply?.subject).toBe('t1');
      expect(reply?.data).toMatchObject({
        submissionId: 'sub-1',
        fromBalance: 700,
        toBalance: 800,
        fromVersion: 1,
        toVersion: 1,
      });
    });

    it('replies rejected (not an error) when the funds are insufficient', async () => {
      const { store, ledger } = await ledgerWith({ a: 100, b: 0 });
      const reply = await handle(
        bankingEvent(BankingEventType.transactionSubmitted, 'sub-1', tx('t1', 'a', 'b', 101)),
        stubContext(store),
      );
      expect(reply?.type).toBe(BankingEventType.transactionRejected);
      expect(reply?.data).toMatchObject({ reason: RejectionReason.insufficientFunds, submissionId: 'sub-1' });
      expect(await balance(ledger, 'a')).toBe(100);
    });

    it('opens an account from account.opened and answers without a reply', async () => {
      const store = new MemoryDocumentStore();
      await createLedgerIndexes(store);
      const reply = await handle(
        bankingEvent(BankingEventType.accountOpened, 'o1', {
          accountId: 'x',
          currency: 'USD',
          openingBalance: 42,
        }),
        stubContext(store),
      );
      expect(reply).toBeUndefined();
      expect(await balance(new Ledger(store), 'x')).toBe(42);
      expect(await new Ledger(store).accounts.findOne({ _id: 'x' })).toMatchObject({
        currency: 'USD',
        openingBalance: 42,
      });
    });
  });

  describe('Ledger.openAccount', () => {
    it('treats the same opening again as a no-op', async () => {
      const { ledger } = await ledgerWith({ a: 10 });
      expect(await ledger.openAccount({ accountId: 'a', currency: EUR, openingBalance: 10 }, 'again')).toBe(
        'exists',
      );
      expect(await balance(ledger, 'a')).toBe(10);
    });

    it('throws AccountConflictError when the id is opened with other content', async () => {
      const { ledger } = await ledgerWith({ a: 10 });
      await expect(
        ledger.openAccount({ accountId: 'a', currency: EUR, openingBalance: 11 }, 'x'),
      ).rejects.toThrow(AccountConflictError);
    });
  });

  describe('Ledger.process rejections', () => {
    const cases: [string, TransactionSubmitted, RejectionReason][] = [
      ['the source account is unknown', tx('t', 'nobody', 'b', 1), RejectionReason.unknownAccount],
      ['the target account is unknown', tx('t', 'a', 'nobody', 1), RejectionReason.unknownAccount],
      ['the funds are insufficient', tx('t', 'a', 'b', 1001), RejectionReason.insufficientFunds],
      [
        'the currency differs from the accounts',
        tx('t', 'a', 'b', 1, 'USD'),
        RejectionReason.currencyMismatch,
      ],
      ['the target account holds another currency', tx('t', 'a', 'u', 1), RejectionReason.currencyMismatch],
      ['from and to are the same account', tx('t', 'a', 'a', 1), RejectionReason.sameAccount],
    ];
    for (const [when, submitted, reason] of cases) {
      it(`rejects with ${reason} when ${when}, and changes no balance`, async () => {
        const { ledger } = await ledgerWith({ a: 1000, b: 0, u: 0 }, { u: 'USD' });
        const outcome = await ledger.process(submitted, 's1');
        expect(reasonOf(outcome)).toBe(reason);
        expect([await balance(ledger, 'a'), await balance(ledger, 'b'), await balance(ledger, 'u')]).toEqual([
          1000, 0, 0,
        ]);
        expect(await ledger.entries.countDocuments({ kind: EntryKind.debit })).toBe(0);
        expect(await ledger.stateOf('t')).toBe(TransferState.rejected);
      });
    }

    it('rejects a transaction id resubmitted with different content, leaving the first untouched', async () => {
      const { ledger } = await ledgerWith({ a: 1000, b: 0 });
      expect((await ledger.process(tx('t', 'a', 'b', 10), 's1')).kind).toBe('processed');
      const second = await ledger.process(tx('t', 'a', 'b', 20), 's2');
      expect(reasonOf(second)).toBe(RejectionReason.duplicateDifferentContent);
      expect(second.data.submissionId).toBe('s2');
      expect([await balance(ledger, 'a'), await balance(ledger, 'b')]).toEqual([990, 10]);
    });

    it('answers a same-content resubmission with the recorded outcome without applying it again', async () => {
      const { ledger } = await ledgerWith({ a: 1000, b: 0 });
      await ledger.process(tx('t', 'a', 'b', 10), 's1');
      const again = await ledger.process(tx('t', 'a', 'b', 10), 's2');
      expect(again.kind).toBe('processed');
      expect(again.data.submissionId).toBe('s2');
      expect([await balance(ledger, 'a'), await balance(ledger, 'b')]).toEqual([990, 10]);
    });
  });

  describe('Ledger crash recovery', () => {
    it('applies once when a run crashed after the debit entry, before the credit', async () => {
      const { ledger } = await ledgerWith({ a: 1000, b: 0 });
      const t = tx('t', 'a', 'b', 300);
      expect((await ledger.decide(t, 's1')).kind).toBe(EntryKind.debit); // the crashed run's only write
      expect(await ledger.stateOf('t')).toBe(TransferState.debited);
      expect(await balance(ledger, 'a')).toBe(700);

      const outcome = await ledger.process(t, 's1'); // the redelivery
      expect(outcome).toMatchObject({ kind: 'processed', data: { fromBalance: 700, toBalance: 300 } });
      expect([await balance(ledger, 'a'), await balance(ledger, 'b')]).toEqual([700, 300]);
      expect(await ledger.stateOf('t')).toBe(TransferState.processed);
    });

    it('applies once when a run crashed after the credit entry, before answering', async () => {
      const { ledger } = await ledgerWith({ a: 1000, b: 0 });
      const t = tx('t', 'a', 'b', 300);
      await ledger.decide(t, 's1');
      await ledger.credit(t);

      const outcome = await ledger.process(t, 's1');
      expect(outcome).toMatchObject({ kind: 'processed', data: { fromBalance: 700, toBalance: 300 } });
      expect([await balance(ledger, 'a'), await balance(ledger, 'b')]).toEqual([700, 300]);
      expect(await ledger.entries.countDocuments({ txId: 't' })).toBe(2);
    });

    it('neither applies again nor moves the transfer back when a stalled run resumes after another finished it', async () => {
      const { ledger } = await ledgerWith({ a: 1000, b: 0 });
      const t = tx('t', 'a', 'b', 300);
      await ledger.process(t, 's1'); // the run that took over
      // The stalled run's steps: its decision finds the debit already written, its credit the credit;
      // nothing is written twice and nothing moves back.
      const decision = await ledger.decide(t, 's1');
      expect(decision).toMatchObject({ kind: EntryKind.debit, balanceAfter: 700 });
      expect(await ledger.finish(t, 's1', decision)).toMatchObject({
        kind: 'processed',
        data: { fromBalance: 700, toBalance: 300 },
      });
      expect((await ledger.credit(t)).balanceAfter).toBe(300);
      expect(await ledger.stateOf('t')).toBe(TransferState.processed);
      expect(await ledger.entries.countDocuments({ txId: 't' })).toBe(2);
      expect([await balance(ledger, 'a'), await balance(ledger, 'b')]).toEqual([700, 300]);
    });

    it('keeps the first decision when a rejected transfer is redelivered after the funds arrived', async () => {
      const { ledger } = await ledgerWith({ a: 0, b: 500 });
      const t = tx('t', 'a', 'b', 100);
      expect(reasonOf(await ledger.process(t, 's1'))).toBe(RejectionReason.insufficientFunds);
      await ledger.process(tx('fund', 'b', 'a', 200), 's2');
      expect(reasonOf(await ledger.process(t, 's1'))).toBe(RejectionReason.insufficientFunds);
      expect((await ledger.decide(t, 's1')).kind).toBe(EntryKind.reject); // a stalled run, too
      expect([await balance(ledger, 'a'), await balance(ledger, 'b')]).toEqual([200, 300]);
    });

    it('rejects a different transfer under a decided id even from another account', async () => {
      const { ledger } = await ledgerWith({ a: 1000, b: 0, c: 1000 });
      expect((await ledger.process(tx('t', 'a', 'b', 10), 's1')).kind).toBe('processed');
      const other = await ledger.process(tx('t', 'c', 'b', 10), 's2');
      expect(reasonOf(other)).toBe(RejectionReason.duplicateDifferentContent);
      expect([await balance(ledger, 'a'), await balance(ledger, 'b'), await balance(ledger, 'c')]).toEqual([
        990, 10, 1000,
      ]);
    });

    it('applies once when the same submission runs twice at the same time', async () => {
      const { ledger } = await ledgerWith({ a: 1000, b: 0 });
      const runs = await Promise.all([
        ledger.process(tx('t', 'a', 'b', 300), 's1'),
        ledger.process(tx('t', 'a', 'b', 300), 's1'),
      ]);
      expect(runs.map((r) => r.kind)).toEqual(['processed', 'processed']);
      expect([await balance(ledger, 'a'), await balance(ledger, 'b')]).toEqual([700, 300]);
    });

    it('stops writing once its run is aborted (a timed-out zombie run)', async () => {
      const { store, ledger } = await ledgerWith({ a: 5, b: 0 });
      const before = await ledger.entries.countDocuments({});
      const aborted = new Ledger(store, { signal: AbortSignal.abort() });
      await expect(aborted.process(tx('t', 'a', 'b', 1), 's')).rejects.toThrow();
      expect(await ledger.entries.countDocuments({})).toBe(before);
    });
  });

  describe('Ledger.head', () => {
    it('finds the head of a chain from any start by point reads: in two when the start is the head', async () => {
      const { store, ledger } = await ledgerWith({ a: 1000, b: 0 });
      for (let i = 0; i < 37; i++) await ledger.process(tx(`h${i}`, 'a', 'b', 1), `h${i}`);
      const counted = countingStore(store);
      const reader = new Ledger(counted.store);
      for (const from of [0, 1, 20, 36, 37, 38, 500]) {
        expect((await reader.head('a', from)).seq, `from ${from}`).toBe(37);
      }
      counted.calls.length = 0;
      expect((await reader.head('a', 37)).balanceAfter).toBe(963);
      expect(counted.calls).toEqual(['banking_entries.findOne', 'banking_entries.findOne']);
      counted.calls.length = 0;
      await reader.head('a', 0);
      expect(counted.calls.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(37)) + 2);
    });

    it('reads only past the start when the entry there is already in hand', async () => {
      const { store, ledger } = await ledgerWith({ a: 1000, b: 0 });
      for (let i = 0; i < 5; i++) await ledger.process(tx(`k${i}`, 'a', 'b', 1), `k${i}`);
      const counted = countingStore(store);
      const reader = new Ledger(counted.store);
      const at3 = await ledger.head('a', 3); // the head, a#5
      const entry3 = await ledger.entries.findOne({ _id: 'a#000000000003' });
      expect(at3.seq).toBe(5);
      expect(entry3?.seq).toBe(3);
      counted.calls.length = 0;
      expect((await reader.head('a', 5, at3)).seq).toBe(5);
      expect(counted.calls).toEqual(['banking_entries.findOne']); // a#6: empty
      counted.calls.length = 0;
      expect((await reader.head('a', 3, entry3 ?? undefined)).seq).toBe(5);
      // a#4, a#6 (empty), a#5: the bisection; the entry at a#3 itself is not read again.
      expect(counted.calls).toEqual([
        'banking_entries.findOne',
        'banking_entries.findOne',
        'banking_entries.findOne',
      ]);
      // An entry of another account or another position is not taken for the start.
      counted.calls.length = 0;
      expect((await reader.head('a', 4, at3)).seq).toBe(5);
      expect(counted.calls.length).toBe(4); // a#4 read, then a#5, a#7 (empty), a#6 (empty)
    });
  });

  describe('Ledger with a LedgerCache', () => {
    it('applies a transfer between accounts it knows in one round trip: debit and credit in one bulkWrite', async () => {
      const { store } = await ledgerWith({ a: 1000, b: 0 });
      const counted = countingStore(store);
      const cached = new Ledger(counted.store, { cache: new LedgerCache() });
      await cached.process(tx('t1', 'a', 'b', 100), 's1'); // learns both accounts and heads
      counted.calls.length = 0;
      const second = await cached.process(tx('t2', 'b', 'a', 30), 's2');
      expect(second).toMatchObject({ kind: 'processed', data: { fromBalance: 70, toBalance: 930 } });
      expect(counted.calls).toEqual(['banking_entries.bulkWrite']);
    });

    it('writes the transfers that arrive together in one bulkWrite, chained on each other across shared accounts', async () => {
      const { store } = await ledgerWith({ a: 1000, b: 1000, c: 1000 });
      const counted = countingStore(store);
      const cached = new Ledger(counted.store, { cache: new LedgerCache() });
      await cached.process(tx('w1', 'a', 'b', 1), 'w1');
      await cached.process(tx('w2', 'b', 'c', 1), 'w2'); // all three accounts and heads known
      counted.calls.length = 0;
      const ring = [
        tx('r1', 'a', 'b', 10),
        tx('r2', 'b', 'c', 20),
        tx('r3', 'c', 'a', 30),
        tx('r4', 'a', 'c', 5),
      ];
      const outcomes = await Promise.all(ring.map((t) => cached.process(t, t.transactionId)));
      expect(outcomes.map((o) => o.kind)).toEqual(['processed', 'processed', 'processed', 'processed']);
      expect(counted.calls).toEqual(['banking_entries.bulkWrite']);
      const plain = new Ledger(store);
      expect([await balance(plain, 'a'), await balance(plain, 'b'), await balance(plain, 'c')]).toEqual([
        1014, 990, 996,
      ]);
      expect(outcomes[3]?.data).toMatchObject({ fromBalance: 1014, toBalance: 996 });
    });

    it('sends the transfers behind a collision in a batch down the general path, each applied once', async () => {
      const { store, ledger: other } = await ledgerWith({ a: 1000, b: 1000, x: 1000, y: 0 });
      const cached = new Ledger(store, { cache: new LedgerCache() });
      await cached.process(tx('w1', 'a', 'b', 1), 'w1');
      await cached.process(tx('w2', 'x', 'y', 1), 'w2');
      await other.process(tx('o1', 'x', 'y', 100), 'o1'); // x and y move on behind the cache's back
      const batch = [tx('t1', 'a', 'b', 10), tx('t2', 'x', 'y', 20), tx('t3', 'b', 'a', 30)];
      const outcomes = await Promise.all(batch.map((t) => cached.process(t, t.transactionId)));
      expect(outcomes.map((o) => o.kind)).toEqual(['processed', 'processed', 'processed']);
      expect([
        await balance(other, 'a'),
        await balance(other, 'b'),
        await balance(other, 'x'),
        await balance(other, 'y'),
      ]).toEqual([1019, 981, 879, 121]);
      expect(await other.unfinished()).toEqual([]);
      expect(
        await store.collection('banking_entries').countDocuments({ txId: { $in: ['t1', 't2', 't3'] } }),
      ).toBe(6);
    });

    it('credits on the new head when another process moved the credited chain on after the cache saw it', async () => {
      const { store, ledger: other } = await ledgerWith({ a: 1000, b: 0, c: 1000 });
      const cached = new Ledger(store, { cache: new LedgerCache() });
      await cached.process(tx('t1', 'a', 'b', 100), 's1'); // cached head of b: b#1
      await other.process(tx('t2', 'c', 'b', 50), 's2'); // b#2, unknown to the cache
      const third = await cached.process(tx('t3', 'a', 'b', 10), 's3');
      expect(third).toMatchObject({ kind: 'processed', data: { toBalance: 160, toVersion: 3 } });
      expect([await balance(other, 'a'), await balance(other, 'b')]).toEqual([890, 160]);
      expect(await other.unfinished()).toEqual([]);
    });

    it('rejects a debit its stale cached head would allow once another process spent the money', async () => {
      const { store, ledger: other } = await ledgerWith({ a: 1000, b: 0 });
      const cached = new Ledger(store, { cache: new LedgerCache() });
      expect((await cached.process(tx('t1', 'a', 'b', 100), 's1')).kind).toBe('processed'); // head: 900
      expect((await other.process(tx('t2', 'a', 'b', 800), 's2')).kind).toBe('processed'); // really 100
      const third = await cached.process(tx('t3', 'a', 'b', 500), 's3');
      expect(reasonOf(third)).toBe(RejectionReason.insufficientFunds);
      expect(await balance(other, 'a')).toBe(100);
      expect(await balance(other, 'b')).toBe(900);
    });

    it('refuses a transfer the head cannot cover in one insert: the refusal takes the next position, balance unchanged', async () => {
      const { store } = await ledgerWith({ a: 100, b: 0 });
      const counted = countingStore(store);
      const cached = new Ledger(counted.store, { cache: new LedgerCache() });
      expect((await cached.process(tx('t1', 'a', 'b', 60), 's1')).kind).toBe('processed'); // head: a#1, 40
      counted.calls.length = 0;
      const second = await cached.process(tx('t2', 'a', 'b', 50), 's2');
      expect(reasonOf(second)).toBe(RejectionReason.insufficientFunds);
      // No read: the insert at a#2 is what shows a#1 is still the head.
      expect(counted.calls).toEqual(['banking_entries.insertOne']);
      const refusal = await cached.entries.findOne({ txId: 't2', side: 'from' });
      expect(refusal).toMatchObject({
        _id: 'a#000000000002',
        kind: EntryKind.reject,
        seq: 2,
        delta: 0,
        balanceAfter: 40,
      });
      // The chain goes on after it, arithmetic as before.
      expect((await cached.process(tx('t3', 'a', 'b', 40), 's3')).kind).toBe('processed');
      expect(await cached.entries.findOne({ _id: 'a#000000000003' })).toMatchObject({
        delta: -40,
        balanceAfter: 0,
      });
      expect(await cached.stateOf('t2')).toBe(TransferState.rejected);
    });

    it('applies a debit its stale cached head would refuse once another process credited the account', async () => {
      const { store, ledger: other } = await ledgerWith({ a: 100, b: 1000 });
      const cached = new Ledger(store, { cache: new LedgerCache() });
      expect((await cached.process(tx('t1', 'a', 'b', 100), 's1')).kind).toBe('processed'); // head: 0
      expect((await other.process(tx('t2', 'b', 'a', 500), 's2')).kind).toBe('processed'); // really 500
      const third = await cached.process(tx('t3', 'a', 'b', 300), 's3');
      expect(third.kind).toBe('processed');
      expect(await balance(other, 'a')).toBe(200);
    });
  });

  describe('Ledger properties', () => {
    for (const seed of [1, 7, 42, 1234]) {
      it(`conserves money and never overdraws over random parallel transfers with crashes (seed ${seed})`, async () => {
        const rnd = seededRandom(seed);
        const ids = Array.from({ length: 6 }, (_, i) => `acc-${i}`);
        const openings = Object.fromEntries(ids.map((id) => [id, rnd.int(0, 500)]));
        const { ledger, store } = await ledgerWith(openings, { 'acc-5': 'USD' });
        // Three "processes" on one store: one without a cache, two whose caches go stale.
        const runners = [
          ledger,
          new Ledger(store, { cache: new LedgerCache() }),
          new Ledger(store, { cache: new LedgerCache() }),
        ];
        const outcomes: OutcomeRecord[] = [];
        const submitted: TransactionSubmitted[] = [];
        for (let batch = 0; batch < 15; batch++) {
          const txs = Array.from({ length: 8 }, (_, i) =>
            tx(
              `t-${batch}-${i}`,
              rnd.pick([...ids, 'ghost']),
              rnd.pick(ids),
              rnd.int(1, 200),
              rnd.next() < 0.9 ? EUR : 'USD',
            ),
          );
          // Some runs crash after their first account write; the redelivery is run in the same batch.
          await Promise.all(
            txs.map(async (t) => {
              const crashed = rnd.pick(runners);
              const run = rnd.pick(runners);
              if (rnd.next() < 0.2) await crashed.decide(t, `s-${t.transactionId}`).catch(() => undefined);
              submitted.push(t);
              const o = await run.process(t, `s-${t.transactionId}`);
              outcomes.push({ ...o.data, status: o.kind });
            }),
          );
        }
        const accounts = await Promise.all(
          (await ledger.accounts.find({})).map(async (a) => ({
            id: a._id,
            balance: await balance(ledger, a._id),
            openingBalance: a.openingBalance,
          })),
        );
        const report = checkInvariants({
          accounts,
          outcomes,
          expectedSubmissions: submitted.map((t) => `s-${t.transactionId}`),
          unfinishedTransfers: await ledger.unfinished(),
        });
        expect(report.checks.filter((c) => !c.ok)).toEqual([]);
        expect(report.totals.processed).toBeGreaterThan(0);
        expect(report.totals.rejected).toBeGreaterThan(0);
      });
    }
  });

  describe('contract files', () => {
    it('validates every example against its schema', async () => {
      const dir = import.meta.dirname;
      const schemas = await loadSchemas(join(dir, 'schemas'));
      for (const type of schemas.types) {
        const example = JSON.parse(await readFile(join(dir, 'examples', `${type}.json`), 'utf8')) as {
          type: string;
          data: unknown;
        };
        expect(example.type).toBe(type);
        expect(schemas.check(type, example.data)).toEqual([]);
      }
    });

    it("keeps the schema copies of the journal and accounts-api identical to the processor's", async () => {
      const dir = import.meta.dirname;
      for (const [fn, type] of [
        ['transaction-journal', BankingEventType.transactionProcessed],
        ['transaction-journal', BankingEventType.transactionRejected],
        ['accounts-api', BankingEventType.transactionProcessed],
        ['accounts-api', BankingEventType.transactionRejected],
        ['accounts-api', BankingEventType.accountOpened],
      ] as const) {
        const copy = await readFile(join(dir, '..', fn, 'schemas', `${type}.json`), 'utf8');
        expect(copy, `${fn}/schemas/${type}.json`).toBe(
          await readFile(join(dir, 'schemas', `${type}.json`), 'utf8'),
        );
      }
    });
  });
});
