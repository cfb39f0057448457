/**
 * The ledger: accounts and transfers on a store without multi-document transactions (FerretDB).
 *
 * The only write FerretDB v1 (SQLite) makes atomic under concurrency is an insert checked by a
 * unique index: its update and findAndModify read, then write, without isolation, so parallel
 * conditional `$inc`s lose updates (docs/banking.md shows the probe). So balances are not updated in
 * place. Each account is an append-only chain of entries in `banking_entries`:
 *   _id `<account>#<seq>`  (unique: one entry per position, the optimistic-concurrency check)
 *   {txId, side}           (unique index: one decision and one credit per transaction)
 *   balanceAfter = previous entry's balanceAfter + delta, never below zero.
 * A debit reads the chain's head n and inserts n+1; a parallel debit that inserted n+1 first makes
 * this insert fail, and it retries on the new head, so no two debits are computed from one balance.
 * A transaction's decision is its `from`-side entry: the debit, or a rejection — for insufficient funds a
 * zero-delta entry at n+1 (its insert proves n is the head, as a debit's does), else `<from>!<txId>` off
 * the chain. Both carry the unique {txId, side: from}, so whichever run records first decides for all, and
 * the decision carries the transfer it decides (content hash, first submission): a transaction id submitted again
 * with other content meets it and is rejected. The credit is the `to`-side entry. Nothing is ever
 * updated, and nothing else is stored: the outcome is read off the entries. On FerretDB 1.24 every
 * update and every read scans the collection (docs/performance.md) while an insert is checked by a unique
 * index, so a transfer's cost stays flat as the collections grow. A new transfer in a process that knows
 * both heads is ONE round trip: its debit and its credit in one ordered `bulkWrite`. Every step re-derives
 * the same result from the entries, so a run repeated after a crash, or two runs at once, apply it once.
 */
import { createHash } from 'node:crypto';
import type { Collection, DocumentStore } from '../../runtime/src/index.ts';
import { DuplicateKeyError, PermanentError, TransientError } from '../../runtime/src/index.ts';
import {
  type AccountOpened,
  Collections,
  RejectionReason,
  slotId,
  type TransactionProcessed,
  type TransactionRejected,
  type TransactionSubmitted,
} from './banking.ts';

/** Where a transaction stands, as read off its entries (`Ledger.stateOf`). */
export const TransferState = {
  debited: 'debited',
  processed: 'processed',
  rejected: 'rejected',
} as const;
export type TransferState = (typeof TransferState)[keyof typeof TransferState];

export const EntryKind = { open: 'open', debit: 'debit', credit: 'credit', reject: 'reject' } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** A transaction's `from` side holds its decision (debit or rejection), its `to` side the credit. */
export const EntrySide = { from: 'from', to: 'to' } as const;
export type EntrySide = (typeof EntrySide)[keyof typeof EntrySide];

/** Account metadata; written once. The balance lives in the account's entry chain. */
export interface AccountDoc extends Record<string, unknown> {
  _id: string;
  currency: string;
  openingBalance: number;
  owner?: string;
  openedBy: string;
  openedAt: string;
  /**
   * Where a search for the chain's head starts: 0, written at opening. (An earlier layout moved it on
   * every few entries; those updates bloated the table on PostgreSQL, and a search from 0 costs only
   * log₂ of the chain's length in point reads.)
   */
  head: number;
}

/** The transfer a decision decides: what a later submission of the same id is compared with. */
export interface DecidedTransfer extends Record<string, unknown> {
  to: string;
  amount: number;
  currency: string;
  reference?: string;
  contentHash: string;
  /** The submission that decided it (the first one). */
  submissionId: string;
}

