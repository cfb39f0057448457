/**
 * The ledger: accounts and transfers on a store without multi-document transactions (FerretDB).
 *
 * A transfer is a document keyed by its transaction id and moved through a state machine:
 *   pending → debited → credited → processed   (or pending → rejected)
 * Each step is one single-document write that is safe to repeat:
 *  - debit:  `{_id: from, balance ≥ amount, pending ∌ tx, settled ∌ tx}` → `$inc balance -amount`,
 *            `$push pending tx`. The balance check and the marker are one atomic update, so parallel
 *            debits of one account can never overdraw it, and a repeated debit does not match.
 *  - credit: the same guard on `to` (without the balance check).
 *  - settle: moves the marker from `pending` to the bounded `settled` list of both accounts.
 * After each account write the transfer's state is advanced by compare-and-set, so a redelivery
 * (after a crash, or a second run after the idempotency lock expired) resumes from the recorded
 * state, and a step whose account write landed but whose state update did not is recognised by the
 * marker. The outcome is recorded in the transfer before any reply, so it never changes.
 * See docs/banking.md for the failure scenarios.
 */
import { createHash } from 'node:crypto';
import { DuplicateKeyError, PermanentError, TransientError } from '../runtime/src/errors.ts';
import type { Collection, DocumentStore } from '../runtime/src/ports/document-store.ts';
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
  credited: 'credited',
  processed: 'processed',
  rejected: 'rejected',
} as const;
export type TransferState = (typeof TransferState)[keyof typeof TransferState];

export interface AccountDoc extends Record<string, unknown> {
  _id: string;
  currency: string;
  balance: number;
  openingBalance: number;
  /** Incremented by every balance change; readers keep the highest version they have seen. */
  version: number;
  /** Transfers whose effect on this account is applied but not yet settled. */
  pending: string[];
  /** The last settled transfers: a second guard against a late duplicate run (bounded list). */
  settled: string[];
  owner?: string;
  openedBy: string;
  openedAt: string;
}

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

export type TransferOutcome =
  | { readonly kind: 'processed'; readonly data: TransactionProcessed }
  | { readonly kind: 'rejected'; readonly data: TransactionRejected };

export interface LedgerOptions {
  /** How many settled transfer ids each account keeps. @default 32 */
  readonly settledMarkers?: number;
  /** Stops the steps of a run that timed out: a zombie run must not keep writing. */
  readonly signal?: AbortSignal;
  /** @default () => new Date().toISOString() */
  readonly now?: () => string;
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

const MAX_STEPS = 16;

export class Ledger {
  readonly accounts: Collection<AccountDoc>;
  readonly transfers: Collection<TransferDoc>;
  readonly #settledMarkers: number;
  readonly #signal: AbortSignal | undefined;
  readonly #now: () => string;

  constructor(store: DocumentStore, options: LedgerOptions = {}) {
    this.accounts = store.collection<AccountDoc>(Collections.accounts);
    this.transfers = store.collection<TransferDoc>(Collections.transfers);
    this.#settledMarkers = options.settledMarkers ?? 32;
    this.#signal = options.signal;
    this.#now = options.now ?? (() => new Date().toISOString());
  }

