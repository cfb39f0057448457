import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { startFerretdb } from '../../../platform/test-servers/ferretdb.ts';
import { MongoDocumentStore } from '../../runtime/src/index.ts';
import type { TransactionSubmitted } from './banking.ts';
import { checkInvariants, type OutcomeRecord } from './invariants.ts';
import { createLedgerIndexes, EntryKind, Ledger, TransferState } from './ledger.ts';
import { seededRandom } from './prng.ts';

const dbName = `banking_ledger_int_${process.pid}_${Date.now()}`;
let store: MongoDocumentStore;

beforeAll(async () => {
  store = await MongoDocumentStore.connect(inject('mongodbUrl'), dbName);
  await store.ping();
});

afterAll(async () => {
  await store.db.dropDatabase();
  await store.close();
});

async function ledgerOn(db: MongoDocumentStore): Promise<Ledger> {
  await createLedgerIndexes(db);
  return new Ledger(db);
}

async function openAll(ledger: Ledger, balances: Record<string, number>): Promise<void> {
  for (const [id, opening] of Object.entries(balances)) {
    await ledger.openAccount({ accountId: id, currency: 'EUR', openingBalance: opening }, `open-${id}`);
  }
}

async function invariants(ledger: Ledger, outcomes: OutcomeRecord[], expected: string[]) {
  const accounts = await Promise.all(
    (await ledger.accounts.find({})).map(async (a) => ({
      id: a._id,
      balance: (await ledger.head(a._id, a.head)).balanceAfter,
      openingBalance: a.openingBalance,
    })),
  );
  return checkInvariants({
    accounts,
    outcomes,
    expectedSubmissions: expected,
    unfinishedTransfers: await ledger.unfinished(),
  });
}

