/**
 * accounts-api — the read side. It keeps its own view of the accounts from the pipeline's events
 * (account opened, transaction processed or rejected) and serves it over plain HTTP GET:
 *   GET /accounts              list (paged with ?after=<id>&limit=)
 *   GET /accounts/:id          balance, currency and the most recent transactions
 *   GET /transactions          every outcome, one per submission (paged), for `--verify`
 *   GET /accounts/openapi.json OpenAPI 3.1 of these routes (openapi.ts)
 * HEAD answers as GET without the body (express). A store that fails answers 503 + Retry-After (outage) or 500
 * (a bug), as the runtime's route fallbacks answer what a route rejected with; every refusal is problem+json.
 * A view of its own (not the processor's collections) is what lets it run on the in-memory store
 * of `make dev`, where each function process has its own memory, and scale apart from the writer.
 * Every balance an event reports is inserted under its account version (`<account>#<version>`), never
 * updated, and an account shows its highest version: events delivered out of order (parallel delivery)
 * never move a balance backwards, and a redelivery adds nothing. Inserted, not updated, because an update
 * on FerretDB reads first (a scan) and on PostgreSQL leaves a dead row version behind: the accounts
 * view's 100 documents, updated twice per transfer, grew into tens of thousands of dead rows that every
 * update scanned, and the view fell behind over 20,000 transfers (docs/performance.md).
 */
import type { Request, Response, Router } from 'express';
import type { Collection, DocumentStore, Filter, SluiceFunction } from '../../runtime/src/index.ts';
import { DuplicateKeyError, openApiRoute, QueryReader, sendProblem } from '../../runtime/src/index.ts';
import { BankingEventType, Collections, ID_PATTERN, slotId } from '../lib/banking.ts';
import { batchedWriter } from '../lib/batched-writer.ts';
import type { Handle } from './events.gen.ts';
import { DEFAULT_PAGE, MAX_AFTER_LENGTH, MAX_PAGE, openApiDocument, RECENT_TRANSACTIONS } from './openapi.ts';

export const accepts = [
  BankingEventType.accountOpened,
  BankingEventType.transactionProcessed,
  BankingEventType.transactionRejected,
] as const;

/**
 * Without the runtime's idempotency guard: every write is idempotent by itself (one balance per account
 * version, one outcome per submission id, the opening upserted), and nothing is replied, so the guard's
 * claim and completion would only add 2 store calls per event.
 */
export const idempotent = false;

/** An account's metadata, from its opening; the balance is its highest `BalanceView`. */
export interface AccountView extends Record<string, unknown> {
  _id: string;
  currency?: string;
  openingBalance?: number;
}

/** One balance of an account: its chain's `balanceAfter` at `version` (the entry's position). */
export interface BalanceView extends Record<string, unknown> {
  /** `<account>#<version>`: one document per account version. */
  _id: string;
  account: string;
  balance: number;
  version: number;
}

export interface TransactionView extends Record<string, unknown> {
  /** The submission's event id: one outcome per submission. */
  _id: string;
  transactionId: string;
  status: 'processed' | 'rejected';
  from: string;
  to: string;
  amount: number;
  currency: string;
  reason?: string;
  time: string;
}

const views = (store: DocumentStore) => ({
  accounts: store.collection<AccountView>(Collections.viewAccounts),
  balances: store.collection<BalanceView>(Collections.viewBalances),
  transactions: store.collection<TransactionView>(Collections.viewTransactions),
});

export const init: SluiceFunction['init'] = async ({ store }) => {
  // Balances need no index of their own: an account's are one `_id` range (`latestBalance`).
  const { transactions } = views(store);
  await transactions.createIndex({ keys: { from: 1, time: -1 }, name: 'from_time' });
  await transactions.createIndex({ keys: { to: 1, time: -1 }, name: 'to_time' });
};

/**
 * The balance of `account` at `version`, inserted once (a duplicate key is a redelivery's). Batched with
 * the other events' writes (batched-writer.ts).
 */
async function recordBalance(
  store: DocumentStore,
  account: string,
  balance: number,
  version: number,
): Promise<void> {
  await batchedWriter<BalanceView>(store, Collections.viewBalances).insert({
    _id: slotId(account, version),
    account,
    balance,
    version,
  });
}

/** One outcome per submission id; a duplicate is a redelivery's. Batched like the balances. */
async function recordOutcome(store: DocumentStore, view: TransactionView): Promise<void> {
  await batchedWriter<TransactionView>(store, Collections.viewTransactions).insert(view);
}

