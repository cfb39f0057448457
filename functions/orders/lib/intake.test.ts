import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchemas } from '../../runtime/src/index.ts';
import {
  type AcceptedOrderDoc,
  type BilledOrderDoc,
  orderStatus,
  type PlacedOrderDoc,
  placedEvent,
} from './intake.ts';
import { OrdersEventType } from './orders.ts';

const ID = '3f0c9a52-8d1e-5b7a-9c4d-2e6f1a8b0c3d';
const placed: PlacedOrderDoc = {
  _id: ID,
  orderId: ID,
  userId: '22',
  numberOfItems: 10,
  totalAmountCents: 5000,
  placedAt: '2026-11-29T12:00:00.000Z',
};
const accepted: AcceptedOrderDoc = { _id: ID, acceptedAt: '2026-11-29T12:00:00.100Z' };
const billed: BilledOrderDoc = {
  _id: ID,
  invoiceNumber: 'INV-00000001',
  totalAmountCents: 5000,
  billedAt: '2026-11-29T12:00:01.000Z',
};

describe('orderStatus', () => {
  it('is queued once accepted and not billed', () => {
    expect(orderStatus(placed, accepted, null)).toMatchObject({
      orderId: ID,
      status: 'queued',
      totalAmountCents: 5000,
    });
  });

  it('is billed with its invoice once billing said so', () => {
    expect(orderStatus(placed, accepted, billed)).toMatchObject({
      status: 'billed',
      invoice: { number: 'INV-00000001', billedAt: billed.billedAt },
    });
  });

  it('is unknown when the broker never accepted it (the client got a 503)', () => {
    expect(orderStatus(placed, null, null)).toBeUndefined();
    expect(orderStatus(null, null, null)).toBeUndefined();
  });

  it('is billed even when the accepted mark was never written (billing had the event)', () => {
    expect(orderStatus(placed, null, billed)).toMatchObject({ status: 'billed', userId: '22' });
  });
});

describe('placedEvent', () => {
  it('is the order as its schema says, its id the order id', async () => {
    const schemas = await loadSchemas(join(import.meta.dirname, '../billing/schemas'));
    const event = placedEvent(placed, '/sluice/functions/orders-api');
    expect(event).toMatchObject({
      id: ID,
      subject: ID,
      type: OrdersEventType.orderPlaced,
      time: placed.placedAt,
    });
    expect(schemas.check(event.type, event.data)).toEqual([]);
    expect(event.data).not.toHaveProperty('accepted');
  });
});
