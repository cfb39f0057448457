/**
 * transaction-journal — the audit trail: one ECS JSON log line per processed or rejected
 * transaction (Fluent Bit ships it to Elasticsearch, searchable by `banking.transaction.id`,
 * `.from`, `.to` and `event.outcome`), plus a journal document per event so tests and
 * `--verify` can query it. The document is written first and keyed by the event id, so a
 * redelivery never adds a second document; then the line, then a marker (`banking_journal_logged`,
 * same id). The line is written again only when an earlier run stopped before its marker
 * (at-least-once; Elasticsearch dedupes when `event.id` is the `_id`). Inserts only, and batched: the
 * entries (and the markers) of the events in flight go to the store in one round trip (batched-writer.ts).
 */

import type { EventOf, SluiceFunction } from '../../runtime/src/index.ts';
import { BankingEventType, Collections, type JournalEntry } from '../lib/banking.ts';
import { batchedWriter } from '../lib/batched-writer.ts';
import type { Events, Handle } from './events.gen.ts';

export const accepts = [BankingEventType.transactionProcessed, BankingEventType.transactionRejected] as const;
/**
 * Without the runtime's idempotency guard: the entry is keyed by the event id and the line by its marker,
 * so a redelivery adds nothing, and the guard's claim and completion would be 2 of the 4 store calls per
 * event (docs/performance.md). Two copies of one event delivered at the same moment may each write the
 * line (lines are at least once, as after a crash).
 */
export const idempotent = false;

export const init: SluiceFunction['init'] = async ({ store }) => {
  const journal = store.collection(Collections.journal);
  await journal.createIndex({ keys: { transactionId: 1 }, name: 'transactionId' });
  await journal.createIndex({ keys: { submissionId: 1 }, name: 'submissionId' });
};

export function toEntry(event: EventOf<Events, (typeof accepts)[number]>): JournalEntry {
  const data = event.data;
  const entry: JournalEntry = {
    _id: event.id,
    type: event.type,
    outcome: event.type === BankingEventType.transactionProcessed ? 'processed' : 'rejected',
    transactionId: data.transactionId,
    submissionId: data.submissionId,
    from: data.from,
    to: data.to,
    amount: data.amount,
    currency: data.currency,
    time: event.time ?? new Date().toISOString(),
  };
  if ('reason' in data) entry.reason = data.reason;
  if ('fromBalance' in data) {
    entry.fromBalance = data.fromBalance;
    entry.toBalance = data.toBalance;
  }
  return entry;
}

/** The audit line's fields: ECS core fields plus the transaction under `banking.transaction.*`. */
export function auditFields(entry: JournalEntry, traceId: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    'event.id': entry._id,
    'event.kind': 'event',
    'event.category': ['database'],
    'event.action': `transaction-${entry.outcome}`,
    'event.outcome': entry.outcome === 'processed' ? 'success' : 'failure',
    'trace.id': traceId,
    'banking.transaction.id': entry.transactionId,
    'banking.transaction.submission_id': entry.submissionId,
    'banking.transaction.from': entry.from,
    'banking.transaction.to': entry.to,
    'banking.transaction.amount': entry.amount,
    'banking.transaction.currency': entry.currency,
  };
  if (entry.reason !== undefined) {
    fields['banking.transaction.reason'] = entry.reason;
    fields['event.reason'] = entry.reason;
  }
  if (entry.fromBalance !== undefined) {
    fields['banking.transaction.from_balance'] = entry.fromBalance;
    fields['banking.transaction.to_balance'] = entry.toBalance;
  }
  return fields;
}

export const handle: Handle<typeof accepts> = async (event, { store, log, traceId }) => {
  const entry = toEntry(event);
  if ((await batchedWriter<JournalEntry>(store, Collections.journal).insert(entry)) === 'duplicate') {
    // A redelivery: the line is written again only if no earlier run got as far as its marker.
    const logged = store.collection<{ _id: string }>(Collections.journalLogged);
    if ((await logged.findOne({ _id: entry._id })) !== null) return undefined;
  }
  const message =
    entry.outcome === 'processed'
      ? `transaction ${entry.transactionId} processed: ${entry.amount} ${entry.currency} ${entry.from} -> ${entry.to}`
      : `transaction ${entry.transactionId} rejected (${entry.reason}): ${entry.amount} ${entry.currency} ${entry.from} -> ${entry.to}`;
  log.info(message, auditFields(entry, traceId));
  // A marker inserted, not the entry updated: no read-then-write, which FerretDB 1.24 does by scanning the
  // collection (docs/performance.md), so a journal line costs the same on a journal of any size. A
  // duplicate marker is an earlier run's.
  await batchedWriter<{ _id: string }>(store, Collections.journalLogged).insert({ _id: entry._id });
  return undefined;
};
