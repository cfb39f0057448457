/**
 * transaction-processor — opens accounts and applies transfers to them in the store, then replies
 * `transaction.processed` (with the resulting balances) or `transaction.rejected` (with a
 * machine-readable reason). A rejection is an outcome, not an error: it is answered with 200 and a
 * reply event so it is journaled. Only malformed or schema-invalid events fail (400 → dead letter).
 * The crash-safety of the writes is explained in ledger.ts and docs/banking.md.
 */
import type { SluiceFunction } from '../../runtime/src/index.ts';
import { type AccountOpened, BankingEventType, type TransactionSubmitted } from '../lib/banking.ts';
import { createLedgerIndexes, Ledger, ledgerCacheFor } from '../lib/ledger.ts';

export const accepts = [BankingEventType.accountOpened, BankingEventType.transactionSubmitted] as const;
export const emits = [BankingEventType.transactionProcessed, BankingEventType.transactionRejected] as const;

export const init: SluiceFunction['init'] = async ({ store }) => {
  // The unique {account, txId} index is part of the ledger's correctness: create it before serving.
  await createLedgerIndexes(store);
};

export const handle: SluiceFunction['handle'] = async (event, { store, signal, log }) => {
  const ledger = new Ledger(store, { signal, cache: ledgerCacheFor(store) });
  if (event.type === BankingEventType.accountOpened) {
    const data = event.data as AccountOpened;
    const result = await ledger.openAccount(data, event.id);
    if (result === 'exists') log.debug(`account ${data.accountId} already open`, { 'event.id': event.id });
    return undefined;
  }
  const tx = event.data as TransactionSubmitted;
  const outcome = await ledger.process(tx, event.id);
  return {
    type:
      outcome.kind === 'processed'
        ? BankingEventType.transactionProcessed
        : BankingEventType.transactionRejected,
    subject: tx.transactionId,
    data: outcome.data,
  };
};
