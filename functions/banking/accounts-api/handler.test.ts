import { afterEach, describe, expect, it } from 'vitest';
import { JsonLogger, MemoryDocumentStore } from '../../runtime/src/index.ts';
import {
  answerOf,
  answerRecorder,
  documentedOperations,
  expectServedDocument,
  routeProblems,
} from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { BankingEventType, RejectionReason } from '../lib/banking.ts';
import { bankingEvent, stubContext } from '../lib/test-support.ts';
import { handle, routes } from './handler.ts';
import { MAX_AFTER_LENGTH, MAX_PAGE, openApiDocument, RECENT_TRANSACTIONS } from './openapi.ts';

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

const DOCUMENT_PATH = '/accounts/openapi.json';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** The handler's routes on a server of their own, closed after the test. */
async function serveOn(store: MemoryDocumentStore): Promise<RoutesServer> {
  const log = new JsonLogger({ serviceName: 't', sink: { write: () => true } });
  const served = await serveRoutes(routes, { store, log, functionName: 't' });
  closers.push(() => served.close());
  return served;
}

const serve = async (store: MemoryDocumentStore): Promise<string> => (await serveOn(store)).base;

/** Every answer a test reads is checked against the OpenAPI document (the document cannot drift) and counted. */
const answers = answerRecorder(openApiDocument());

async function get<T = Record<string, unknown>>(base: string, path: string) {
  const answer = await answerOf('GET', path, await fetch(`${base}${path}`));
  // The document itself is the one answer it does not describe.
  if (answer.path !== DOCUMENT_PATH) expect(answers.check(answer)).toEqual([]);
  return { ...answer, type: answer.contentType ?? '', body: answer.body as T };
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
      const a = (await get(base, '/accounts/a')).body;
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
      const read = async (id: string) => (await get(base, `/accounts/${id}`)).body;
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
      const list = (await get<{ accounts: unknown[] }>(base, '/accounts')).body;
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
      const { status, body } = await get<{
        balance: number;
        recentTransactions: { transactionId: string }[];
      }>(base, '/accounts/a');
      expect(status).toBe(200);
      expect(body.balance).toBe(1000 - 10 * n);
      expect(body.recentTransactions).toHaveLength(RECENT_TRANSACTIONS);
      expect(body.recentTransactions[0]?.transactionId).toBe(`tx-${n}`);
      const all = (await get<{ transactions: Record<string, unknown>[] }>(base, '/transactions?limit=1000'))
        .body;
      expect(all.transactions).toHaveLength(n + 1);
      expect(all.transactions.find((t) => t.submissionId === 'sub-x')).toMatchObject({
        status: 'rejected',
        reason: RejectionReason.insufficientFunds,
      });
    });

    it('answers 404 problem+json for an unknown account', async () => {
      const base = await serve(new MemoryDocumentStore());
      const { status, type, body } = await get(base, '/accounts/nobody');
      expect(status).toBe(404);
      expect(type).toContain('application/problem+json');
      expect(body).toMatchObject({ status: 404, detail: 'no account nobody' });
    });

    it('answers 400 for an id that is not a plain id (no query operators from the URL)', async () => {
      const store = new MemoryDocumentStore();
      await handle(opened('a', 1), stubContext(store));
      const base = await serve(store);
      for (const bad of ['%7B%22%24ne%22%3A1%7D', 'a.b', '%24gt', 'x'.repeat(65)]) {
        const { status, type } = await get(base, `/accounts/${bad}`);
        expect(status, bad).toBe(400);
        expect(type, bad).toContain('application/problem+json');
      }
    });

    it('pages the account list with after and limit', async () => {
      const store = new MemoryDocumentStore();
      for (const id of ['a', 'b', 'c']) await handle(opened(id, 5), stubContext(store));
      const base = await serve(store);
      type Page = { accounts: { id: string }[]; next: string | null };
      const first = (await get<Page>(base, '/accounts?limit=2')).body;
      expect(first.accounts.map((a) => a.id)).toEqual(['a', 'b']);
      const second = (await get<Page>(base, `/accounts?limit=2&after=${first.next}`)).body;
      expect(second.accounts.map((a) => a.id)).toEqual(['c']);
      expect(second.next).toBeNull();
    });

    it('pages the outcomes with after and limit', async () => {
      const store = new MemoryDocumentStore();
      const ctx = stubContext(store);
      for (const id of ['a', 'b']) await handle(opened(id, 1000), ctx);
      for (let i = 1; i <= 3; i++) await handle(processed(i, 1000 - 10 * i, i, 1000 + 10 * i, i), ctx);
      const base = await serve(store);
      type Page = { transactions: { submissionId: string }[]; next: string | null };
      const first = (await get<Page>(base, '/transactions?limit=2')).body;
      expect(first.transactions.map((t) => t.submissionId)).toEqual(['sub-1', 'sub-2']);
      expect(first.next).toBe('sub-2');
      const second = (await get<Page>(base, `/transactions?limit=2&after=${first.next}`)).body;
      expect(second).toEqual({
        transactions: [expect.objectContaining({ submissionId: 'sub-3' })],
        next: null,
      });
    });

    it('answers 400 problem+json for paging out of bounds, on both lists', async () => {
      const base = await serve(new MemoryDocumentStore());
      for (const list of ['/accounts', '/transactions'])
        for (const query of [
          'limit=0',
          `limit=${MAX_PAGE + 1}`,
          'limit=1.5',
          'limit=ten',
          'after=a&after=b',
          `after=${'x'.repeat(MAX_AFTER_LENGTH + 1)}`,
        ]) {
          const { status, type } = await get(base, `${list}?${query}`);
          expect(status, `${list}?${query}`).toBe(400);
          expect(type).toContain('application/problem+json');
        }
      expect(
        (await get(base, `/transactions?limit=${MAX_PAGE}&after=${'x'.repeat(MAX_AFTER_LENGTH)}`)).status,
      ).toBe(200);
    });
  });

  describe('OpenAPI', () => {
    it('serves its OpenAPI 3.1 document at /accounts/openapi.json, not as an account id', async () => {
      const served = await get(await serve(new MemoryDocumentStore()), DOCUMENT_PATH);
      expectServedDocument(served, openApiDocument());
    });

    it('documents every route its router serves, and no other', async () => {
      // The document itself is the one route it does not describe; HEAD, express's own, it leaves out.
      const { router } = await serveOn(new MemoryDocumentStore());
      const options = { implicitHead: false, undocumented: [`GET ${DOCUMENT_PATH}`] };
      expect(routeProblems(router, openApiDocument(), options)).toEqual([]);
      expect(documentedOperations(openApiDocument()).map((o) => o.name)).toContain('GET /accounts/{id}');
    });

    // Last in the file: the tests run in order, and this one reads what the others exercised.
    it('has had every documented status answered by the tests above', () => {
      expect(answers.unanswered()).toEqual([]);
    });
  });
});
