/**
 * The ledger: accounts and transfers on a store without multi-document transactions (FerretDB).
 *
 * The only write FerretDB v1 (SQLite) makes atomic under concurrency is an insert checked by a
 * unique index: its update and findAndModify read, then write, without isolation, so parallel
 * conditional `$inc`s lose updates (docs/banking.md shows the probe). So balances are not updated in
 * place. Each account is an append-only chain of entries in `banking_entries`:
 *   _id `<account>#<seq>`  (unique: one entry per position, the optimistic-concurrency check)
 *   {account, txId}        (unique index: one effect per transaction per account)
 *   balanceAfter = previous entry's balanceAfter + delta, never below zero.
 * A debit reads the chain's head n and inserts n+1; a parallel debit that inserted n+1 first makes
 * this insert fail, and it retries on the new head, so no two debits are computed from one balance.
 * A rejection is recorded as entry `<from>!<txId>` with the same {account, txId} key, so for one
 * transaction the debit and the rejection exclude each other: the first decision is final.
 * The transfer document (`banking_transfers`, keyed by transaction id) claims the id for its content;
 * its final state (processed | rejected, with the balances) is inserted once into
 * `banking_transfer_outcomes` when decided. Nothing is ever updated: on FerretDB 1.24 every update and
 * every read by `_id` scans the collection (its pushed-down `_id` filter matches none of its own indexes;
 * docs/performance.md), while an insert is checked by a unique index, so a transfer's cost stays flat
 * as the collections grow. Every step re-derives the same result from the entries, so a run repeated
 * after a crash, or two runs at once, apply it once; a redelivery reads the outcome, or resumes.
 */
import { createHash } from 'node:crypto';
import type { Collection, DocumentStore } from '../../runtime/src/index.ts';
import { DuplicateKeyError, PermanentError, TransientError } from '../../runtime/src/index.ts';
import {
  type AccountOpened,
  Collections,
  RejectionReason,
  type TransactionProcessed,
  type TransactionRejected,
  type TransactionSubmitted,
} from './banking.ts';

export const TransferState = {
  pending: 'pending',
  debited: 'debited',
  processed: 'processed',
  rejected: 'rejected',
} as const;
export type TransferState = (typeof TransferState)[keyof typeof TransferState];

/** The states that end a transfer: recorded once, by insert, in `banking_transfer_outcomes`. */
const FINAL: ReadonlySet<TransferState> = new Set([TransferState.processed, TransferState.rejected]);

export const EntryKind = { open: 'open', debit: 'debit', credit: 'credit', reject: 'reject' } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** Account metadata; written once. The balance lives in the account's entry chain. */
export interface AccountDoc extends Record<string, unknown> {
  _id: string;
  currency: string;
  openingBalance: number;
  owner?: string;
  openedBy: string;
  openedAt: string;
  /** Where the chain's head was last seen: a hint that may lag, never trusted without probing. */
  head: number;
}

export interface EntryDoc extends Record<string, unknown> {
  _id: string;
  account: string;
  txId: string;
  kind: EntryKind;
  /** Position in the account's chain; absent on rejections (they change no balance). */
  seq?: number;
  delta: number;
  balanceAfter: number;
  reason?: RejectionReason;
  detail?: string;
  at: string;
}

/**
 * A transfer as a run sees it: the stored submission (`banking_transfers`: id, content, first
 * submission) with the state it has reached. Only the final state is stored (OutcomeDoc); `pending` and
 * `debited` live in the run (the debit entry is the record of `debited`).
 */
export interface TransferDoc extends Record<string, unknown> {
  _id: string;
  from: string;
  to: string;
  amount: number;
  currency: string;
  reference?: string;
  contentHash: string;
  submissionId: string;
  state: TransferState;
  reason?: RejectionReason;
  detail?: string;
  fromBalance?: number;
  fromVersion?: number;
  toBalance?: number;
  toVersion?: number;
  createdAt: string;
  updatedAt: string;
}