export interface EntryDoc extends Record<string, unknown> {
  _id: string;
  account: string;
  txId: string;
  kind: EntryKind;
  side: EntrySide;
  /** Position in the account's chain; absent on rejections (they change no balance). */
  seq?: number;
  delta: number;
  balanceAfter: number;
  reason?: RejectionReason;
  detail?: string;
  /** On a decision (debit or rejection): the transfer it decides. */
  transfer?: DecidedTransfer;
  at: string;
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
 * One general-path run at a time per account in this process (a new transfer the process cannot plan, a
 * redelivery, a collision): it holds both its accounts' lanes while it reads their heads and writes, so
 * two such runs of one process never compute their entries from the same head (which would make one
 * collide, and a collision costs reads). Lanes are taken all at once in arrival order, so waits form no
 * cycle. Other processes, and the one-write batches, may still collide; the unique keys settle that.
 */
class Lanes {
  readonly #tails = new Map<string, Promise<void>>();

  async run<R>(keys: readonly string[], fn: () => Promise<R>): Promise<R> {
    let release = (): void => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const unique = [...new Set(keys)];
    const before: Promise<void>[] = [];
    for (const key of unique) {
      const tail = this.#tails.get(key);
      if (tail !== undefined) before.push(tail);
      this.#tails.set(key, mine);
    }
    try {
      await Promise.all(before);
      return await fn();
    } finally {
      release();
      for (const key of unique) if (this.#tails.get(key) === mine) this.#tails.delete(key);
    }
  }
}

/** What the one-write batch did with a transfer. */
type Batched =
  | { readonly kind: 'processed'; readonly debit: EntryDoc; readonly credit: EntryDoc }
  /** The debit went in, the credit's slot was taken: credit on the new head. */
  | { readonly kind: 'debited'; readonly debit: EntryDoc }
  /** Not written: not known well enough to plan, or behind a collision in its batch. The general path. */
  | { readonly kind: 'general' };

interface Queued {
  readonly tx: TransactionSubmitted;
  readonly submissionId: string;
  readonly at: string;
  readonly resolve: (batched: Batched) => void;
  readonly reject: (err: unknown) => void;
}

/** Stays far below MongoDB's 100,000 writes per command and the dev store's 16 MiB body. */
const MAX_TRANSFERS_PER_BATCH = 200;

/**
 * Group commit of new transfers: those that arrive while a batch is on its way are planned together and
 * written in the next one, all their debits and credits in ONE ordered bulkWrite. Within a batch an entry
 * may be computed on an entry of the same batch (transfers that share an account, however many): ordered
 * insertion stops at the first refused entry, so no entry is ever stored without the one it was computed
 * on. The transfers from the refused one on take the general path. Only transfers between accounts whose
 * metadata and heads this process knows, with the funds there by those heads, are planned (an
 * insufficient-funds decision is taken on the store's head, by the general path).
 */
class OneWriteBatches {
  readonly #cache: LedgerCache;
  readonly #entries: Collection<EntryDoc>;
  #queue: Queued[] = [];
  #flushing = false;

  constructor(cache: LedgerCache, entries: Collection<EntryDoc>) {
    this.#cache = cache;
    this.#entries = entries;
  }

