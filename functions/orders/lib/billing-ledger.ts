/**
 * billing's ledger (database `billing`): one invoice number and one billed order per placed order, exactly once
 * under redelivery, a crash between any two steps, and two instances racing for the same order or the same
 * number — on MongoDB and on FerretDB, which has no transactions and no atomic conditional update
 * (docs/ferretdb.md). Every write is a unique insert, the one operation both make atomic, and the first time an
 * order comes nothing is read (on FerretDB a read by `_id` scans the collection):
 *
 * 1. its invoice number, by inserting the next free one (`_id` = the number): a number another instance took
 *    makes the insert fail and we try the next; an order that has its number already (billed before, a crash
 *    after this step, a racer for the same order) makes it fail on the unique `orderId`, and we take that number
 *    (read only then). Which number to try comes from a counter in this instance, seeded from the highest taken
 *    (one sorted read per instance, not one per order): concurrent orders in one instance try distinct numbers
 *    instead of all racing for the same one. Every number below the counter is taken, so numbers stay gapless;
 *    one whose insert failed for another reason (a store error) or that the order did not need is tried again
 *    first;
 * 2. the bill (`orders`, `_id` = order id); a duplicate means the order was billed before (a redelivery the
 *    idempotency guard did not answer, a racer): read it and answer that bill, as it was.
 */
import {
  type Collection,
  type DocumentStore,
  DuplicateKeyError,
  TransientError,
} from '../../runtime/src/index.ts';
import { type BilledOrder, Collections, type PlacedOrder } from './orders.ts';

export type InvoiceDoc = {
  /** `INV-00000042`: fixed width, so the highest sorts last by `_id` (the primary index). */
  readonly _id: string;
  readonly orderId: string;
  readonly takenAt: string;
};

export type BillDoc = {
  /** The order id. */
  readonly _id: string;
  readonly invoiceNumber: string;
  readonly userId: string;
  readonly numberOfItems: number;
  readonly totalAmountCents: number;
  readonly placedAt: string;
  readonly billedAt: string;
};

const INVOICE_DIGITS = 8;
/** Tries at the next number before giving up with a 503 (the broker retries): only under heavy racing. */
const MAX_NUMBER_TRIES = 50;

export const invoiceNumber = (n: number): string => `INV-${String(n).padStart(INVOICE_DIGITS, '0')}`;
export const invoiceSeq = (id: string): number => Number(id.slice(4));

export function billedEvent(bill: BillDoc): BilledOrder {
  return {
    orderId: bill._id,
    invoiceNumber: bill.invoiceNumber,
    userId: bill.userId,
    totalAmountCents: bill.totalAmountCents,
    billedAt: bill.billedAt,
  };
}

export class BillingLedger {
  readonly orders: Collection<BillDoc>;
  readonly invoices: Collection<InvoiceDoc>;
  readonly #now: () => Date;

  constructor(store: DocumentStore, now: () => Date = () => new Date()) {
    this.orders = store.collection<BillDoc>(Collections.orders);
    this.invoices = store.collection<InvoiceDoc>(Collections.invoices);
    this.#now = now;
  }

  async createIndexes(): Promise<void> {
    await this.invoices.createIndex({ keys: { orderId: 1 }, unique: true, name: 'orderId_unique' });
  }

  /** Bills an order once; every later call for the same order answers the same bill. */
  async bill(order: PlacedOrder): Promise<BillDoc> {
    const number = await this.#invoiceFor(order.orderId);
    const bill: BillDoc = {
      _id: order.orderId,
      invoiceNumber: number,
      userId: order.userId,
      numberOfItems: order.numberOfItems,
      totalAmountCents: order.totalAmountCents,
      placedAt: order.placedAt,
      billedAt: this.#now().toISOString(),
    };
    try {
      await this.orders.insertOne(bill);
      return bill;
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      const first = await this.orders.findOne({ _id: order.orderId });
      if (first === null) throw err;
      return first;
    }
  }

  /** The next number this instance tries (every number below it is taken); undefined until read. */
  #next: number | undefined;
  /** Numbers this instance tried whose insert failed without a duplicate: free, tried again first. */
  readonly #retry: number[] = [];

  async #invoiceFor(orderId: string): Promise<string> {
    for (let tries = 0; tries < MAX_NUMBER_TRIES; tries++) {
      let seq = this.#retry.shift();
      if (seq === undefined) {
        if (this.#next === undefined) {
          const [highest] = await this.invoices.find({}, { sort: { _id: -1 }, limit: 1 });
          this.#next ??= (highest === undefined ? 0 : invoiceSeq(highest._id)) + 1;
        }
        seq = this.#next++;
      }
      const next = invoiceNumber(seq);
      try {
        await this.invoices.insertOne({ _id: next, orderId, takenAt: this.#now().toISOString() });
        return next;
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) {
          this.#retry.push(seq);
          throw err;
        }
        // Refused: the order has its number already (billed before, a crash after step 1, or a racer for it: unique `orderId`),
        // and this one is free again; or the number was taken by another instance: try the next.
        const mine = await this.invoices.findOne({ orderId });
        if (mine !== null) {
          this.#retry.push(seq);
          return mine._id;
        }
      }
    }
    throw new TransientError(`no free invoice number after ${MAX_NUMBER_TRIES} tries (heavy racing)`, {
      retryAfterSeconds: 1,
    });
  }
}
