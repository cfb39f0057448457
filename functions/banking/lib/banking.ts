/**
 * The banking domain shared by transaction-processor, transaction-journal, accounts-api and the
 * injector: CloudEvent types, event data shapes, rejection reasons and collection names. The JSON
 * Schemas in `schemas/` are the contract; these types mirror them for the TypeScript side.
 */

export const BankingEventType = {
  accountOpened: 'dev.sluice.banking.account.opened.v1',
  transactionSubmitted: 'dev.sluice.banking.transaction.submitted.v1',
  transactionProcessed: 'dev.sluice.banking.transaction.processed.v1',
  transactionRejected: 'dev.sluice.banking.transaction.rejected.v1',
} as const;

/** Why a submitted transaction was rejected: a business outcome, journaled like a success. */
export const RejectionReason = {
  unknownAccount: 'unknown-account',
  insufficientFunds: 'insufficient-funds',
  currencyMismatch: 'currency-mismatch',
  sameAccount: 'same-account',
  duplicateDifferentContent: 'duplicate-transaction-id-different-content',
} as const;
export type RejectionReason = (typeof RejectionReason)[keyof typeof RejectionReason];

/** Account and transaction ids: matched by `$eq` only, and this pattern keeps them out of operators. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * `<account>#<n, 12 digits>`: the ledger's entry at an account's position n (ledger.ts) and accounts-api's balance
 * at version n, which is that position. `_id` order is n's order, and ids matching ID_PATTERN hold no `#`, so an
 * account's documents are exactly the ids from `<account>#` to `<account>#~`.
 */
export const slotId = (account: string, n: number): string => `${account}#${String(n).padStart(12, '0')}`;

/** Collections in the shared database; each function owns the ones with its prefix. */
export const Collections = {
  accounts: 'banking_accounts',
  /** Every account's chain; a transfer is its two entries, the decision and the credit (ledger.ts). */
  entries: 'banking_entries',
  journal: 'banking_journal',
  /** Journal entries whose audit line was written: one marker per entry, inserted after the line. */
  journalLogged: 'banking_journal_logged',
  viewAccounts: 'accounts_view',
  /** accounts-api's balances, one document per account version: inserted, never updated. */
  viewBalances: 'accounts_view_balances',
  viewTransactions: 'accounts_view_transactions',
} as const;

/** Amounts are integer minor units (cents): exact sums, no binary floating-point rounding. */
export interface AccountOpened {
  readonly accountId: string;
  readonly currency: string;
  readonly openingBalance: number;
  readonly owner?: string;
}

export interface TransactionSubmitted {
  readonly transactionId: string;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly currency: string;
  readonly reference?: string;
}

export interface TransactionProcessed {
  readonly transactionId: string;
  /** The CloudEvent id of the submission this outcome answers (one outcome per submission). */
  readonly submissionId: string;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly currency: string;
  /** Balance of `from` at version `fromVersion`: at or after this transfer's debit. */
  readonly fromBalance: number;
  readonly fromVersion: number;
  readonly toBalance: number;
  readonly toVersion: number;
}

export interface TransactionRejected {
  readonly transactionId: string;
  readonly submissionId: string;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly currency: string;
  readonly reason: RejectionReason;
  readonly detail: string;
}

/** One line of the audit journal (transaction-journal writes it; `make verify` reads it). */
export interface JournalEntry extends Record<string, unknown> {
  /** The journaled event's id: one entry per outcome event. */
  _id: string;
  type: string;
  outcome: 'processed' | 'rejected';
  transactionId: string;
  submissionId: string;
  from: string;
  to: string;
  amount: number;
  currency: string;
  reason?: string;
  fromBalance?: number;
  toBalance?: number;
  time: string;
}
