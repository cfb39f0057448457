/**
 * billing — bills each placed order once (database `billing`, collection `orders`, with a gapless invoice
 * number: lib/billing-ledger.ts) and replies `…order.billed.v1`, which orders-api records for
 * `GET /api/billing/{orderId}`. A redelivery, a crash between two writes or two instances racing end with one
 * bill and one number; the runtime's idempotency guard replays the answer of a completed event. A store that is
 * down answers 503 (StoreUnavailableError): the broker retries with backoff until it is back (docs/orders.md).
 */
import { type Counter, metrics } from '@opentelemetry/api';
import { PermanentError, type SluiceFunction } from '../../runtime/src/index.ts';
import { BillingLedger, billedEvent } from '../lib/billing-ledger.ts';
import { OrdersEventType } from '../lib/orders.ts';
import type { Handle } from './events.gen.ts';

export const accepts = [OrdersEventType.orderPlaced] as const;
export const emits = [OrdersEventType.orderBilled] as const;

let billed: Counter | undefined;
/** One ledger per store (its invoice counter is the instance's); the tests hand each call their own store. */
const ledgers = new WeakMap<object, BillingLedger>();
const ledgerOf = (store: ConstructorParameters<typeof BillingLedger>[0]): BillingLedger => {
  const known = ledgers.get(store);
  if (known !== undefined) return known;
  const ledger = new BillingLedger(store);
  ledgers.set(store, ledger);
  return ledger;
};

export const init: SluiceFunction['init'] = async ({ store }) => {
  await ledgerOf(store).createIndexes();
  billed = metrics.getMeter('billing').createCounter('orders.billed', {
    description: 'Orders billed (a replayed redelivery is not counted again)',
  });
};

export const handle: Handle<typeof accepts, typeof emits> = async (event, { store }) => {
  const order = event.data;
  // The event id is the order id (orders-api): anything else is not an order this system placed.
  if (event.id !== order.orderId)
    throw new PermanentError(
      'order-id-mismatch',
      `the event id ${event.id} is not the order id ${order.orderId}`,
    );
  const bill = await ledgerOf(store).bill(order);
  billed?.add(1);
  return { type: OrdersEventType.orderBilled, subject: bill._id, data: billedEvent(bill) };
};
