/**
 * orders-api — the order intake and the orders' state, behind api-gateway at `/api/billing` (its own
 * database, `orders`; never billing's):
 *   POST /orders        {"user_id","number_of_items","total_amount"} (numbers as strings or numbers) →
 *                       400 problem+json before anything is queued, else `…order.placed.v1` to the broker and
 *                       202 {"orderId","status":"queued"} only once the broker durably accepted it.
 *                       `Idempotency-Key`: the same order id and one order for every retry (422 if the body differs).
 *   GET  /orders/:id    queued (accepted here, not billed yet) or billed with its invoice
 *   GET  /orders/openapi.json   OpenAPI 3.1 of these (openapi.ts; public /api/billing/openapi.json)
 * Consumes `…order.billed.v1` (billing's reply) into its own view of what was billed.
 * Why a function behind a proxy route and not a gateway publish route: docs/orders.md, "The intake".
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Request, Response, Router } from 'express';
import {
  ConfigError,
  DuplicateKeyError,
  loadSchemas,
  openApiRoute,
  requireJson,
  route,
  type SluiceFunction,
} from '../../runtime/src/index.ts';
import { bodyErrors, jsonBody, principalOf, sendProblem } from '../lib/http.ts';
import {
  type AcceptedOrderDoc,
  type BilledOrderDoc,
  brokerPublisher,
  ORDER_STATUS,
  type OrderPublisher,
  orderStatus,
  type PlacedOrderDoc,
  placedEvent,
} from '../lib/intake.ts';
import {
  Collections,
  IDEMPOTENCY_KEY,
  ORDER_ID,
  OrdersEventType,
  orderIdFor,
  readOrderRequest,
  sameRequest,
} from '../lib/orders.ts';
import type { Handle } from './events.gen.ts';
import { openApiDocument } from './openapi.ts';

export const accepts = [OrdersEventType.orderBilled] as const;
/** Published to the broker (not a reply): checked against its schema before each publish. */
export const emits = [OrdersEventType.orderPlaced] as const;

/**
 * Without the runtime's idempotency guard for billing's replies: each is recorded by a unique insert keyed by the
 * order id (a redelivery finds it and writes nothing) and answered 204 with no reply, so the guard's claim and
 * completion would only add two store writes per order.
 */
export const idempotent = false;

const SOURCE = '/sluice/functions/orders-api';
let publisher: OrderPublisher | undefined;

export const init: SluiceFunction['init'] = async () => {
  const brokerUrl = process.env.BROKER_URL;
  if (brokerUrl === undefined || brokerUrl === '')
    throw new ConfigError(['BROKER_URL must name the broker ingress the orders are published to']);
  publisher = brokerPublisher({
    brokerUrl,
    schemas: await loadSchemas(join(import.meta.dirname, 'schemas')),
  });
};

/** billing's reply: recorded once (insert by order id; a redelivery finds it there). */
export const handle: Handle<typeof accepts, typeof emits> = async (event, { store }) => {
  const { orderId, invoiceNumber, totalAmountCents, billedAt } = event.data;
  try {
    await store
      .collection<BilledOrderDoc>(Collections.billedOrders)
      .insertOne({ _id: orderId, invoiceNumber, totalAmountCents, billedAt });
  } catch (err) {
    if (!(err instanceof DuplicateKeyError)) throw err;
  }
  return undefined;
};

export const routes: SluiceFunction['routes'] = (router: Router, { store, log }) => {
  const placed = store.collection<PlacedOrderDoc>(Collections.placedOrders);
  const accepted = store.collection<AcceptedOrderDoc>(Collections.acceptedOrders);
  const billed = store.collection<BilledOrderDoc>(Collections.billedOrders);
  const onError = (err: unknown): void =>
    log.error(`orders-api route failed: ${(err as Error).message}`, { 'event.action': 'route-failed' });

  router.post(
    '/orders',
    jsonBody,
    route(async (req: Request, res: Response) => {
      if (!requireJson(req, res)) return;
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)))
        return sendProblem(res, 400, 'Idempotency-Key must be 1-255 visible ASCII characters', [
          { name: 'Idempotency-Key', reason: '1-255 visible ASCII characters' },
        ]);
      const request = readOrderRequest(req.body);
      if (Array.isArray(request))
        return sendProblem(res, 400, 'the order is not valid; nothing was queued', request);
      const orderId = key === undefined ? randomUUID() : orderIdFor(principalOf(req), key);
      let order: PlacedOrderDoc = {
        _id: orderId,
        orderId,
        ...request,
        placedAt: new Date().toISOString(),
      };
      let queued = false;
      try {
        await placed.insertOne(order);
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
        const first = await placed.findOne({ _id: orderId });
        if (first === null) throw err;
        if (!sameRequest(first, request))
          return sendProblem(
            res,
            422,
            'this Idempotency-Key was used for another order; use a new key for a new order',
          );
        order = first;
        queued = (await accepted.findOne({ _id: orderId })) !== null;
      }
      // A retry of an order the broker already has is answered as the first time (no second event).
      if (!queued) {
        const traceparent = req.headers.traceparent;
        const outcome = await (publisher as OrderPublisher).publish(
          placedEvent(order, SOURCE),
          typeof traceparent === 'string' ? { traceparent } : {},
        );
        if (!outcome.ok) {
          if (outcome.status === 503) res.setHeader('retry-after', '1');
          log.warn(`order ${orderId} not queued: ${outcome.detail}`, { 'event.action': 'order-not-queued' });
          return sendProblem(res, outcome.status, outcome.detail);
        }
        await accepted
          .insertOne({ _id: orderId, acceptedAt: new Date().toISOString() })
          .catch((err: unknown) => {
            // A duplicate is a concurrent retry's mark. Otherwise the broker has it all the same: billing bills it
            // and its billed state shows on GET; only "queued" is missed until then.
            if (!(err instanceof DuplicateKeyError))
              log.warn(`order ${orderId} queued but not marked: ${(err as Error).message}`, {
                'event.action': 'order-mark-failed',
              });
          });
      }
      res.status(202).location(`billing/${orderId}`).json({ orderId, status: ORDER_STATUS.queued });
    }, onError),
  );

  // Before /orders/:id, which would take `openapi.json` for an id.
  router.get('/orders/openapi.json', openApiRoute(openApiDocument()));

  router.get(
    '/orders/:id',
    route(async (req, res) => {
      const id = req.params.id;
      if (typeof id !== 'string' || !ORDER_ID.test(id))
        return sendProblem(res, 404, 'no such order (ids are UUIDs)');
      const [p, a, b] = await Promise.all([
        placed.findOne({ _id: { $eq: id } }),
        accepted.findOne({ _id: { $eq: id } }),
        billed.findOne({ _id: { $eq: id } }),
      ]);
      const status = orderStatus(p, a, b);
      if (status === undefined) return sendProblem(res, 404, `no order ${id}`);
      res.json(status);
    }, onError),
  );

  router.use(bodyErrors);
  router.use((_req: Request, res: Response) => {
    sendProblem(res, 404, 'POST /orders, GET /orders/:id, GET /orders/openapi.json');
  });
};
