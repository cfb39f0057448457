import { describe, expect, it } from 'vitest';
import {
  type Doc,
  type DocumentStore,
  MemoryDocumentStore,
  StoreUnavailableError,
} from '../../runtime/src/index.ts';
import { BillingLedger, type InvoiceDoc, invoiceNumber } from './billing-ledger.ts';
import { Collections, type PlacedOrder } from './orders.ts';

const order = (n: number): PlacedOrder => ({
  orderId: `00000000-0000-5000-8000-${String(n).padStart(12, '0')}`,
  userId: 'u-1',
  numberOfItems: 1,
  totalAmountCents: 100 * n,
  placedAt: '2026-11-29T12:00:00.000Z',
});

async function ledgerOn(store: DocumentStore = new MemoryDocumentStore()): Promise<BillingLedger> {
  const ledger = new BillingLedger(store, () => new Date('2026-11-29T12:00:01.000Z'));
  await ledger.createIndexes();
  return ledger;
}

describe('BillingLedger', () => {
  it('numbers invoices in billing order, without gaps', async () => {
    const ledger = await ledgerOn();
    const bills = [];
    for (let i = 1; i <= 5; i++) bills.push(await ledger.bill(order(i)));
    expect(bills.map((b) => b.invoiceNumber)).toEqual([1, 2, 3, 4, 5].map(invoiceNumber));
    expect(bills[2]).toMatchObject({ _id: order(3).orderId, totalAmountCents: 300 });
  });

  it('answers the same bill when an order comes again', async () => {
    const ledger = await ledgerOn();
    const first = await ledger.bill(order(1));
    await ledger.bill(order(2));
    expect(await ledger.bill(order(1))).toEqual(first);
    expect(await ledger.orders.countDocuments({})).toBe(2);
  });

  it('reuses the number a crash left behind before the bill was written', async () => {
    const store = new MemoryDocumentStore();
    const ledger = await ledgerOn(store);
    // The state a crash between step 2 (number taken) and step 3 (bill written) leaves.
    await store
      .collection<InvoiceDoc>(Collections.invoices)
      .insertOne({ _id: invoiceNumber(1), orderId: order(7).orderId, takenAt: 'x' });
    expect((await ledger.bill(order(8))).invoiceNumber).toBe(invoiceNumber(2));
    expect((await ledger.bill(order(7))).invoiceNumber).toBe(invoiceNumber(1));
  });

  it('gives 30 orders racing 30 distinct numbers 1..30, and the same order racing itself one', async () => {
    const ledger = await ledgerOn();
    const bills = await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.bill(order(i + 1))));
    expect(new Set(bills.map((b) => b.invoiceNumber)).size).toBe(30);
    expect(bills.map((b) => b.invoiceNumber).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => invoiceNumber(i + 1)),
    );
    const same = await Promise.all(Array.from({ length: 10 }, () => ledger.bill(order(31))));
    expect(new Set(same.map((b) => b.invoiceNumber))).toEqual(new Set([invoiceNumber(31)]));
    expect(await ledger.invoices.countDocuments({})).toBe(31);
  });

  it('keeps numbers gapless and distinct with two instances billing at once (each its own counter)', async () => {
    const store = new MemoryDocumentStore();
    const [a, b] = [await ledgerOn(store), await ledgerOn(store)];
    await a.bill(order(100)); // a's counter is ahead of b's, which has not read yet
    const bills = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).bill(order(i + 1))),
    );
    const numbers = [invoiceNumber(1), ...bills.map((x) => x.invoiceNumber)].sort();
    expect(numbers).toEqual(Array.from({ length: 41 }, (_, i) => invoiceNumber(i + 1)));
  });

  it('lets a store failure through (the runtime answers 503 and the broker retries), and keeps the number gapless', async () => {
    const store = new MemoryDocumentStore();
    let down = false;
    const flaky: DocumentStore = {
      kind: 'memory',
      collection: <T extends Doc>(name: string) => {
        const c = store.collection<T>(name);
        const insertOne: typeof c.insertOne = (doc) =>
          down ? Promise.reject(new StoreUnavailableError('down')) : c.insertOne(doc);
        return new Proxy(c, {
          get(target, key) {
            if (key === 'insertOne') return insertOne;
            const value: unknown = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
      ping: () => store.ping(),
      close: () => store.close(),
    };
    const ledger = await ledgerOn(flaky);
    await ledger.bill(order(1));
    down = true;
    await expect(ledger.bill(order(2))).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await ledger.orders.countDocuments({})).toBe(1);
    down = false;
    // The number it could not write is tried first: order 3 gets 2, the retried order 2 gets 3.
    expect((await ledger.bill(order(3))).invoiceNumber).toBe(invoiceNumber(2));
    expect((await ledger.bill(order(2))).invoiceNumber).toBe(invoiceNumber(3));
  });
});