  /** Opens an account once; the same content again is a no-op, other content a conflict. */
  async openAccount(data: AccountOpened, eventId: string): Promise<'opened' | 'exists'> {
    const doc: AccountDoc = {
      _id: data.accountId,
      currency: data.currency,
      balance: data.openingBalance,
      openingBalance: data.openingBalance,
      version: 0,
      pending: [],
      settled: [],
      openedBy: eventId,
      openedAt: this.#now(),
    };
    if (data.owner !== undefined) doc.owner = data.owner;
    try {
      this.#signal?.throwIfAborted();
      await this.accounts.insertOne(doc);
      return 'opened';
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
    const existing = await this.accounts.findOne({ _id: data.accountId });
    if (
      existing !== null &&
      existing.currency === data.currency &&
      existing.openingBalance === data.openingBalance &&
      existing.owner === data.owner
    ) {
      return 'exists';
    }
    throw new AccountConflictError(
      `account ${data.accountId} is already open with different content (opened by event ${existing?.openedBy})`,
    );
  }

  /**
   * Records the transfer (or finds it) and drives it to a final state. Runs any number of times for
   * the same transaction with the same effect; `submissionId` is the id of the event being answered.
   */
  async process(tx: TransactionSubmitted, submissionId: string): Promise<TransferOutcome> {
    const recorded = await this.record(tx, submissionId);
    if (recorded.conflict) {
      return rejected(
        tx,
        submissionId,
        RejectionReason.duplicateDifferentContent,
        `transaction ${tx.transactionId} was already submitted with different content (by ${recorded.transfer.submissionId})`,
      );
    }
    let t = recorded.transfer;
    for (let i = 0; i < MAX_STEPS; i++) {
      if (t.state === TransferState.processed) return { kind: 'processed', data: processed(t, submissionId) };
      if (t.state === TransferState.rejected) {
        return {
          kind: 'rejected',
          data: rejected(t, submissionId, t.reason ?? RejectionReason.unknownAccount, t.detail ?? '').data,
        };
      }
      t = await this.step(t);
    }
    throw new TransientError(`transfer ${tx.transactionId} did not settle in ${MAX_STEPS} steps; retry`);
  }

  /** Inserts the transfer in `pending`, or loads the one recorded by an earlier run. */
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
    try {
      this.#signal?.throwIfAborted();
      await this.transfers.insertOne(doc);
      return { transfer: doc, conflict: false };
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
    const existing = await this.transfers.findOne({ _id: tx.transactionId });
    if (existing === null) throw new TransientError(`transfer ${tx.transactionId} vanished; retry`);
    return { transfer: existing, conflict: existing.contentHash !== doc.contentHash };
  }

  /** Advances a transfer by one step from its recorded state; returns the transfer as stored after it. */
  async step(t: TransferDoc): Promise<TransferDoc> {
    switch (t.state) {
      case TransferState.pending:
        return this.validateAndDebit(t);
      case TransferState.debited:
        return this.credit(t);
      case TransferState.credited:
        return this.settle(t);
      default:
        return t;
    }
  }

  async validateAndDebit(t: TransferDoc): Promise<TransferDoc> {
    if (t.from === t.to) {
      return this.reject(t, RejectionReason.sameAccount, 'from and to are the same account');
    }
    const [from, to] = await Promise.all([
      this.accounts.findOne({ _id: t.from }),
      this.accounts.findOne({ _id: t.to }),
    ]);
    if (from === null || to === null) {
      const missing = [from === null ? t.from : undefined, to === null ? t.to : undefined].filter(Boolean);
      return this.reject(t, RejectionReason.unknownAccount, `unknown account(s): ${missing.join(', ')}`);
    }
    if (from.currency !== t.currency || to.currency !== t.currency) {
      return this.reject(
        t,
        RejectionReason.currencyMismatch,
        `transfer in ${t.currency}; ${t.from} holds ${from.currency}, ${t.to} holds ${to.currency}`,
      );
    }
    // A run that stalled (its lock expired and another run finished the transfer) must not debit
    // again: read the state fresh right before the write.
    const fresh = await this.transfers.findOne({ _id: t._id });
    if (fresh === null || fresh.state !== TransferState.pending) return fresh ?? t;
    const result = await this.applyDebit(t);
    if (result === 'insufficient') {
      return this.reject(t, RejectionReason.insufficientFunds, `${t.from} cannot cover ${t.amount} ${t.currency}`);
    }
    if (result === 'retry') return t;
    return this.advance(t, TransferState.debited, { fromBalance: result.balance, fromVersion: result.version });
  }

  /**
   * The debit as one conditional update. Returns the account after it (or as found, when an earlier
   * run already debited), `insufficient` when the balance cannot cover it, `retry` when the balance
   * changed between the update and the read.
   */
  async applyDebit(t: TransferDoc): Promise<AccountDoc | 'insufficient' | 'retry'> {
    this.#signal?.throwIfAborted();
    const after = await this.accounts.findOneAndUpdate(
      { _id: t.from, balance: { $gte: t.amount }, pending: { $ne: t._id }, settled: { $ne: t._id } },
      { $inc: { balance: -t.amount, version: 1 }, $push: { pending: t._id } },
    );
    if (after !== null) return after;
    const current = await this.accounts.findOne({ _id: t.from });
    if (current === null) throw new TransientError(`account ${t.from} vanished; retry`);
    if (current.pending.includes(t._id) || current.settled.includes(t._id)) return current;
    return current.balance < t.amount ? 'insufficient' : 'retry';
  }

  async credit(t: TransferDoc): Promise<TransferDoc> {
    const result = await this.applyCredit(t);
    return this.advance(t, TransferState.credited, { toBalance: result.balance, toVersion: result.version });
  }

  async applyCredit(t: TransferDoc): Promise<AccountDoc> {
    this.#signal?.throwIfAborted();
    const after = await this.accounts.findOneAndUpdate(
      { _id: t.to, pending: { $ne: t._id }, settled: { $ne: t._id } },
      { $inc: { balance: t.amount, version: 1 }, $push: { pending: t._id } },
    );
    if (after !== null) return after;
    const current = await this.accounts.findOne({ _id: t.to });
    if (current !== null && (current.pending.includes(t._id) || current.settled.includes(t._id))) {
      return current;
    }
    throw new TransientError(`account ${t.to} vanished before the credit of ${t._id}; retry`);
  }

  /** Moves the marker from `pending` to `settled` on both accounts, then records `processed`. */
  async settle(t: TransferDoc): Promise<TransferDoc> {
    for (const account of [t.from, t.to]) {
      this.#signal?.throwIfAborted();
      await this.accounts.updateOne(
        { _id: account, pending: t._id },
        { $pull: { pending: t._id }, $push: { settled: { $each: [t._id], $slice: -this.#settledMarkers } } },
      );
    }
    return this.advance(t, TransferState.processed, {});
  }

  async reject(t: TransferDoc, reason: RejectionReason, detail: string): Promise<TransferDoc> {
    return this.advance(t, TransferState.rejected, { reason, detail });
  }

  /** Compare-and-set of the state; when another run moved it first, returns what that run stored. */
  async advance(t: TransferDoc, to: TransferState, fields: Partial<TransferDoc>): Promise<TransferDoc> {
    this.#signal?.throwIfAborted();
    const updated = await this.transfers.findOneAndUpdate(
      { _id: t._id, state: t.state },
      { $set: { ...fields, state: to, updatedAt: this.#now() } },
    );
    if (updated !== null) return updated;
    const current = await this.transfers.findOne({ _id: t._id });
    if (current === null) throw new TransientError(`transfer ${t._id} vanished; retry`);
    return current;
  }
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
  tx: Pick<TransactionSubmitted, 'from' | 'to' | 'amount' | 'currency'> & ({ transactionId: string } | { _id: string }),
  submissionId: string,
  reason: RejectionReason,
  detail: string,
): { kind: 'rejected'; data: TransactionRejected } {
  const transactionId = 'transactionId' in tx ? tx.transactionId : tx._id;
  return {
    kind: 'rejected',
    data: { transactionId, submissionId, from: tx.from, to: tx.to, amount: tx.amount, currency: tx.currency, reason, detail },
  };
}
