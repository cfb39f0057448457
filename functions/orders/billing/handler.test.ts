import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { EventOf } from '../../runtime/src/index.ts';
import { loadSchemas, MemoryDocumentStore, PermanentError } from '../../runtime/src/index.ts';
import { readExample, stubContext } from '../../runtime/test/support.ts';
import { Collections, OrdersEventType } from '../lib/orders.ts';
import type { Events, Handle } from './events.gen.ts';
import { type accepts, type emits, handle, init } from './handler.ts';

const PLACED = readExample<EventOf<Events, typeof OrdersEventType.orderPlaced>>(
  join(import.meta.dirname, 'examples', `${OrdersEventType.orderPlaced}.json`),
);

describe('billing handler', () => {
  it('is typed by its schemas', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts, typeof emits>>();
    const reads: Handle<typeof accepts, typeof emits> = (event) => {
      expectTypeOf(event.data.totalAmountCents).toEqualTypeOf<number>();
      // @ts-expect-error -- `total_amount` is the request's name; the event carries cents
      return event.data.total_amount;
    };
    expect(reads).toBeTypeOf('function');
  });

  it('bills the example: an invoice number, the amount in cents, a reply that passes its schema', async () => {
    const schemas = await loadSchemas(join(import.meta.dirname, 'schemas'));
    const reply = await handle(PLACED, stubContext(new MemoryDocumentStore()));
    expect(reply).toMatchObject({
      type: OrdersEventType.orderBilled,
      subject: PLACED.data.orderId,
      data: {
        orderId: PLACED.data.orderId,
        invoiceNumber: 'INV-00000001',
        totalAmountCents: 5000,
        userId: '22',
      },
    });
    expect(schemas.check(OrdersEventType.orderBilled, reply?.data)).toEqual([]);
  });

  it('bills an order once however often it is delivered, with the same reply', async () => {
    const store = new MemoryDocumentStore();
    // init creates the unique index on the invoices' order id, which is what finds a redelivered order.
    await init?.({ log: stubContext(store).log, store, functionName: 'billing' });
    const first = await handle(PLACED, stubContext(store));
    const again = await handle(PLACED, stubContext(store));
    expect(again).toEqual(first);
    expect(await store.collection(Collections.orders).countDocuments({})).toBe(1);
    expect(await store.collection(Collections.invoices).countDocuments({})).toBe(1);
  });

  it('refuses an event whose id is not its order id (422, kept in the dead-letter sink)', async () => {
    await expect(
      handle({ ...PLACED, id: 'another-id' }, stubContext(new MemoryDocumentStore())),
    ).rejects.toBeInstanceOf(PermanentError);
  });
});
