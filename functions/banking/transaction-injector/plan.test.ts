import { describe, expect, it } from 'vitest';
import { loadSchemas, receive } from '../../runtime/src/index.ts';
import { checkInvariants } from '../lib/invariants.ts';
import { makePlan, SubmissionKind } from './plan.ts';

const options = { seed: 7, count: 400, accounts: 10, invalidRatio: 0.1 };

describe('transaction-injector', () => {
  describe('makePlan', () => {
    it('generates the same submissions for the same seed and others for another seed', () => {
      const a = makePlan(options);
      expect(makePlan(options).submissions.map((s) => s.body.toString())).toEqual(
        a.submissions.map((s) => s.body.toString()),
      );
      expect(makePlan({ ...options, seed: 8 }).submissions.map((s) => s.id)).not.toEqual(
        a.submissions.map((s) => s.id),
      );
    });

    it('mixes malformed events the ingress refuses and schema-invalid events the function refuses', async () => {
      const plan = makePlan(options);
      const schemas = await loadSchemas(`${import.meta.dirname}/../transaction-processor/schemas`);
      const byKind = (k: string) => plan.submissions.filter((s) => s.kind === k);
      expect(byKind(SubmissionKind.malformed).length).toBeGreaterThan(5);
      expect(byKind(SubmissionKind.schemaInvalid).length).toBeGreaterThan(5);
      for (const s of byKind(SubmissionKind.malformed)) expect(() => receive(s.headers, s.body)).toThrow();
      for (const s of byKind(SubmissionKind.schemaInvalid))
        expect(() => schemas.validate(receive(s.headers, s.body).event)).toThrow();
      for (const s of [...byKind(SubmissionKind.valid), ...plan.openings]) {
        expect(() => schemas.validate(receive(s.headers, s.body).event)).not.toThrow();
      }
    });
  });

  describe('checkInvariants', () => {
    const accounts = [
      { id: 'a', balance: 70, openingBalance: 100 },
      { id: 'b', balance: 30, openingBalance: 0 },
    ];
    const ok = {
      submissionId: 's1',
      transactionId: 't1',
      status: 'processed' as const,
      from: 'a',
      to: 'b',
      amount: 30,
    };

    it('holds for balances that match the processed transfers', () => {
      expect(checkInvariants({ accounts, outcomes: [ok], expectedSubmissions: ['s1'] }).ok).toBe(true);
    });

    it('fails when a transfer was applied twice, a submission has two outcomes or one is missing', () => {
      const twice = checkInvariants({
        accounts: [{ ...accounts[0], balance: 40 } as never, { ...accounts[1], balance: 60 } as never],
        outcomes: [ok],
      });
      expect(twice.checks.find((c) => c.name.startsWith('every processed'))?.ok).toBe(false);
      const dup = checkInvariants({ accounts, outcomes: [ok, { ...ok, status: 'rejected' }] });
      expect(dup.checks.find((c) => c.name.startsWith('no submission'))?.ok).toBe(false);
      const missing = checkInvariants({ accounts, outcomes: [ok], expectedSubmissions: ['s1', 's2'] });
      expect(missing.ok).toBe(false);
    });

    it('fails on a negative balance and on money created', () => {
      const bad = checkInvariants({
        accounts: [
          { id: 'a', balance: -1, openingBalance: 0 },
          { id: 'b', balance: 2, openingBalance: 0 },
        ],
        outcomes: [],
      });
      expect(bad.checks.filter((c) => !c.ok).map((c) => c.name.split(' ')[0])).toEqual([
        'money',
        'no',
        'every',
      ]);
    });
  });
});
