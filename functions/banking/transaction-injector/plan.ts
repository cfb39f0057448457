/**
 * What the injector sends, derived only from its options: the same seed gives the same accounts,
 * transfers, ids and invalid events, so `--verify` regenerates the plan to know what to expect.
 */

import type { CloudEvent } from '../../runtime/src/index.ts';
import { toBinary, toStructured } from '../../runtime/src/index.ts';
import { type AccountOpened, BankingEventType, type TransactionSubmitted } from '../lib/banking.ts';
import { seededRandom } from '../lib/prng.ts';

export interface PlanOptions {
  readonly seed: number;
  readonly count: number;
  readonly accounts: number;
  /** Share of submissions replaced by malformed or schema-invalid events, 0..1. */
  readonly invalidRatio: number;
}

export const SubmissionKind = {
  valid: 'valid',
  schemaInvalid: 'schema-invalid',
  malformed: 'malformed',
} as const;
export type SubmissionKind = (typeof SubmissionKind)[keyof typeof SubmissionKind];

export interface Submission {
  readonly kind: SubmissionKind;
  /** The CloudEvent id (for malformed ones: the id it would have had). */
  readonly id: string;
  /** The event; undefined for malformed submissions, which are only bytes. */
  readonly event?: CloudEvent<unknown>;
  /** HTTP/AMQP message: headers (ce-* or content-type) and body. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface Plan {
  readonly accounts: readonly AccountOpened[];
  readonly openings: readonly Submission[];
  readonly submissions: readonly Submission[];
}

export const INJECTOR_SOURCE = '/sluice/transaction-injector';

function cloudEvent<T>(type: string, id: string, data: T, subject?: string): CloudEvent<T> {
  return {
    specversion: '1.0',
    id,
    source: INJECTOR_SOURCE,
    type,
    ...(subject === undefined ? {} : { subject }),
    datacontenttype: 'application/json',
    data,
    extensions: {},
  };
}

function binary(kind: SubmissionKind, event: CloudEvent<unknown>): Submission {
  const message = toBinary(event as CloudEvent);
  return { kind, id: event.id, event, headers: message.headers, body: message.body };
}

export function makePlan(options: PlanOptions): Plan {
  const { seed, count } = options;
  const rnd = seededRandom(seed);
  const accounts: AccountOpened[] = Array.from({ length: options.accounts }, (_, i) => ({
    accountId: `acc-s${seed}-${i}`,
    currency: rnd.next() < 0.1 ? 'USD' : 'EUR',
    openingBalance: rnd.int(10_000, 1_000_000),
    owner: `owner ${i}`,
  }));
  const openings = accounts.map((a) =>
    binary(
      SubmissionKind.valid,
      cloudEvent(BankingEventType.accountOpened, `open-s${seed}-${a.accountId}`, a, a.accountId),
    ),
  );
  const sent: TransactionSubmitted[] = [];
  const submissions: Submission[] = [];
  for (let i = 0; i < count; i++) {
    const roll = rnd.next();
    if (roll < options.invalidRatio) {
      if (rnd.next() < 0.5) {
        // Malformed: not a CloudEvent at all (no id, broken JSON): the ingress answers 400.
        const id = `mal-s${seed}-${i}`;
        const body = Buffer.from(
          `{"specversion":"1.0","source":"${INJECTOR_SOURCE}","type":"${BankingEventType.transactionSubmitted}","data":{`,
        );
        submissions.push({
          kind: SubmissionKind.malformed,
          id,
          headers: { 'content-type': 'application/cloudevents+json' },
          body,
        });
      } else {
        // Schema-invalid: a valid CloudEvent whose data breaks the schema: the function answers 400,
        // and the broker dead-letters it.
        const from = rnd.pick(accounts).accountId;
        const broken = rnd.pick([
          { transactionId: `tx-s${seed}-${i}`, from, to: from, amount: -rnd.int(1, 100), currency: 'EUR' },
          { transactionId: `tx-s${seed}-${i}`, from, amount: 10, currency: 'EUR' },
          { transactionId: `tx-s${seed}-${i}`, from, to: from, amount: 12.5, currency: 'euro' },
        ]);
        submissions.push(
          binary(
            SubmissionKind.schemaInvalid,
            cloudEvent(BankingEventType.transactionSubmitted, `bad-s${seed}-${i}`, broken),
          ),
        );
      }
      continue;
    }
    const fromAccount = rnd.pick(accounts);
    let tx: TransactionSubmitted = {
      transactionId: `tx-s${seed}-${i}`,
      from: fromAccount.accountId,
      to: rnd.pick(accounts).accountId,
      amount: rnd.int(1, Math.max(1, Math.floor(fromAccount.openingBalance / 3))),
      currency: fromAccount.currency,
    };
    const twist = rnd.next();
    if (twist < 0.02)
      tx = { ...tx, to: `ghost-s${seed}-${i}` }; // unknown-account
    else if (twist < 0.04)
      tx = { ...tx, currency: tx.currency === 'EUR' ? 'GBP' : 'EUR' }; // currency-mismatch
    else if (twist < 0.05 && sent.length > 0) {
      const earlier = rnd.pick(sent); // duplicate-transaction-id-different-content
      tx = { ...tx, transactionId: earlier.transactionId, amount: earlier.amount + 1 };
    }
    sent.push(tx);
    submissions.push(
      binary(
        SubmissionKind.valid,
        cloudEvent(BankingEventType.transactionSubmitted, `sub-s${seed}-${i}`, tx, tx.transactionId),
      ),
    );
  }
  return { accounts, openings, submissions };
}

/** The structured-mode form of an event (AMQP bodies in structured mode, curl examples). */
export function structured(event: CloudEvent<unknown>): { headers: Record<string, string>; body: Buffer } {
  return toStructured(event as CloudEvent);
}
