/**
 * The processor killed mid-stream: the real process (`node functions/runtime/src/main.ts`) on the
 * shared FerretDB, fed over HTTP like the broker's dispatcher does; SIGKILLed while transfers are in
 * flight, started again, and everything that did not get a 2xx delivered again, as the broker would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../../platform/test-servers/ports.ts';
import { MongoDocumentStore, toBinary } from '../../runtime/src/index.ts';
import { BankingEventType, type TransactionProcessed, type TransactionRejected } from '../lib/banking.ts';
import { checkInvariants, type OutcomeRecord } from '../lib/invariants.ts';
import { Ledger } from '../lib/ledger.ts';
import { seededRandom } from '../lib/prng.ts';
import { bankingEvent } from '../lib/test-support.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const dbName = `banking_kill_int_${process.pid}_${Date.now()}`;
let store: MongoDocumentStore;
let port: number;
let child: ChildProcess | undefined;

async function startProcessor(): Promise<void> {
  const proc = spawn(process.execPath, [join(root, 'functions/runtime/src/main.ts')], {
    env: {
      ...process.env,
      FUNCTION_DIR: join(root, 'functions/banking/transaction-processor'),
      PORT: String(port),
      HOST: '127.0.0.1',
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: dbName,
      HANDLER_TIMEOUT_SECONDS: '2',
      IDEMPOTENCY_LOCK_SECONDS: '3',
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child = proc;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`processor exited with ${proc.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/readiness`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error('processor not ready within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function killProcessor(): Promise<void> {
  const proc = child;
  if (proc === undefined || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

interface Answer {
  status: number;
  type: string | null;
  body: string;
}

async function send(type: string, id: string, data: unknown): Promise<Answer | undefined> {
  const { headers, body } = toBinary(bankingEvent(type, id, data));
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers, body });
    return { status: res.status, type: res.headers.get('ce-type'), body: await res.text() };
  } catch {
    return undefined; // no response: the broker retries
  }
}

beforeAll(async () => {
  port = await freePort();
  store = await MongoDocumentStore.connect(inject('mongodbUrl'), dbName);
  await startProcessor();
});

afterAll(async () => {
  await killProcessor();
  await store.db.dropDatabase();
  await store.close();
});

describe('transaction-processor process', () => {
  it('keeps every invariant when SIGKILLed mid-stream and redelivered to', async () => {
    const rnd = seededRandom(2024);
    const accounts = Array.from({ length: 6 }, (_, i) => `k-${i}`);
    for (const id of accounts) {
      const a = await send(BankingEventType.accountOpened, `open-${id}`, {
        accountId: id,
        currency: 'EUR',
        openingBalance: 1000,
      });
      expect(a?.status).toBe(204);
    }
    const transfers = Array.from({ length: 240 }, (_, i) => ({
      transactionId: `k-t${i}`,
      from: rnd.pick(accounts),
      to: rnd.pick(accounts),
      amount: rnd.int(1, 400),
      currency: 'EUR',
    }));
    const answers = new Map<string, Answer>();
    let killedAt = -1;
    let next = 0;
    const deliverOnce = async (): Promise<void> => {
      for (let i = next++; i < transfers.length; i = next++) {
        const t = transfers[i] as (typeof transfers)[number];
        if (i === 80 && killedAt < 0) {
          killedAt = answers.size;
          await killProcessor(); // in-flight requests of the other workers die with it
        }
        const a = await send(BankingEventType.transactionSubmitted, `sub-${t.transactionId}`, t);
        if (a !== undefined && a.status >= 200 && a.status < 300) answers.set(t.transactionId, a);
      }
    };
    await Promise.all(Array.from({ length: 12 }, deliverOnce));
    expect(killedAt).toBeGreaterThan(0);
    const lost = transfers.filter((t) => !answers.has(t.transactionId)).length;
    expect(lost, 'the kill must leave deliveries without an answer').toBeGreaterThan(0);

    await startProcessor();
    // Redeliver everything without a 2xx, as a dispatcher does: the same 12 in flight at most, with backoff between
    // rounds (503 while a dead run's lock lives). Fails when a minute passes without one more answer: a stall, not
    // a slow machine (the test's own timeout bounds the whole).
    let lastProgress = Date.now();
    for (let delay = 100; answers.size < transfers.length; delay = Math.min(delay * 2, 1000)) {
      const before = answers.size;
      const pending = transfers.filter((t) => !answers.has(t.transactionId));
      let cursor = 0;
      const redeliver = async (): Promise<void> => {
        for (let t = pending[cursor++]; t !== undefined; t = pending[cursor++]) {
          const a = await send(BankingEventType.transactionSubmitted, `sub-${t.transactionId}`, t);
          if (a !== undefined && a.status >= 200 && a.status < 300) answers.set(t.transactionId, a);
          else if (a !== undefined && a.status < 500 && a.status !== 409 && a.status !== 429)
            throw new Error(`non-retriable ${a.status}: ${a.body}`);
        }
      };
      await Promise.all(Array.from({ length: 12 }, redeliver));
      if (answers.size > before) lastProgress = Date.now();
      expect(
        Date.now() - lastProgress < 60_000,
        `${transfers.length - answers.size} unanswered, no progress for 60 s`,
      ).toBe(true);
      await new Promise((r) => setTimeout(r, delay));
    }

    // A redelivery after completion answers the same bytes (re-derived from the ledger), not a second effect.
    const t0 = transfers[0] as (typeof transfers)[number];
    expect((await send(BankingEventType.transactionSubmitted, `sub-${t0.transactionId}`, t0))?.body).toBe(
      answers.get(t0.transactionId)?.body,
    );

    const outcomes: OutcomeRecord[] = [...answers.values()].map((a) => {
      const data = JSON.parse(a.body) as TransactionProcessed | TransactionRejected;
      return a.type === BankingEventType.transactionProcessed
        ? { ...data, status: 'processed' as const }
        : { ...data, status: 'rejected' as const, reason: (data as TransactionRejected).reason };
    });
    const ledger = new Ledger(store);
    const accountDocs = await ledger.accounts.find({});
    const report = checkInvariants({
      accounts: await Promise.all(
        accountDocs.map(async (a) => ({
          id: a._id,
          balance: (await ledger.head(a._id, a.head)).balanceAfter,
          openingBalance: a.openingBalance,
        })),
      ),
      outcomes,
      expectedSubmissions: transfers.map((t) => `sub-${t.transactionId}`),
      unfinishedTransfers: await ledger.unfinished(),
    });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.totals.processed).toBeGreaterThan(50);
  }, 300_000);
});