/** What the broker does with a retriable failure: deliver again, until a deadline. */
async function deliverUntilDone<T>(attempt: () => Promise<T>, deadlineMs = 45_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

describe('Ledger on FerretDB', () => {
  it('does not move a processed transfer back to debited when a stalled run resumes', async () => {
    // Its own database: the other tests check invariants over every account in theirs.
    const own = await MongoDocumentStore.connect(inject('mongodbUrl'), `${dbName}_stalled`);
    onTestFinished(async () => {
      await own.db.dropDatabase();
      await own.close();
    });
    const ledger = await ledgerOn(own);
    await openAll(ledger, { 'st-a': 1000, 'st-b': 0 });
    const t: TransactionSubmitted = {
      transactionId: 'st-t',
      from: 'st-a',
      to: 'st-b',
      amount: 300,
      currency: 'EUR',
    };
    expect((await ledger.process(t, 's1')).kind).toBe('processed'); // the run that took over
    // The stalled run resumes: it finds the debit and the credit written, and answers the same.
    const decision = await ledger.decide(t, 's1');
    expect(decision.kind).toBe(EntryKind.debit);
    expect(await ledger.finish(t, 's1', decision)).toMatchObject({
      kind: 'processed',
      data: { fromBalance: 700, toBalance: 300 },
    });
    expect(await ledger.stateOf('st-t')).toBe(TransferState.processed);
    expect(await ledger.entries.countDocuments({ txId: 'st-t' })).toBe(2);
    expect((await ledger.head('st-a', 0)).balanceAfter).toBe(700);
  });

  it('never overdraws one account under 50 parallel transfers and conserves money', async () => {
    const ledger = await ledgerOn(store);
    const prefix = 'p50';
    await openAll(ledger, { [`${prefix}-src`]: 1000, [`${prefix}-a`]: 0, [`${prefix}-b`]: 0 });
    const txs: TransactionSubmitted[] = Array.from({ length: 50 }, (_, i) => ({
      transactionId: `${prefix}-t${i}`,
      from: `${prefix}-src`,
      to: i % 2 === 0 ? `${prefix}-a` : `${prefix}-b`,
      amount: 70,
      currency: 'EUR',
    }));
    const results = await Promise.all(txs.map((t) => ledger.process(t, `s-${t.transactionId}`)));
    const outcomes = results.map((r) => ({ ...r.data, status: r.kind }));
    const processed = outcomes.filter((o) => o.status === 'processed').length;
    expect(processed).toBe(Math.floor(1000 / 70)); // 14 fit, the other 36 are insufficient-funds
    expect(
      outcomes
        .filter((o) => o.status === 'rejected')
        .every((o) => 'reason' in o && o.reason === 'insufficient-funds'),
    ).toBe(true);
    expect((await ledger.head(`${prefix}-src`, 0)).balanceAfter).toBe(1000 - 70 * processed);
    const report = await invariants(
      ledger,
      outcomes,
      txs.map((t) => `s-${t.transactionId}`),
    );
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('applies every transfer once when parallel runs of the same submissions race and crash', async () => {
    const db = await MongoDocumentStore.connect(inject('mongodbUrl'), `${dbName}_race`);
    try {
      const ledger = await ledgerOn(db);
      const rnd = seededRandom(99);
      const ids = Array.from({ length: 5 }, (_, i) => `r-${i}`);
      await openAll(ledger, Object.fromEntries(ids.map((id) => [id, rnd.int(100, 400)])));
      const txs: TransactionSubmitted[] = Array.from({ length: 60 }, (_, i) => ({
        transactionId: `r-t${i}`,
        from: rnd.pick(ids),
        to: rnd.pick(ids),
        amount: rnd.int(1, 150),
        currency: 'EUR',
      }));
      const outcomes: OutcomeRecord[] = [];
      await Promise.all(
        txs.map(async (t) => {
          const sub = `s-${t.transactionId}`;
          // A crashed first run (one step), then two deliveries at once (lock expiry after a stall).
          await ledger.decide(t, sub);
          const [a, b] = await Promise.all([ledger.process(t, sub), ledger.process(t, sub)]);
          expect(a.kind).toBe(b.kind);
          outcomes.push({ ...a.data, status: a.kind });
        }),
      );
      const report = await invariants(
        ledger,
        outcomes,
        txs.map((t) => `s-${t.transactionId}`),
      );
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.totals.processed).toBeGreaterThan(10);
    } finally {
      await db.db.dropDatabase();
      await db.close();
    }
  });

  it('completes every transfer exactly once when the store is killed and restarted mid-stream', async (ctx) => {
    if (!inject('mongodbManaged')) {
      ctx.skip(
        'MONGODB_URL points at an external server: this test needs a FerretDB it can kill and restart',
      );
      return;
    }
    const mongo = await startFerretdb();
    const db = await MongoDocumentStore.connect(mongo.url, 'banking_restart');
    try {
      const ledger = await ledgerOn(db);
      const ids = ['x-0', 'x-1', 'x-2', 'x-3'];
      await openAll(ledger, Object.fromEntries(ids.map((id) => [id, 500])));
      const rnd = seededRandom(5);
      const txs: TransactionSubmitted[] = Array.from({ length: 120 }, (_, i) => ({
        transactionId: `x-t${i}`,
        from: rnd.pick(ids),
        to: rnd.pick(ids),
        amount: rnd.int(1, 120),
        currency: 'EUR',
      }));
      const outcomes: OutcomeRecord[] = [];
      let failures = 0;
      let doneWhenBack = -1;
      let doneWhenDown = -1;
      let restarted: Promise<void> | undefined;
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < txs.length; i = next++) {
          const t = txs[i] as TransactionSubmitted;
          if (i === 40) {
            // The store goes away mid-stream; count what completed before it was back.
            restarted = (async () => {
              await mongo.kill('SIGKILL');
              doneWhenDown = outcomes.length;
              // An outage, not a blip: longer than the driver's server selection (5 s, MongoDocumentStore), so
              // calls fail instead of waiting it out and being retried by the driver.
              await new Promise((r) => setTimeout(r, 6000));
              await mongo.start();
              doneWhenBack = outcomes.length;
            })();
          }
          const result = await deliverUntilDone(async () => {
            try {
              return await ledger.process(t, `s-${t.transactionId}`);
            } catch (err) {
              failures++;
              throw err;
            }
          });
          outcomes.push({ ...result.data, status: result.kind });
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      await restarted;
      const report = await invariants(
        ledger,
        outcomes,
        txs.map((t) => `s-${t.transactionId}`),
      );
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(doneWhenDown, 'the store must go down mid-stream').toBeLessThan(txs.length);
      expect(doneWhenBack, 'transfers must still be running when the store came back').toBeLessThan(
        txs.length,
      );
      expect(failures, 'the outage must interrupt deliveries').toBeGreaterThan(0);
      expect(report.totals.processed).toBeGreaterThan(20);
      ctx.annotate(`${failures} deliveries failed during the restart and were redelivered`);
    } finally {
      await db.close();
      await mongo.stop();
    }
  });
});
