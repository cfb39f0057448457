/**
 * accounts-api's view on the stores it runs on besides the unit tests' memory store: FerretDB over the MongoDB wire
 * protocol (the integration project's server; MongoDB in production takes the same queries; the dev store of
 * `make dev` answers the same queries by the DocumentStore contract, platform/local/src/http-document-store.int.test.ts).
 * The same events, delivered out of order and redelivered, give the same answers (checked
 * against the OpenAPI document), and a page of the account list costs the same store calls: one read of the page,
 * one `_id` range read per account (docs/banking.md, "What differs from upstream and known limits").
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type DocumentStore, JsonLogger } from '../../runtime/src/index.ts';
import { answerRecorder } from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { countStoreCalls, openScratchStore } from '../../runtime/test/support.ts';
import { BankingEventType, Collections } from '../lib/banking.ts';
import { bankingEvent, stubContext } from '../lib/test-support.ts';
import { handle, init, routes } from './handler.ts';
import { openApiDocument } from './openapi.ts';

/** A store to run on, and how to let it go. */
interface Opened {
  readonly store: DocumentStore;
  close(): Promise<void>;
}

const STORES: Readonly<Record<string, () => Promise<Opened>>> = {
  ferretdb: () => openScratchStore(inject('mongodbUrl'), 'accounts_api_int'),
};

const ACCOUNTS = 30;
const VERSIONS = 12;
/** Ids that share prefixes (`acc-1`, `acc-10`…, `acc-1_x`): each account's balances are its own `_id` range. */
const accountId = (i: number) => (i % 10 === 3 ? `acc-${i}_x` : `acc-${i}`);

const opened = (id: string) =>
  bankingEvent(BankingEventType.accountOpened, `open-${id}`, {
    accountId: id,
    currency: 'EUR',
    openingBalance: 10_000,
  });

/** Transfer `v` of account pair (2k, 2k+1): account 2k at version v pays 10 to 2k+1 at version v. */
const transfer = (k: number, v: number) =>
  bankingEvent(BankingEventType.transactionProcessed, `reply-${k}-${v}`, {
    transactionId: `tx-${k}-${v}`,
    submissionId: `sub-${k}-${v}`,
    from: accountId(2 * k),
    to: accountId(2 * k + 1),
    amount: 10,
    currency: 'EUR',
    fromBalance: 10_000 - 10 * v,
    fromVersion: v,
    toBalance: 10_000 + 10 * v,
    toVersion: v,
  });

const answers = answerRecorder(openApiDocument());

for (const [name, open] of Object.entries(STORES))
  describe(`accounts-api on ${name}`, () => {
    let backend: Opened;
    let served: RoutesServer;
    const calls: string[] = [];

    beforeAll(async () => {
      backend = await open();
      const store = countStoreCalls(backend.store, (collection, operation) =>
        calls.push(`${collection} ${operation}`),
      );
      const log = new JsonLogger({ serviceName: 'accounts-api', sink: { write: () => true } });
      await init?.({ store, log, functionName: 'accounts-api' });
      const ctx = stubContext(store);
      // Transfers before the openings, newest first, each twice, in parallel: the order the broker may take.
      const deliveries = [];
      for (let v = VERSIONS; v >= 1; v--)
        for (let k = 0; k < ACCOUNTS / 2; k++) deliveries.push(transfer(k, v), transfer(k, v));
      await Promise.all(deliveries.map((event) => handle(event, ctx)));
      await Promise.all(Array.from({ length: ACCOUNTS }, (_, i) => handle(opened(accountId(i)), ctx)));
      served = await serveRoutes(routes, { store, log, functionName: 'accounts-api' });
    });

    afterAll(async () => {
      await served?.close();
      await backend?.close();
    });

    it('shows every account at its highest version, in the list as in the detail', async () => {
      calls.length = 0;
      const list = await answers.send(served.base, 'GET', `/accounts?limit=${ACCOUNTS}`);
      const listed = (list.body as { accounts: { id: string; balance: number; version: number }[] }).accounts;
      expect(listed).toHaveLength(ACCOUNTS);
      // The page read and one balance read per account: the list's store calls (sluice_store_calls_total).
      expect(calls.filter((c) => c === `${Collections.viewAccounts} find`)).toHaveLength(1);
      expect(calls.filter((c) => c === `${Collections.viewBalances} find`)).toHaveLength(ACCOUNTS);
      expect(calls).toHaveLength(1 + ACCOUNTS);
      for (const account of listed) {
        const i = Number(/^acc-(\d+)/.exec(account.id)?.[1]);
        expect(account, account.id).toMatchObject({
          balance: i % 2 === 0 ? 10_000 - 10 * VERSIONS : 10_000 + 10 * VERSIONS,
          version: VERSIONS,
        });
        const detail = await answers.send(served.base, 'GET', `/accounts/${account.id}`);
        expect(detail.body, account.id).toMatchObject(account);
      }
      expect(await backend.store.collection(Collections.viewBalances).countDocuments({})).toBe(
        ACCOUNTS * VERSIONS,
      );
    });

    it('pages the list by id with the same answers', async () => {
      const ids: string[] = [];
      let after: string | null = null;
      do {
        const query: string = after === null ? '' : `&after=${after}`;
        const page = await answers.send(served.base, 'GET', `/accounts?limit=7${query}`);
        const body = page.body as { accounts: { id: string }[]; next: string | null };
        ids.push(...body.accounts.map((a) => a.id));
        after = body.next;
      } while (after !== null);
      expect(ids).toEqual(Array.from({ length: ACCOUNTS }, (_, i) => accountId(i)).sort());
    });
  });
