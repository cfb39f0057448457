/**
 * The order intake's records (orders-api's own database, `orders`) and its publisher. An order is written
 * first (`placed_orders`), then published to the broker ingress, which answers 202 only after RabbitMQ's
 * publisher confirm; only then does the client get its 202 and the order an `accepted_orders` record. An order
 * whose publish failed is never billed unless the client retries it (with its `Idempotency-Key`): no relay,
 * because the client was told 503 and may place it again.
 *
 * Both writes are inserts by the order id, not an insert and an update: on FerretDB an update reads first, and
 * that read by `_id` scans the collection (docs/ferretdb.md); on its SQLite backend, 50 orders in flight held
 * the write lock long enough to push POSTs past the gateway's 15 s (docs/orders.md, "Load").
 */
import {
  type CloudEvent,
  postToIngress,
  type SchemaSet,
  storedByBroker,
  toBinary,
} from '../../runtime/src/index.ts';
import { OrdersEventType, type PlacedOrder } from './orders.ts';

export type PlacedOrderDoc = PlacedOrder & {
  /** The order id. */
  readonly _id: string;
};

/** Written once the broker durably accepted the order's event (the client got 202). */
export type AcceptedOrderDoc = {
  /** The order id. */
  readonly _id: string;
  readonly acceptedAt: string;
};

export type BilledOrderDoc = {
  readonly _id: string;
  readonly invoiceNumber: string;
  readonly totalAmountCents: number;
  readonly billedAt: string;
};

export const ORDER_STATUS = { queued: 'queued', billed: 'billed' } as const;

/** `GET /api/billing/{orderId}`: queued (accepted, not billed yet) or billed with its invoice. */
export function orderStatus(
  placed: PlacedOrderDoc | null,
  accepted: AcceptedOrderDoc | null,
  billed: BilledOrderDoc | null,
): Record<string, unknown> | undefined {
  if (billed !== null)
    return {
      orderId: billed._id,
      status: ORDER_STATUS.billed,
      ...(placed === null
        ? {}
        : { userId: placed.userId, numberOfItems: placed.numberOfItems, placedAt: placed.placedAt }),
      totalAmountCents: billed.totalAmountCents,
      invoice: { number: billed.invoiceNumber, billedAt: billed.billedAt },
    };
  if (placed === null || accepted === null) return undefined;
  return {
    orderId: placed._id,
    status: ORDER_STATUS.queued,
    userId: placed.userId,
    numberOfItems: placed.numberOfItems,
    totalAmountCents: placed.totalAmountCents,
    placedAt: placed.placedAt,
  };
}

export const placedData = (doc: PlacedOrderDoc): PlacedOrder => ({
  orderId: doc._id,
  userId: doc.userId,
  numberOfItems: doc.numberOfItems,
  totalAmountCents: doc.totalAmountCents,
  placedAt: doc.placedAt,
});

/** The order's event: its id is the order id, so a retried publish is the same event to every consumer. */
export function placedEvent(doc: PlacedOrderDoc, source: string): CloudEvent {
  return {
    specversion: '1.0',
    id: doc._id,
    source,
    type: OrdersEventType.orderPlaced,
    subject: doc._id,
    time: doc.placedAt,
    datacontenttype: 'application/json',
    data: placedData(doc),
    extensions: {},
  };
}

/** How a publish ended, in the terms the intake answers with (the gateway's publish routes use the same). */
export type PublishOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 502 | 503 | 504; readonly detail: string };

export interface OrderPublisher {
  publish(event: CloudEvent, headers?: Readonly<Record<string, string>>): Promise<PublishOutcome>;
}

export interface BrokerPublisherOptions {
  readonly brokerUrl: string;
  /** The emitted types' schemas: an event that fails its own schema is a bug, never sent. */
  readonly schemas: SchemaSet;
  /** @default 10 000 */
  readonly timeoutMs?: number;
}

/** POSTs in binary mode to the broker ingress: 2xx = durably accepted (after the publisher confirm). */
export function brokerPublisher(options: BrokerPublisherOptions): OrderPublisher {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async publish(event, headers = {}) {
      const problems = options.schemas.check(event.type, event.data);
      if (problems.length > 0)
        throw new Error(`${event.type} fails its own schema: ${JSON.stringify(problems)}`);
      const message = toBinary(event);
      const answer = await postToIngress(
        options.brokerUrl,
        { headers: { ...headers, ...message.headers }, body: message.body },
        { timeoutMs },
      );
      if (answer.kind === 'timeout') {
        return {
          ok: false,
          status: 504,
          detail: `the broker did not answer within ${timeoutMs} ms: retry with the same Idempotency-Key`,
        };
      }
      if (answer.kind === 'unreachable')
        return { ok: false, status: 503, detail: 'the broker is unreachable: nothing was queued' };
      if (storedByBroker(answer)) return { ok: true };
      return answer.status >= 500 || answer.status === 429
        ? { ok: false, status: 503, detail: `the broker answered ${answer.status}: nothing was queued` }
        : { ok: false, status: 502, detail: `the broker refused the order event (${answer.status})` };
    },
  };
}
