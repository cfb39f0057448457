import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonLogger, MemoryDocumentStore } from '../../runtime/src/index.ts';
import { BankingEventType, RejectionReason } from '../lib/banking.ts';
import { bankingEvent, stubContext } from '../lib/test-support.ts';
import { handle, RECENT_TRANSACTIONS, routes } from './handler.ts';

const opened = (id: string, openingBalance: number) =>
  bankingEvent(BankingEventType.accountOpened, `open-${id}`, {
    accountId: id,
    currency: 'EUR',
    openingBalance,
  });

const processed = (
  n: number,
  fromBalance: number,
  fromVersion: number,
  toBalance: number,
  toVersion: number,
) =>
  bankingEvent(
    BankingEventType.transactionProcessed,
    `reply-${n}`,
    {
      transactionId: `tx-${n}`,
      submissionId: `sub-${n}`,
      from: 'a',
      to: 'b',
      amount: 10,
      currency: 'EUR',
      fromBalance,
      fromVersion,
      toBalance,
      toVersion,
    },
    new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
  );

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function serve(store: MemoryDocumentStore): Promise<string> {
  const app = express();
  const router = express.Router();
  routes?.(router, {
    store,
    log: new JsonLogger({ serviceName: 't', sink: { write: () => true } }),
    functionName: 't',
  });
  app.use(router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('accounts-api', () => {
  describe('handle', () => {
    it('never moves a balance back when events arrive out of order', async () => {
      const store = new MemoryDocumentStore();
      const ctx = stubContext(store);
      await handle(processed(2, 980, 2, 20, 2), ctx);
      await handle(processed(1, 990, 1, 10, 1), ctx); // older, delivered later
      await handle(opened('a', 1000), ctx); // opened delivered last of all
      await handle(opened('b', 0), ctx);
      const base = await serve(store);
      const a = (await (await fetch(`${base}/accounts/a`)).json()) as Record<string, unknown>;
      expect(a).toMatchObject({ id: 'a', balance: 980, version: 2, openingBalance: 1000, currency: 'EUR' });
    });

    it("reads an account's balance from its own ids, not from an account whose id starts the same", async () => {
      const store = new MemoryDocumentStore();
      const ctx = stubContext(store);
      for (const id of ['a', 'a-2', 'a_3', 'b']) await handle(opened(id, 1000), ctx);
      await handle(processed(1, 990, 1, 10, 1), ctx);
      const other = (n: number, version: number) =>
        bankingEvent(BankingEventType.transactionProcessed, `reply-x${n}`, {
          transactionId: `tx-x${n}`,
          submissionId: `sub-x${n}`,
          from: 'a-2',
          to: 'a_3',
          amount: 1,
          currency: 'EUR',
          fromBalance: 1000 - version,
          fromVersion: version,
          toBalance: 1000 + version,
          toVersion: version,
        });
      for (let v = 1; v <= 12; v++) await handle(other(v, v), ctx);
      const base = await serve(store);
      const read = async (id: string) =>
        (await (await fetch(`${base}/accounts/${id}`)).json()) as Record<string, unknown>;
      expect(await read('a')).toMatchObject({ balance: 990, version: 1 });
      expect(await read('a-2')).toMatchObject({ balance: 988, version: 12 });
      expect(await read('a_3')).toMatchObject({ balance: 1012, version: 12 });
    });

    it('inserts each balance once, never updates: a redelivered event adds nothing', async () => {
      const store = new MemoryDocumentStore();
      const ctx = stubContext(store);
      await handle(opened('a', 1000), ctx);
      await handle(opened('b', 0), ctx);
      await handle(processed(1, 990, 1, 10, 1), ctx);
      await handle(processed(1, 990, 1, 10, 1), ctx); // the same reply, delivered again
      expect(await store.collection('accounts_view_balances').countDocuments({})).toBe(2);
      const base = await serve(store);
      const list = (await (await fetch(`${base}/accounts`)).json()) as { accounts: unknown[] };
      expect(list.accounts).toEqual([
        { id: 'a', currency: 'EUR', balance: 990, openingBalance: 1000, version: 1 },
        { id: 'b', currency: 'EUR', balance: 10, openingBalance: 0, version: 1 },
      ]);
    });
  });

  describe('routes', () => {
    it('returns an account with its most recent transactions, bounded', async () => {
      const store = new MemoryDocumentStore();
      const ctx = stubContext(store);
      await handle(opened('a', 1000), ctx);
      await handle(opened('b', 0), ctx);
      const n = RECENT_TRANSACTIONS + 5;
      for (let i = 1; i <= n; i++) await handle(processed(i, 1000 - 10 * i, i, 10 * i, i), ctx);
      await handle(
        bankingEvent(
          BankingEventType.transactionRejected,
          'r-x',
          {
            transactionId: 'tx-x',
            submissionId: 'sub-x',
            from: 'b',
            to: 'a',
            amount: 1e9,
            currency: 'EUR',
            reason: RejectionReason.insufficientFunds,
            detail: '',
          },
          '2024-12-31T00:00:00.000Z',
        ),
        ctx,
      );
      const base = await serve(store);
      const res = await fetch(`${base}/accounts/a`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { balance: number; recentTransactions: { transactionId: string }[] };
      expect(body.balance).toBe(1000 - 10 * n);
      expect(body.recentTransactions).toHaveLength(RECENT_TRANSACTIONS);
      expect(body.recentTransactions[0]?.transactionId).toBe(`tx-${n}`);
      const all = (await (await fetch(`${base}/transactions?limit=1000`)).json()) as {
        transactions: unknown[];
      };
      expect(all.transactions).toHaveLength(n + 1);
    });

    it('answers 404 problem+json for an unknown account', async () => {
      const base = await serve(new MemoryDocumentStore());
      const res = await fetch(`${base}/accounts/nobody`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(((await res.json()) as { status: number }).status).toBe(404);
    });

    it('answers 400 for an id that is not a plain id (no query operators from the URL)', async () => {
      const store = new MemoryDocumentStore();
      await handle(opened('a', 1), stubContext(store));
      const base = await serve(store);
      for (const bad of ['%7B%22%24ne%22%3A1%7D', 'a.b', '%24gt', 'x'.repeat(65)]) {
        const res = await fetch(`${base}/accounts/${bad}`);
        expect(res.status, bad).toBe(400);
      }
    });

    it('pages the account list with after and limit', async () => {
      const store = new MemoryDocumentStore();
      for (const id of ['a', 'b', 'c']) await handle(opened(id, 5), stubContext(store));
      const base = await serve(store);
      const first = (await (await fetch(`${base}/accounts?limit=2`)).json()) as {
        accounts: { id: string }[];
        next: string;
      };
      expect(first.accounts.map((a) => a.id)).toEqual(['a', 'b']);
      const second = (await (await fetch(`${base}/accounts?limit=2&after=${first.next}`)).json()) as {
        accounts: { id: string }[];
        next: string | null;
      };
      expect(second.accounts.map((a) => a.id)).toEqual(['c']);
      expect(second.next).toBeNull();
      expect((await fetch(`${base}/accounts?limit=0`)).status).toBe(400);
    });
  });
});
