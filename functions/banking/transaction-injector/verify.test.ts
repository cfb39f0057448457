import { describe, expect, it } from 'vitest';
import {
  type Collection,
  type Doc,
  type DocumentStore,
  MemoryDocumentStore,
} from '../../runtime/src/index.ts';
import { Collections, type JournalEntry } from '../lib/banking.ts';
import { checkInvariants } from '../lib/invariants.ts';
import type { AccountDoc, EntryDoc } from '../lib/ledger.ts';
import { gatherFromStore } from './verify.ts';

const at = '2026-01-01T00:00:00.000Z';
const account = (id: string, openingBalance: number): AccountDoc => ({
  _id: id,
  currency: 'EUR',
  openingBalance,
  openedBy: `open-${id}`,
  openedAt: at,
  head: 0,
});
const entry = (account: string, seq: number, e: Partial<EntryDoc>): EntryDoc => ({
  _id: `${account}#${String(seq).padStart(12, '0')}`,
  account,
  seq,
  txId: `open:${account}`,
  kind: 'open',
  side: 'to',
  delta: 0,
  balanceAfter: 0,
  at,
  ...e,
});

describe('gatherFromStore', () => {
  it('reads no drift when a transfer finishes between its reads (the journal before the entries)', async () => {
    const memory = new MemoryDocumentStore();
    await memory.collection<AccountDoc>(Collections.accounts).insertOne(account('a', 100));
    await memory.collection<AccountDoc>(Collections.accounts).insertOne(account('b', 0));
    const entries = memory.collection<EntryDoc>(Collections.entries);
    await entries.insertOne(entry('a', 0, { delta: 100, balanceAfter: 100 }));
    await entries.insertOne(entry('b', 0, {}));
    // The last transfer completes while verify reads: its entries, then its journal entry (the processor
    // writes before it replies, the journal after).
    let finished = false;
    const finishTransfer = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      await entries.insertOne(
        entry('a', 1, { txId: 't1', kind: 'debit', side: 'from', delta: -30, balanceAfter: 70 }),
      );
      await entries.insertOne(
        entry('b', 1, { txId: 't1', kind: 'credit', side: 'to', delta: 30, balanceAfter: 30 }),
      );
      await memory.collection<JournalEntry>(Collections.journal).insertOne({
        _id: 'out-1',
        type: 'dev.sluice.banking.transaction.processed.v1',
        outcome: 'processed',
        transactionId: 't1',
        submissionId: 's1',
        from: 'a',
        to: 'b',
        amount: 30,
        currency: 'EUR',
        time: at,
      });
    };
    // Whatever verify reads first, the transfer finishes just after that read.
    const store = new Proxy(memory, {
      get(target, prop, receiver) {
        if (prop !== 'collection') return Reflect.get(target, prop, receiver);
        return (name: string) => {
          const c = target.collection(name);
          return new Proxy(c, {
            get(ct, p, r) {
              if (p !== 'find') return Reflect.get(ct, p, r);
              return async (...args: Parameters<Collection<Doc>['find']>) => {
                const found = await ct.find(...args);
                if (name === Collections.journal || name === Collections.entries) await finishTransfer();
                return found;
              };
            },
          });
        };
      },
    }) as DocumentStore;
    // As --verify polls: the first read that holds the transfer's outcome is the one it checks.
    for (let read = 1; read <= 2; read++) {
      const gathered = await gatherFromStore(store, 'test');
      if (!gathered.outcomes.some((o) => o.submissionId === 's1')) continue;
      const report = checkInvariants({ accounts: gathered.accounts, outcomes: gathered.outcomes });
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      return;
    }
    expect.unreachable('the outcome never showed');
  });
});