export const handle: Handle<typeof accepts> = async (event, { store }) => {
  const { accounts } = views(store);
  const time = event.time ?? new Date().toISOString();
  switch (event.type) {
    case BankingEventType.accountOpened: {
      const data = event.data;
      try {
        await accounts.updateOne(
          { _id: data.accountId },
          { $set: { currency: data.currency, openingBalance: data.openingBalance } },
          { upsert: true },
        );
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err; // a concurrent upsert created it first
        await accounts.updateOne(
          { _id: data.accountId },
          { $set: { currency: data.currency, openingBalance: data.openingBalance } },
        );
      }
      return undefined;
    }
    case BankingEventType.transactionProcessed: {
      const d = event.data;
      await Promise.all([
        recordBalance(store, d.from, d.fromBalance, d.fromVersion),
        recordBalance(store, d.to, d.toBalance, d.toVersion),
        recordOutcome(store, {
          _id: d.submissionId,
          transactionId: d.transactionId,
          status: 'processed',
          from: d.from,
          to: d.to,
          amount: d.amount,
          currency: d.currency,
          time,
        }),
      ]);
      return undefined;
    }
    default: {
      const d = event.data;
      await recordOutcome(store, {
        _id: d.submissionId,
        transactionId: d.transactionId,
        status: 'rejected',
        from: d.from,
        to: d.to,
        amount: d.amount,
        currency: d.currency,
        reason: d.reason,
        time,
      });
      return undefined;
    }
  }
};

/**
 * `?limit` and `?after` for paged lists, as documented (openapi.ts): `limit` decimal digits only (not `1e2`,
 * `0x10`, ` 5`, which `Number` would take), each given once; undefined after a 400 naming every one at fault.
 */
function page(req: Request, res: Response): { limit: number; filter: Filter } | undefined {
  const query = new QueryReader(req);
  const limit = query.limit(DEFAULT_PAGE, MAX_PAGE);
  const after = query.string('after', {
    max: MAX_AFTER_LENGTH,
    reason: `the \`next\` of a previous page, at most ${MAX_AFTER_LENGTH} characters`,
  });
  if (query.refused(res)) return undefined;
  return { limit, filter: after === undefined ? {} : { _id: { $gt: after } } };
}

/**
 * The account's highest recorded balance; its opening balance (version 0) before any. The last id of the
 * account's `_id` range (`slotId`): MongoDB's `_id` index walked backwards, one step (FerretDB 1.24 scans it).
 */
async function latestBalance(
  balances: Collection<BalanceView>,
  account: AccountView,
): Promise<{ balance: number; version: number }> {
  const [latest] = await balances.find(
    { _id: { $gt: `${account._id}#`, $lt: `${account._id}#~` } },
    { sort: { _id: -1 }, limit: 1 },
  );
  return latest === undefined
    ? { balance: account.openingBalance ?? 0, version: 0 }
    : { balance: latest.balance, version: latest.version };
}

function publicAccount(
  a: AccountView,
  latest: { balance: number; version: number },
): Record<string, unknown> {
  return {
    id: a._id,
    currency: a.currency ?? null,
    balance: latest.balance,
    openingBalance: a.openingBalance ?? null,
    version: latest.version,
  };
}

function publicTransaction(t: TransactionView): Record<string, unknown> {
  const { _id, ...rest } = t;
  return { submissionId: _id, ...rest };
}

export const routes: SluiceFunction['routes'] = (router: Router, { store }) => {
  const { accounts, balances, transactions } = views(store);

  // Before /accounts/:id, which would take `openapi.json` for an account id.
  router.get('/accounts/openapi.json', openApiRoute(openApiDocument()));

  router.get('/accounts', async (req, res) => {
    const p = page(req, res);
    if (p === undefined) return;
    const list = await accounts.find(p.filter, { sort: { _id: 1 }, limit: p.limit });
    const latest = await Promise.all(list.map((a) => latestBalance(balances, a)));
    const last = list.at(-1);
    res.json({
      accounts: list.map((a, i) => publicAccount(a, latest[i] ?? { balance: 0, version: 0 })),
      next: list.length === p.limit && last ? last._id : null,
    });
  });

  router.get('/accounts/:id', async (req, res) => {
    const id = req.params.id;
    // Ids are plain strings matched with $eq: nothing from the URL can become a query operator.
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      sendProblem(res, 400, 'account ids are 1-64 letters, digits, _ or -', {
        extensions: {
          'invalid-params': [
            { name: 'id', reason: '1-64 letters, digits, _ or -, starting with a letter or digit' },
          ],
        },
      });
      return;
    }
    const account = await accounts.findOne({ _id: { $eq: id } });
    if (account === null || account.currency === undefined) {
      sendProblem(res, 404, `no account ${id}`);
      return;
    }
    const [latest, sent, received] = await Promise.all([
      latestBalance(balances, account),
      transactions.find({ from: { $eq: id } }, { sort: { time: -1 }, limit: RECENT_TRANSACTIONS }),
      transactions.find({ to: { $eq: id } }, { sort: { time: -1 }, limit: RECENT_TRANSACTIONS }),
    ]);
    const recent = [...sent, ...received]
      .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
      .slice(0, RECENT_TRANSACTIONS);
    res.json({ ...publicAccount(account, latest), recentTransactions: recent.map(publicTransaction) });
  });

  router.get('/transactions', async (req, res) => {
    const p = page(req, res);
    if (p === undefined) return;
    const list = await transactions.find(p.filter, { sort: { _id: 1 }, limit: p.limit });
    const last = list.at(-1);
    res.json({
      transactions: list.map(publicTransaction),
      next: list.length === p.limit && last ? last._id : null,
    });
  });

  router.use((_req: Request, res: Response) => {
    sendProblem(res, 404, 'GET /accounts, /accounts/:id, /transactions or /accounts/openapi.json');
  });
};