/** `banking_transfer_outcomes`: a transfer's final state, keyed by transaction id, inserted once. */
export interface OutcomeDoc extends Record<string, unknown> {
  _id: string;
  state: typeof TransferState.processed | typeof TransferState.rejected;
  reason?: RejectionReason;
  detail?: string;
  fromBalance?: number;
  fromVersion?: number;
  toBalance?: number;
  toVersion?: number;
  decidedAt: string;
}

export type TransferOutcome =
  | { readonly kind: 'processed'; readonly data: TransactionProcessed }
  | { readonly kind: 'rejected'; readonly data: TransactionRejected };

export interface LedgerOptions {
  /** Stops the steps of a run that timed out: a zombie run must not keep writing. */
  readonly signal?: AbortSignal;
  /** @default () => new Date().toISOString() */
  readonly now?: () => string;
  /** What this process has already read from the store (one per store; see LedgerCache). */
  readonly cache?: LedgerCache;
}

/**
 * Per-process memory of what never changes in the store, to save round trips (each one is a network
 * call to MongoDB or the dev store): account metadata (written once; only found accounts are kept,
 * since a missing one may be opened later) and the last chain entry seen per account (entries are
 * immutable). A cached head is only a guess of where to append: the insert at head+1 still fails on
 * `_id` when another run moved the chain on, and an insufficient-funds decision is never taken from
 * it. So a stale cache costs a retry, never correctness.
 */
export class LedgerCache {
  readonly #accounts = new Map<string, AccountDoc>();
  readonly #heads = new Map<string, EntryDoc>();
  readonly #max: number;

  constructor(maxAccounts = 50_000) {
    this.#max = maxAccounts;
  }

  account(id: string): AccountDoc | undefined {
    return this.#accounts.get(id);
  }