  submit(tx: TransactionSubmitted, submissionId: string, at: string): Promise<Batched> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ tx, submissionId, at, resolve, reject });
      if (this.#flushing) return;
      this.#flushing = true;
      // setImmediate, not a timer: the transfers whose requests arrived in the same I/O phase join in.
      setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#send(this.#queue.splice(0, MAX_TRANSFERS_PER_BATCH));
    } finally {
      this.#flushing = false;
    }
  }

  async #send(batch: readonly Queued[]): Promise<void> {
    // The heads as this batch will leave them: the cache's, moved on by the entries planned so far.
    const heads = new Map<string, EntryDoc>();
    const head = (account: string): EntryDoc | undefined => heads.get(account) ?? this.#cache.head(account);
    const planned: { q: Queued; debit: EntryDoc; credit: EntryDoc }[] = [];
    for (const q of batch) {
      const { tx } = q;
      const from = this.#cache.account(tx.from);
      const to = this.#cache.account(tx.to);
      const fromHead = head(tx.from);
      const toHead = head(tx.to);
      if (
        tx.from === tx.to ||
        from?.currency !== tx.currency ||
        to?.currency !== tx.currency ||
        fromHead === undefined ||
        toHead === undefined ||
        fromHead.balanceAfter < tx.amount
      ) {
        q.resolve({ kind: 'general' });
        continue;
      }
      const debit = chainEntry(fromHead, tx.transactionId, EntryKind.debit, -tx.amount, q.at);
      debit.transfer = decided(tx, q.submissionId);
      const credit = chainEntry(toHead, tx.transactionId, EntryKind.credit, tx.amount, q.at);
      heads.set(tx.from, debit);
      heads.set(tx.to, credit);
      planned.push({ q, debit, credit });
    }
    if (planned.length === 0) return;
    let refused: number;
    try {
      const { duplicateKeyIndexes } = await this.#entries.bulkWrite(
        planned.flatMap((p) => [{ insertOne: { document: p.debit } }, { insertOne: { document: p.credit } }]),
        { ordered: true },
      );
      refused = duplicateKeyIndexes[0] ?? Number.POSITIVE_INFINITY;
    } catch (err) {
      // The store is down, or the batch was refused whole: each transfer's event answers the error.
      for (const p of planned) p.q.reject(err);
      return;
    }
    for (const [i, p] of planned.entries()) {
      if (2 * i + 1 < refused) {
        this.#cache.rememberHead(p.debit);
        this.#cache.rememberHead(p.credit);
        p.q.resolve({ kind: 'processed', debit: p.debit, credit: p.credit });
      } else if (2 * i < refused) {
        this.#cache.rememberHead(p.debit);
        p.q.resolve({ kind: 'debited', debit: p.debit });
      } else {
        p.q.resolve({ kind: 'general' });
      }
    }
  }
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
  readonly lanes = new Lanes();
  #oneWrite: OneWriteBatches | undefined;

  constructor(maxAccounts = 50_000) {
    this.#max = maxAccounts;
  }

  /** The process's one-write batches of new transfers (on the entries collection of its store). */
  oneWrite(entries: Collection<EntryDoc>): OneWriteBatches {
    this.#oneWrite ??= new OneWriteBatches(this, entries);
    return this.#oneWrite;
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

export const rejectionId = (account: string, txId: string): string => `${account}!${txId}`;

/** Create the index the ledger's correctness depends on: one decision and one credit per transaction. */
export async function createLedgerIndexes(store: DocumentStore): Promise<void> {
  const entries = store.collection(Collections.entries);
  await entries.createIndex({ keys: { txId: 1, side: 1 }, unique: true, name: 'txId_side' });
}

const MAX_ATTEMPTS = 200;
/** Collisions retried on the cache's newer head before reading the store. */
const CACHED_RETRIES = 3;

export class Ledger {
  readonly accounts: Collection<AccountDoc>;
  readonly entries: Collection<EntryDoc>;
  readonly #signal: AbortSignal | undefined;
  readonly #now: () => string;
  readonly #cache: LedgerCache | undefined;

  constructor(store: DocumentStore, options: LedgerOptions = {}) {
    this.accounts = store.collection<AccountDoc>(Collections.accounts);
    this.entries = store.collection<EntryDoc>(Collections.entries);
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
      side: EntrySide.to,
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
   * Decides the transfer and drives it to its outcome. Runs any number of times, also concurrently, for
   * the same transaction with the same effect; `submissionId` is the id of the event being answered.
   */
  async process(tx: TransactionSubmitted, submissionId: string): Promise<TransferOutcome> {
    const cache = this.#cache;
    if (cache === undefined) return this.#process(tx, submissionId);
    this.#signal?.throwIfAborted();
    const batched = await cache.oneWrite(this.entries).submit(tx, submissionId, this.#now());
    if (batched.kind === 'processed') {
      return {
        kind: 'processed',
        data: processedData(tx, submissionId, batched.debit, batched.credit),
      };
    }
    return cache.lanes.run([tx.from, tx.to], async () => {
      if (batched.kind === 'debited') return this.finish(tx, submissionId, batched.debit);
      return this.#process(tx, submissionId);
    });
  }

  async #process(tx: TransactionSubmitted, submissionId: string): Promise<TransferOutcome> {
    const decision = await this.decide(tx, submissionId);
    return this.finish(tx, submissionId, decision);
  }

  /**
   * The transaction's one decision, on its `from` side: a debit entry, or a rejection entry. Both carry
   * the unique {txId, side: from}, so whichever run records first decides for all; the entry returned is
   * that decision, whichever run wrote it (compare its transfer with this one: `finish`).
   */
  async decide(tx: TransactionSubmitted, submissionId: string): Promise<EntryDoc> {
    const transfer = decided(tx, submissionId);
    if (tx.from === tx.to) {
      return this.#recordRejection(
        tx.from,
        tx.transactionId,
        transfer,
        RejectionReason.sameAccount,
        'from and to are the same account',
      );
    }
    const [from, to] = await Promise.all([this.#account(tx.from), this.#account(tx.to)]);
    if (from === null || to === null) {
      const missing = [from === null ? tx.from : '', to === null ? tx.to : ''].filter((s) => s !== '');
      return this.#recordRejection(
        tx.from,
        tx.transactionId,
        transfer,
        RejectionReason.unknownAccount,
        `unknown account(s): ${missing.join(', ')}`,
      );
    }
    if (from.currency !== tx.currency || to.currency !== tx.currency) {
      return this.#recordRejection(
        tx.from,
        tx.transactionId,
        transfer,
        RejectionReason.currencyMismatch,
        `transfer in ${tx.currency}; ${tx.from} holds ${from.currency}, ${tx.to} holds ${to.currency}`,
      );
    }
    return this.append(tx.from, tx.transactionId, EntryKind.debit, -tx.amount, from.head, transfer);
  }

  /**
   * From a decision to the outcome: another transfer's decision under this id rejects this one; a
   * rejection answers; a debit is credited (once: the credit's {txId, side: to} is unique).
   */
  async finish(tx: TransactionSubmitted, submissionId: string, decision: EntryDoc): Promise<TransferOutcome> {
    if (decision.transfer?.contentHash !== contentHash(tx)) {
      return rejected(
        tx,
        submissionId,
        RejectionReason.duplicateDifferentContent,
        `transaction ${tx.transactionId} was already submitted with different content (by ${decision.transfer?.submissionId ?? 'an unknown submission'})`,
      );
    }
    if (decision.kind === EntryKind.reject) {
      return rejected(
        tx,
        submissionId,
        decision.reason ?? RejectionReason.unknownAccount,
        decision.detail ?? '',
      );
    }
    const credit = await this.credit(tx);
    return { kind: 'processed', data: processedData(tx, submissionId, decision, credit) };
  }

  /** Credits `to` once (the entry's {txId, side: to} is unique); returns the credit, whichever run wrote it. */
  async credit(tx: TransactionSubmitted): Promise<EntryDoc> {
    const account = await this.#account(tx.to);
    if (account === null) {
      throw new TransientError(`account ${tx.to} vanished before the credit of ${tx.transactionId}; retry`);
    }
    return this.append(tx.to, tx.transactionId, EntryKind.credit, tx.amount, account.head);
  }

  /**
   * Appends an entry at the head of an account's chain. A debit that the head's balance cannot cover
   * becomes an insufficient-funds rejection. Returns the entry this transaction has on this side,
   * whichever run wrote it (for a debit, possibly another submission's decision under the same id).
   */
  async append(
    account: string,
    txId: string,
    kind: typeof EntryKind.debit | typeof EntryKind.credit,
    delta: number,
    hint: number,
    transfer?: DecidedTransfer,
  ): Promise<EntryDoc> {
    const side = kind === EntryKind.debit ? EntrySide.from : EntrySide.to;
    let guess = this.#cache?.head(account);
    let seq = Math.max(hint, guess?.seq ?? 0);
    // An entry of this chain already in hand (entries are immutable): the next search for the head starts
    // after it instead of reading it again.
    let known: EntryDoc | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // The cached head saves the probe when it is current; if not, the insert below collides.
      const head = guess ?? (await this.head(account, seq, known));
      guess = undefined;
      seq = head.seq ?? 0;
      // Too little money at this head: the refusal takes the next position without changing the balance, so
      // that its insert, like a debit's, is what proves the head is still the chain's last — deciding it on a
      // stale head collides instead, and no read is needed (a read of the empty slot after the head scans the
      // whole collection on FerretDB/SQLite).
      const entry =
        head.balanceAfter + delta < 0
          ? refusalEntry(head, txId, `${account} cannot cover ${-delta}`, this.#now())
          : chainEntry(head, txId, kind, delta, this.#now());
      if (transfer !== undefined) entry.transfer = transfer;
      if (await this.#insertOnce(this.entries, entry)) {
        this.#cache?.rememberHead(entry);
        return entry;
      }
      // Another run of this process took the slot and the cache knows its entry: try after it, without a
      // read (a read by _id scans the collection on FerretDB 1.24). A few times only: a collision may also
      // be this transaction's own entry (the unique {txId, side}), which only a read can tell.
      const cached = this.#cache?.head(account);
      if (attempt < CACHED_RETRIES && cached !== undefined && (cached.seq ?? 0) > seq) {
        guess = cached;
        continue;
      }
      // Either another entry took the slot (go again from the new head), or this transaction already
      // has its entry on this side (the unique {txId, side}): then that one is the answer.
      const slot = await this.entries.findOne({ _id: entry._id });
      if (slot?.txId === txId && slot.side === side) return slot;
      if (slot === null || attempt % 8 === 7) {
        const existing = await this.entries.findOne({ txId, side });
        if (existing !== null) return existing;
      }
      // The entry that took the slot is the chain's newest known: search on from it.
      known = slot ?? head;
      seq = known.seq ?? seq;
    }
    throw new TransientError(`account ${account} is too contended to append ${txId}; retry`);
  }

  /**
   * The last entry of the chain, by point reads of `_id` only (FerretDB scans for any other filter): the
   * entry at `from` (or the opening entry), then slots `from`+1, +2, +4, … until one is empty, then a
   * bisection between the last entry found and that slot. Chains are contiguous, so this finds the head in
   * about 2·log₂(distance) reads; from a current `from`, in two — in one when `known` is the entry at
   * `from` already in hand (entries never change, so it need not be read again).
   */
  async head(account: string, from: number, known?: EntryDoc): Promise<EntryDoc> {
    let last =
      known !== undefined && known.account === account && known.seq === from
        ? known
        : from > 0
          ? await this.entries.findOne({ _id: slotId(account, from) })
          : null;
    if (last === null) {
      last = await this.entries.findOne({ _id: slotId(account, 0) });
      if (last === null) throw new TransientError(`account ${account} has no opening entry yet; retry`);
    }
    let empty = 0;
    for (let step = 1; empty === 0; step *= 2) {
      const seq = (last.seq ?? 0) + step;
      const next = await this.entries.findOne({ _id: slotId(account, seq) });
      if (next === null) empty = seq;
      else last = next;
    }
    while (empty - (last.seq ?? 0) > 1) {
      const mid = Math.floor(((last.seq ?? 0) + empty) / 2);
      const probe = await this.entries.findOne({ _id: slotId(account, mid) });
      if (probe === null) empty = mid;
      else last = probe;
    }
    this.#cache?.rememberHead(last);
    return last;
  }

  /** Where a transaction stands, read off its entries; undefined before its decision. */
  async stateOf(txId: string): Promise<TransferState | undefined> {
    const decision = await this.entries.findOne({ txId, side: EntrySide.from });
    if (decision === null) return undefined;
    if (decision.kind === EntryKind.reject) return TransferState.rejected;
    const credit = await this.entries.findOne({ txId, side: EntrySide.to });
    return credit === null ? TransferState.debited : TransferState.processed;
  }

  /** Transfers debited and not credited: what a crash left for a redelivery. Reads every entry. */
  async unfinished(): Promise<string[]> {
    const entries = await this.entries.find({});
    const credited = new Set(entries.filter((e) => e.kind === EntryKind.credit).map((e) => e.txId));
    return entries.filter((e) => e.kind === EntryKind.debit && !credited.has(e.txId)).map((e) => e.txId);
  }

  async #recordRejection(
    account: string,
    txId: string,
    transfer: DecidedTransfer | undefined,
    reason: RejectionReason,
    detail: string,
  ): Promise<EntryDoc> {
    const entry: EntryDoc = {
      _id: rejectionId(account, txId),
      account,
      txId,
      kind: EntryKind.reject,
      side: EntrySide.from,
      delta: 0,
      balanceAfter: 0,
      reason,
      detail,
      at: this.#now(),
    };
    if (transfer !== undefined) entry.transfer = transfer;
    if (await this.#insertOnce(this.entries, entry)) return entry;
    // Decided before: by a rejection or a debit, of this submission or of another under the same id.
    const existing = await this.entries.findOne({ txId, side: EntrySide.from });
    if (existing === null) throw new TransientError(`decision for ${txId} vanished; retry`);
    return existing;
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

/** The entry after `head` on its chain (not yet written). */
function chainEntry(head: EntryDoc, txId: string, kind: EntryKind, delta: number, at: string): EntryDoc {
  const seq = (head.seq ?? 0) + 1;
  return {
    _id: slotId(head.account, seq),
    account: head.account,
    txId,
    kind,
    // A credit is the `to` side; a debit, or a refusal in the chain, is the transaction's decision.
    side: kind === EntryKind.credit ? EntrySide.to : EntrySide.from,
    seq,
    delta,
    balanceAfter: head.balanceAfter + delta,
    at,
  };
}

/** An insufficient-funds refusal at the chain's next position: delta 0, the balance carried over. */
function refusalEntry(head: EntryDoc, txId: string, detail: string, at: string): EntryDoc {
  const entry = chainEntry(head, txId, EntryKind.reject, 0, at);
  entry.reason = RejectionReason.insufficientFunds;
  entry.detail = detail;
  return entry;
}

function decided(tx: TransactionSubmitted, submissionId: string): DecidedTransfer {
  const transfer: DecidedTransfer = {
    to: tx.to,
    amount: tx.amount,
    currency: tx.currency,
    contentHash: contentHash(tx),
    submissionId,
  };
  if (tx.reference !== undefined) transfer.reference = tx.reference;
  return transfer;
}

function processedData(
  tx: TransactionSubmitted,
  submissionId: string,
  debit: EntryDoc,
  credit: EntryDoc,
): TransactionProcessed {
  return {
    transactionId: tx.transactionId,
    submissionId,
    from: tx.from,
    to: tx.to,
    amount: tx.amount,
    currency: tx.currency,
    fromBalance: debit.balanceAfter,
    fromVersion: debit.seq ?? 0,
    toBalance: credit.balanceAfter,
    toVersion: credit.seq ?? 0,
  };
}

function rejected(
  tx: TransactionSubmitted,
  submissionId: string,
  reason: RejectionReason,
  detail: string,
): { kind: 'rejected'; data: TransactionRejected } {
  return {
    kind: 'rejected',
    data: {
      transactionId: tx.transactionId,
      submissionId,
      from: tx.from,
      to: tx.to,
      amount: tx.amount,
      currency: tx.currency,
      reason,
      detail,
    },
  };
}
