/**
 * transaction-processor — opens accounts and applies transfers to them in the store, then replies
 * `transaction.processed` (with the resulting balances) or `transaction.rejected` (with a
 * machine-readable reason). A rejection is an outcome, not an error: it is answered with 200 and a
 * reply event so it is journaled. Only malformed or schema-invalid events fail (400 → dead letter).
 * The crash-safety of the writes is explained in ledger.ts and docs/banking.md.
 */
import type { SluiceFunction } from '../../runtime/src/index.ts';
import { BankingEventType } from '../lib/banking.ts';
import { createLedgerIndexes, Ledger, ledgerCacheFor } from '../lib/ledger.ts';
import type { Handle } from './events.gen.ts';

export const accepts = [BankingEventType.accountOpened, BankingEventType.transactionSubmitted] as const;
export const emits = [BankingEventType.transactionProcessed, BankingEventType.transactionRejected] as const;
/**
 * Without the runtime's idempotency guard: the ledger is idempotent by itself (every write is an insert
 * under a unique key, and a redelivery re-derives the same outcome from what is stored), and the reply's id
 * is derived from the submission's, so a redelivered reply is deduped downstream. The guard's claim and
 * completion were 2 of the processor's ~7.7 store calls per transfer (docs/performance.md).
 */
export const idempotent = false;

export const init: SluiceFunction['init'] = async ({ store }) => {
  // The unique {account, txId} index is part of the ledger's correctness: create it before serving.
  await createLedgerIndexes(store);
};

export const handle: Handle<typeof accepts, typeof emits> = async (event, { store, signal, log }) => {
  const ledger = new Ledger(store, { signal, cache: ledgerCacheFor(store) });
  if (event.type === BankingEventType.accountOpened) {
    const data = event.data;
    const result = await ledger.openAccount(data, event.id);
    if (result === 'exists') log.debug(`account ${data.accountId} already open`, { 'event.id': event.id });
    return undefined;
  }
  const tx = event.data;
  const outcome = await ledger.process(tx, event.id);
  // One return per outcome: the reply's type and its data's type must go together (events.gen.ts).
  return outcome.kind === 'processed'
    ? { type: BankingEventType.transactionProcessed, subject: tx.transactionId, data: outcome.data }
    : { type: BankingEventType.transactionRejected, subject: tx.transactionId, data: outcome.data };
};
