import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../../runtime/src/index.ts';
import { BankingEventType, Collections, RejectionReason } from '../lib/banking.ts';
import { bankingEvent, captureLog, stubContext } from '../lib/test-support.ts';
import { handle } from './handler.ts';

const processed = bankingEvent(BankingEventType.transactionProcessed, 'reply-1', {
  transactionId: 'tx-1',
  submissionId: 'sub-1',
  from: 'a',
  to: 'b',
  amount: 250,
  currency: 'EUR',
  fromBalance: 750,
  fromVersion: 1,
  toBalance: 250,
  toVersion: 1,
});
const rejected = bankingEvent(BankingEventType.transactionRejected, 'reply-2', {
  transactionId: 'tx-2',
  submissionId: 'sub-2',
  from: 'a',
  to: 'b',
  amount: 9999,
  currency: 'EUR',
  reason: RejectionReason.insufficientFunds,
  detail: 'a cannot cover 9999 EUR',
});

describe('transaction-journal', () => {
  describe('handle', () => {
    it('writes one ECS audit line with the transaction under banking.transaction.*', async () => {
      const { lines, logger } = captureLog('transaction-journal');
      const store = new MemoryDocumentStore();
      await handle(processed, stubContext(store, logger));
      logger.flush();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        'log.level': 'info',
        service: { name: 'transaction-journal' },
        'event.id': 'reply-1',
        'event.action': 'transaction-processed',
        'event.outcome': 'success',
        'trace.id': '0af7651916cd43dd8448eb211c80319c',
        'banking.transaction.id': 'tx-1',
        'banking.transaction.from': 'a',
        'banking.transaction.to': 'b',
        'banking.transaction.amount': 250,
        'banking.transaction.currency': 'EUR',
      });
      expect(typeof lines[0]?.['@timestamp']).toBe('string');
      expect(String(lines[0]?.message)).toContain('tx-1');
    });

    it('records the reason of a rejection as event.outcome failure', async () => {
      const { lines, logger } = captureLog('transaction-journal');
      await handle(rejected, stubContext(new MemoryDocumentStore(), logger));
      logger.flush();
      expect(lines[0]).toMatchObject({
        'event.outcome': 'failure',
        'event.action': 'transaction-rejected',
        'banking.transaction.reason': 'insufficient-funds',
      });
    });

    it('journals a redelivered event once', async () => {
      const { lines, logger } = captureLog('transaction-journal');
      const store = new MemoryDocumentStore();
      await handle(processed, stubContext(store, logger));
      await handle(processed, stubContext(store, logger));
      logger.flush();
      expect(lines).toHaveLength(1);
      expect(await store.collection(Collections.journal).countDocuments({ transactionId: 'tx-1' })).toBe(1);
    });

    it('logs again when an earlier run stored the entry but stopped before its line', async () => {
      const { lines, logger } = captureLog('transaction-journal');
      const store = new MemoryDocumentStore();
      await store.collection(Collections.journal).insertOne({ _id: 'reply-2' }); // no marker: no line yet
      await handle(rejected, stubContext(store, logger));
      await handle(rejected, stubContext(store, logger)); // marked now: not again
      logger.flush();
      expect(lines).toHaveLength(1);
      expect(await store.collection(Collections.journalLogged).findOne({ _id: 'reply-2' })).toEqual({
        _id: 'reply-2',
      });
    });
  });
});
