/**
 * `--verify`: gathers what the pipeline recorded and checks the invariants (invariants.ts).
 *  - From the processor's store (MongoDB, or the shared dev store of `make dev`): the truth read
 *    straight from it — every account's entry chain (banking_entries: heads, chain arithmetic), the
 *    decisions, the journal (one document per outcome event, keyed by its id) for "exactly one outcome
 *    per submission", and the dead-letter sink's records (dead_letters) with their reasons.
 *  - Otherwise: accounts-api over HTTP (ACCOUNTS_API_URL), whose view is built from the same outcome
 *    events; dead letters then only via DEAD_LETTER_URL (GET, JSON list of CloudEvents or
 *    {events: [...]}), else only "no invalid submission was processed" is checked.
 */

import type { DocumentStore } from '../../runtime/src/index.ts';
import { DEAD_LETTERS_COLLECTION as DEAD_LETTERS, type DeadLetter } from '../../runtime/src/index.ts';
import { Collections, type JournalEntry } from '../lib/banking.ts';
import type { AccountSnapshot, InvariantCheck, InvariantInput, OutcomeRecord } from '../lib/invariants.ts';
import { type AccountDoc, type EntryDoc, EntryKind } from '../lib/ledger.ts';

export interface Gathered {
  readonly accounts: AccountSnapshot[];
  readonly outcomes: OutcomeRecord[];
  readonly unfinishedTransfers?: string[];
  /** Extra checks only the store can answer (chain arithmetic). */
  readonly extraChecks: InvariantCheck[];
  readonly source: string;
  /** CloudEvent id → the dead-letter sink's reason, when the sink's records were readable. */
  readonly deadLetters?: ReadonlyMap<string, string>;
}

/** Reads everything from the processor's store; the caller owns (and closes) the store. */
export async function gatherFromStore(store: DocumentStore, label: string): Promise<Gathered> {
  // The journal first: an outcome is journaled only after the processor wrote its entries, so entries read
  // after it hold every transfer it reports. Read the other way round, a transfer finishing between the reads
  // showed in the outcomes and not in the balances: "accounts drift" right after the last outcome arrived.
  const journal = await store.collection<JournalEntry>(Collections.journal).find({});
  const accounts = await store.collection<AccountDoc>(Collections.accounts).find({});
  const entries = await store.collection<EntryDoc>(Collections.entries).find({});
  const deadLetters = await store.collection<DeadLetter>(DEAD_LETTERS).find({});
  const chains = new Map<string, EntryDoc[]>();
  for (const e of entries) {
    if (e.seq === undefined) continue;
    const list = chains.get(e.account) ?? [];
    list.push(e);
    chains.set(e.account, list);
  }
  const broken: string[] = [];
  const snapshots = accounts.map((a) => {
    const chain = (chains.get(a._id) ?? []).sort((x, y) => (x.seq ?? 0) - (y.seq ?? 0));
    let balance = 0;
    chain.forEach((e, i) => {
      if (e.seq !== i || e.balanceAfter !== balance + e.delta || e.balanceAfter < 0)
        broken.push(`${a._id}#${e.seq}`);
      balance = e.balanceAfter;
    });
    return { id: a._id, balance, openingBalance: a.openingBalance };
  });
  // A debit without its credit is a transfer left half-applied.
  const debits = new Set(entries.filter((e) => e.kind === EntryKind.debit).map((e) => e.txId));
  const credits = new Set(entries.filter((e) => e.kind === EntryKind.credit).map((e) => e.txId));
  const halfApplied = [...debits].filter((tx) => !credits.has(tx));
  const decisions = entries.filter((e) => e.side === 'from').length;
  return {
    source: `${label} (${accounts.length} accounts, ${entries.length} entries, ${decisions} transfers decided, ${journal.length} journal entries, ${deadLetters.length} dead letters)`,
    deadLetters: new Map(deadLetters.map((d) => [d.eventId, d.reason])),
    accounts: snapshots,
    outcomes: journal.map((j) => ({
      submissionId: j.submissionId,
      transactionId: j.transactionId,
      status: j.outcome,
      from: j.from,
      to: j.to,
      amount: j.amount,
      ...(j.reason === undefined ? {} : { reason: j.reason }),
    })),
    unfinishedTransfers: halfApplied,
    extraChecks: [
      {
        name: 'every account chain is contiguous, arithmetic and never negative',
        ok: broken.length === 0,
        detail: `${broken.length} broken entries${broken.length ? `: ${broken.slice(0, 5).join(', ')}` : ''}`,
      },
    ],
  };
}

async function pages<T>(base: string, path: string, key: string): Promise<T[]> {
  const all: T[] = [];
  let after: string | null = null;
  do {
    const url = new URL(path, base);
    url.searchParams.set('limit', '1000');
    if (after !== null) url.searchParams.set('after', after);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
    const body = (await res.json()) as Record<string, unknown>;
    all.push(...((body[key] as T[]) ?? []));
    after = (body.next as string | null) ?? null;
  } while (after !== null);
  return all;
}

export async function gatherFromAccountsApi(base: string, from = 'ACCOUNTS_API_URL'): Promise<Gathered> {
  const accounts = await pages<{ id: string; balance: number; openingBalance: number | null }>(
    base,
    '/accounts',
    'accounts',
  );
  const outcomes = await pages<OutcomeRecord>(base, '/transactions', 'transactions');
  return {
    source: `accounts-api ${base} (from ${from}; ${accounts.length} accounts, ${outcomes.length} outcomes)`,
    accounts: accounts.map((a) => ({ id: a.id, balance: a.balance, openingBalance: a.openingBalance ?? 0 })),
    outcomes,
    extraChecks: [],
  };
}

/** CloudEvent id → reason, for the dead letters a sink lists over HTTP. */
export async function gatherDeadLetters(url: string): Promise<Map<string, string>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  const body = (await res.json()) as unknown;
  const list = (Array.isArray(body) ? body : ((body as { events?: unknown[] }).events ?? [])) as {
    id?: unknown;
    eventId?: unknown;
    reason?: unknown;
    knativeerrordata?: unknown;
    event?: { id?: unknown };
  }[];
  return new Map(
    list.map((e) => [String(e.eventId ?? e.id ?? e.event?.id), String(e.reason ?? e.knativeerrordata ?? '')]),
  );
}

export function toInput(
  gathered: Gathered,
  expectedSubmissions: readonly string[],
  expectedInvalid: readonly string[],
  deadLettered: ReadonlyMap<string, string> | undefined,
): InvariantInput {
  return {
    accounts: gathered.accounts,
    outcomes: gathered.outcomes,
    expectedSubmissions,
    expectedInvalid,
    ...(deadLettered === undefined ? {} : { deadLettered }),
    ...(gathered.unfinishedTransfers === undefined
      ? {}
      : { unfinishedTransfers: gathered.unfinishedTransfers }),
  };
}