  rememberAccount(doc: AccountDoc): void {
    if (this.#accounts.size >= this.#max) this.#accounts.clear();
    this.#accounts.set(doc._id, doc);
  }

  head(account: string): EntryDoc | undefined {
    return this.#heads.get(account);
  }

  /** Moves the remembered head forward only: a slower run must not make it older. */
  rememberHead(entry: EntryDoc): void {
    if (entry.seq === undefined) return;
    const known = this.#heads.get(entry.account);
    if (known !== undefined && (known.seq ?? 0) >= entry.seq) return;
    if (this.#heads.size >= this.#max) this.#heads.clear();
    this.#heads.set(entry.account, entry);
  }
}

const stores = new WeakMap<DocumentStore, LedgerCache>();
/** The cache for one store, shared by every event this process handles on it. */
export function ledgerCacheFor(store: DocumentStore): LedgerCache {
  let cache = stores.get(store);
  if (cache === undefined) {
    cache = new LedgerCache();
    stores.set(store, cache);
  }
  return cache;
}

/** With a cache, the account's head hint is written every this many entries instead of on each one. */
const HEAD_HINT_EVERY = 8;

/** An account id opened twice with different content: the second one is dead-lettered. */
export class AccountConflictError extends PermanentError {
  override name = 'AccountConflictError';
  constructor(message: string) {
    super('account-conflict', message);
  }
}

/** Identity of a transfer's content: the same id with other content is a different transaction. */
export function contentHash(tx: TransactionSubmitted): string {
  return createHash('sha256')
    .update(JSON.stringify([tx.from, tx.to, tx.amount, tx.currency, tx.reference ?? '']))
    .digest('base64url');
}

export const slotId = (account: string, seq: number): string => `${account}#${String(seq).padStart(12, '0')}`;
export const rejectionId = (account: string, txId: string): string => `${account}!${txId}`;

/** Create the indexes the ledger's correctness depends on (the unique one) and its queries use. */
export async function createLedgerIndexes(store: DocumentStore): Promise<void> {
  const entries = store.collection(Collections.entries);
  await entries.createIndex({ keys: { account: 1, txId: 1 }, unique: true, name: 'account_txId' });
}

const MAX_ATTEMPTS = 200;
/** Collisions retried on the cache's newer head before reading the store. */
const CACHED_RETRIES = 3;

export class Ledger {
  readonly accounts: Collection<AccountDoc>;
  readonly entries: Collection<EntryDoc>;
  readonly transfers: Collection<TransferDoc>;
  readonly outcomes: Collection<OutcomeDoc>;
  readonly #signal: AbortSignal | undefined;
  readonly #now: () => string;
  readonly #cache: LedgerCache | undefined;

  constructor(store: DocumentStore, options: LedgerOptions = {}) {
    this.accounts = store.collection<AccountDoc>(Collections.accounts);
    this.entries = store.collection<EntryDoc>(Collections.entries);
    this.transfers = store.collection<TransferDoc>(Collections.transfers);
    this.outcomes = store.collection<OutcomeDoc>(Collections.outcomes);
    this.#signal = options.signal;
    this.#now = options.now ?? (() => new Date().toISOString());
    this.#cache = options.cache;
  }

  /**
   * Opens an account once: the opening entry first, then the metadata (whose presence means "open").
   * The same content again is a no-op (and completes a half-done opening); other content conflicts.
   */
  async openAccount(data: AccountOpened, eventId: string): Promise<'opened' | 'exists'> {
    const at = this.#now();
    const opening: EntryDoc = {
      _id: slotId(data.accountId, 0),
      account: data.accountId,
      txId: `open:${data.accountId}`,
      kind: EntryKind.open,
      seq: 0,
      delta: data.openingBalance,
      balanceAfter: data.openingBalance,
      at,
    };
    if (!(await this.#insertOnce(this.entries, opening))) {
      const existing = await this.entries.findOne({ _id: opening._id });
      if (existing?.kind !== EntryKind.open || existing.delta !== data.openingBalance) {
        throw new AccountConflictError(
          `account ${data.accountId} is already open with another opening balance`,
        );
      }
    }
    const doc: AccountDoc = {
      _id: data.accountId,
      currency: data.currency,
      openingBalance: data.openingBalance,
      openedBy: eventId,
      openedAt: at,
      head: 0,
    };
    if (data.owner !== undefined) doc.owner = data.owner;
    if (await this.#insertOnce(this.accounts, doc)) return 'opened';
    const existing = await this.accounts.findOne({ _id: data.accountId });
    if (existing?.currency === data.currency && existing.owner === data.owner) return 'exists';
    throw new AccountConflictError(
      `account ${data.accountId} is already open with different content (opened by event ${existing?.openedBy})`,
    );
  }

  /**
   * Records the transfer (or finds it) and drives it to a final state. Runs any number of times,
   * also concurrently, for the same transaction with the same effect; `submissionId` is the id of
   * the event being answered.
   */
  async process(tx: TransactionSubmitted, submissionId: string): Promise<TransferOutcome> {
    const { transfer, conflict } = await this.record(tx, submissionId);
    if (conflict) {
      return rejected(
        {
          ...transfer,
          _id: tx.transactionId,
          from: tx.from,
          to: tx.to,
          amount: tx.amount,
          currency: tx.currency,
        },
        submissionId,
        RejectionReason.duplicateDifferentContent,
        `transaction ${tx.transactionId} was already submitted with different content (by ${transfer.submissionId})`,
      );
    }
    let t = transfer;
    if (t.state === TransferState.pending) t = await this.decide(t);
    if (t.state === TransferState.debited) t = await this.credit(t);
    if (t.state === TransferState.processed) return { kind: 'processed', data: processed(t, submissionId) };
    if (t.state === TransferState.rejected) {
      return rejected(t, submissionId, t.reason ?? RejectionReason.unknownAccount, t.detail ?? '');
    }
    throw new TransientError(`transfer ${t._id} is in state ${t.state}; retry`);
  }

  /**
   * Inserts the transfer (in `pending`), or loads the one recorded by an earlier run with the state it
   * reached: its outcome when decided, else `pending` (the next steps find what was written).
   */
  async record(
    tx: TransactionSubmitted,
    submissionId: string,
  ): Promise<{ transfer: TransferDoc; conflict: boolean }> {
    const now = this.#now();
    const doc: TransferDoc = {
      _id: tx.transactionId,
      from: tx.from,
      to: tx.to,
      amount: tx.amount,
      currency: tx.currency,
      contentHash: contentHash(tx),
      submissionId,
      state: TransferState.pending,
      createdAt: now,
      updatedAt: now,
    };
    if (tx.reference !== undefined) doc.reference = tx.reference;
    const { state: _pending, updatedAt: _at, ...stored } = doc;
    if (await this.#insertOnce(this.transfers, stored as TransferDoc))
      return { transfer: doc, conflict: false };
    // A redelivery, or a second submission of the id: the only reads, off the hot path.
    const existing = await this.transfers.findOne({ _id: tx.transactionId });
    if (existing === null) throw new TransientError(`transfer ${tx.transactionId} vanished; retry`);
    if (existing.contentHash !== doc.contentHash) return { transfer: existing, conflict: true };
    const outcome = await this.outcomes.findOne({ _id: tx.transactionId });
    return {
      transfer: withOutcome(
        // Transfers stored before outcomes had their own state; new ones have none: `pending` until decided.
        { ...existing, state: (existing.state as TransferState | undefined) ?? TransferState.pending },
        outcome,
      ),
      conflict: false,
    };
  }

  /**
   * The transaction's one decision on its `from` account: a debit entry, or a rejection entry. Both
   * carry the unique {account, txId}, so whichever run records first decides for all.
   */
  async decide(t: TransferDoc): Promise<TransferDoc> {
    let decision: EntryDoc;
    if (t.from === t.to) {
      decision = await this.recordRejection(
        t,
        RejectionReason.sameAccount,
        'from and to are the same account',
      );
    } else {
      const [from, to] = await Promise.all([this.#account(t.from), this.#account(t.to)]);
      if (from === null || to === null) {
        const missing = [from === null ? t.from : '', to === null ? t.to : ''].filter((s) => s !== '');
        decision = await this.recordRejection(
          t,
          RejectionReason.unknownAccount,
          `unknown account(s): ${missing.join(', ')}`,
        );
      } else if (from.currency !== t.currency || to.currency !== t.currency) {
        decision = await this.recordRejection(
          t,
          RejectionReason.currencyMismatch,
          `transfer in ${t.currency}; ${t.from} holds ${from.currency}, ${t.to} holds ${to.currency}`,
        );
      } else {
        decision = await this.append(t.from, t._id, EntryKind.debit, -t.amount, from.head);
      }
    }
    if (decision.kind === EntryKind.reject) {
      return this.#setState(t, TransferState.rejected, {
        reason: decision.reason ?? RejectionReason.unknownAccount,
        detail: decision.detail ?? '',
      });
    }
    return this.#setState(t, TransferState.debited, {
      fromBalance: decision.balanceAfter,
      fromVersion: decision.seq ?? 0,
    });
  }

  /** Credits `to` once (the entry's {account, txId} is unique), then records `processed`. */
  async credit(t: TransferDoc): Promise<TransferDoc> {
    const account = await this.#account(t.to);
    if (account === null)
      throw new TransientError(`account ${t.to} vanished before the credit of ${t._id}; retry`);
    const entry = await this.append(t.to, t._id, EntryKind.credit, t.amount, account.head);
    return this.#setState(t, TransferState.processed, {
      toBalance: entry.balanceAfter,
      toVersion: entry.seq ?? 0,
    });
  }

  /**
   * Appends an entry at the head of an account's chain. A debit that the head's balance cannot cover
   * becomes an insufficient-funds rejection. Returns the entry this transaction has on the account,
   * whichever run wrote it.
   */
  async append(
    account: string,
    txId: string,
    kind: EntryKind,
    delta: number,
    hint: number,
  ): Promise<EntryDoc> {
    let guess = this.#cache?.head(account);
    let seq = Math.max(hint, guess?.seq ?? 0);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // The cached head saves the probe when it is current; if not, the insert below collides.
      const head = guess ?? (await this.head(account, seq));
      const guessed = guess !== undefined;
      guess = undefined;
      seq = head.seq ?? 0;
      if (head.balanceAfter + delta < 0) {
        if (guessed) continue; // decide on the store's head, not on a possibly stale one
        return this.#recordRejection(
          account,
          txId,
          RejectionReason.insufficientFunds,
          `${account} cannot cover ${-delta}`,
        );
      }
      const entry: EntryDoc = {
        _id: slotId(account, seq + 1),
        account,
        txId,
        kind,
        seq: seq + 1,
        delta,
        balanceAfter: head.balanceAfter + delta,
        at: this.#now(),
      };
      if (await this.#insertOnce(this.entries, entry)) {
        this.#cache?.rememberHead(entry);
        // Best effort: a stale hint only costs a few more probes. A process with a cache knows its
        // heads already, so the hint only serves new instances: write it every few entries.
        if (this.#cache === undefined || (entry.seq ?? 0) % HEAD_HINT_EVERY === 0) {
          await this.accounts.updateOne(
            { _id: account, head: { $lt: entry.seq } },
            { $set: { head: entry.seq } },
          );
        }
        return entry;
      }
      // Another run of this process took the slot and the cache knows its entry: try after it, without a
      // read (a read by _id scans the collection on FerretDB 1.24). A few times only: a collision may also
      // be this transaction's own entry (the unique {account, txId}), which only a read can tell.
      const known = this.#cache?.head(account);
      if (attempt < CACHED_RETRIES && known !== undefined && (known.seq ?? 0) > seq) {
        guess = known;
        continue;
      }
      // Either another entry took the slot (go again from the new head), or this transaction already
      // has its entry on this account (the unique {account, txId}): then that one is the answer.
      const slot = await this.entries.findOne({ _id: entry._id });
      if (slot?.txId === txId) return slot;
      if (slot === null || attempt % 8 === 7) {
        const existing = await this.entries.findOne({ account, txId });
        if (existing !== null) return existing;
      }
    }
    throw new TransientError(`account ${account} is too contended to append ${txId}; retry`);
  }

  /** The last entry of the chain, found by probing forward from a hint (point reads by _id only). */
  async head(account: string, hint: number): Promise<EntryDoc> {
    let current = await this.entries.findOne({ _id: slotId(account, hint) });
    if (current === null) {
      current = await this.entries.findOne({ _id: slotId(account, 0) });
      if (current === null) throw new TransientError(`account ${account} has no opening entry yet; retry`);
    }
    for (;;) {
      const next = await this.entries.findOne({ _id: slotId(account, (current.seq ?? 0) + 1) });
      if (next === null) {
        this.#cache?.rememberHead(current);
        return current;
      }
      current = next;
    }
  }

  async recordRejection(t: TransferDoc, reason: RejectionReason, detail: string): Promise<EntryDoc> {
    return this.#recordRejection(t.from, t._id, reason, detail);
  }

  async #recordRejection(
    account: string,
    txId: string,
    reason: RejectionReason,
    detail: string,
  ): Promise<EntryDoc> {
    const entry: EntryDoc = {
      _id: rejectionId(account, txId),
      account,
      txId,
      kind: EntryKind.reject,
      delta: 0,
      balanceAfter: 0,
      reason,
      detail,
      at: this.#now(),
    };
    if (await this.#insertOnce(this.entries, entry)) return entry;
    // Decided before: by a rejection (same _id) or by a debit (same {account, txId}).
    const existing =
      (await this.entries.findOne({ _id: entry._id })) ?? (await this.entries.findOne({ account, txId }));
    if (existing === null) throw new TransientError(`decision for ${txId} vanished; retry`);
    return existing;
  }

  /**
   * Records progress. `debited` is not stored (the debit entry is its record): the run carries it on. A
   * final state is inserted once into `banking_transfer_outcomes`; when another run inserted it first
   * (two runs at once, or a stalled run resuming after another finished the transfer), the stored one is
   * the answer, so nothing is set back. Values are derived from the entries, so both runs would store
   * the same. An insert is atomic on MongoDB, FerretDB and the memory stores alike.
   */
  async #setState(t: TransferDoc, state: TransferState, fields: Partial<TransferDoc>): Promise<TransferDoc> {
    this.#signal?.throwIfAborted();
    const updatedAt = this.#now();
    const next = { ...t, ...fields, state, updatedAt };
    if (!FINAL.has(state)) return next;
    const outcome: OutcomeDoc = {
      _id: t._id,
      state: state as OutcomeDoc['state'],
      ...(fields as Partial<OutcomeDoc>),
      decidedAt: updatedAt,
    };
    if (await this.#insertOnce(this.outcomes, outcome)) return next;
    const stored = await this.outcomes.findOne({ _id: t._id });
    if (stored === null) throw new TransientError(`outcome of ${t._id} vanished; retry`);
    return withOutcome(t, stored);
  }

  /** Where a transfer stands: its recorded outcome, `pending` while undecided, undefined when unknown. */
  async stateOf(txId: string): Promise<TransferState | undefined> {
    const outcome = await this.outcomes.findOne({ _id: txId });
    if (outcome !== null) return outcome.state;
    const transfer = await this.transfers.findOne({ _id: txId });
    return transfer === null
      ? undefined
      : ((transfer.state as TransferState | undefined) ?? TransferState.pending);
  }

  /** Transfers recorded but not decided (no outcome): what a crash left for a redelivery. Reads all. */
  async unfinished(): Promise<string[]> {
    const decided = new Set((await this.outcomes.find({})).map((o) => o._id));
    return (await this.transfers.find({}))
      .filter((t) => !decided.has(t._id) && !FINAL.has(t.state as TransferState))
      .map((t) => t._id);
  }

  /** Account metadata, from the cache once seen (it is written once and never changes). */
  async #account(id: string): Promise<AccountDoc | null> {
    const known = this.#cache?.account(id);
    if (known !== undefined) return known;
    const doc = await this.accounts.findOne({ _id: id });
    if (doc !== null) this.#cache?.rememberAccount(doc);
    return doc;
  }

  /** Inserts unless the key exists; false on a duplicate key. */
  async #insertOnce<T extends Record<string, unknown>>(collection: Collection<T>, doc: T): Promise<boolean> {
    this.#signal?.throwIfAborted();
    try {
      await collection.insertOne(doc);
      return true;
    } catch (err) {
      if (err instanceof DuplicateKeyError) return false;
      throw err;
    }
  }
}

/** The transfer with the final state its outcome records (unchanged when there is none yet). */
function withOutcome(t: TransferDoc, outcome: OutcomeDoc | null): TransferDoc {
  if (outcome === null) return t;
  const { _id: _ignored, decidedAt, ...fields } = outcome;
  return { ...t, ...fields, updatedAt: decidedAt };
}

function processed(t: TransferDoc, submissionId: string): TransactionProcessed {
  return {
    transactionId: t._id,
    submissionId,
    from: t.from,
    to: t.to,
    amount: t.amount,
    currency: t.currency,
    fromBalance: t.fromBalance ?? 0,
    fromVersion: t.fromVersion ?? 0,
    toBalance: t.toBalance ?? 0,
    toVersion: t.toVersion ?? 0,
  };
}

function rejected(
  t: Pick<TransferDoc, '_id' | 'from' | 'to' | 'amount' | 'currency'>,
  submissionId: string,
  reason: RejectionReason,
  detail: string,
): { kind: 'rejected'; data: TransactionRejected } {
  return {
    kind: 'rejected',
    data: {
      transactionId: t._id,
      submissionId,
      from: t.from,
      to: t.to,
      amount: t.amount,
      currency: t.currency,
      reason,
      detail,
    },
  };
}
