/**
 * orders-api's OpenAPI 3.1 document, served at GET /orders/openapi.json (public: /api/billing/openapi.json).
 * The paths are the public ones, below the server `/api`: api-gateway serves this API at /api/billing and
 * forwards it to orders-api's /orders (functions/orders/routes.yaml), so `/billing/{id}` is orders-api's
 * `/orders/:id`. Written by hand beside the routes (handler.ts); an order's fields are those of the
 * `…order.placed.v1` and `…order.billed.v1` schemas (schemas/, used as they are without `$schema`/`$id`: OpenAPI
 * 3.1's dialect is JSON Schema 2020-12); every refusal is the runtime's RFC 9457 problem+json. The handler's tests
 * check every answer they read against this document and that every route is in it.
 */
import { headOf, problemResponse, problemSchemas } from '../../runtime/src/index.ts';
import { ORDER_PROBLEMS } from '../lib/http.ts';
import {
  BODY_REFUSALS,
  documentOperation,
  FAILURES,
  json,
  located,
  responseRef,
  routeProblemResponses,
  SERVERS,
  schemaRef,
} from '../lib/openapi.ts';
import { IDEMPOTENCY_KEY, MAX_AMOUNT_CENTS, MAX_ITEMS } from '../lib/orders.ts';
import billed from './schemas/dev.sluice.orders.order.billed.v1.json' with { type: 'json' };
import placed from './schemas/dev.sluice.orders.order.placed.v1.json' with { type: 'json' };

/** orders-api serves the documented `/billing…` paths at `/orders…`. */
export const SERVED_PREFIX = '/orders';
export const DOCUMENTED_PREFIX = '/billing';

/** The documented path of a path orders-api serves: `/orders/…` is the public `/billing/…` (routes.yaml). */
export const documentedPath = (served: string): string =>
  served.replace(new RegExp(`^${SERVED_PREFIX}(?=[/?]|$)`), DOCUMENTED_PREFIX);

type JsonObject = Record<string, unknown>;

const ORDER_ID_PATTERN = placed.properties.orderId.pattern;
const UUID = ORDER_ID_PATTERN.replace(/^\^|\$$/g, '');

const PROBLEM_RESPONSES = {
  ...routeProblemResponses({
    InvalidRequest:
      'The body is not JSON, a field is missing, malformed or unknown, or the `Idempotency-Key` is not 1-255 ' +
      'visible ASCII characters (`invalid-params` names each): nothing was queued. Or the id in the path is not ' +
      'valid percent-encoding',
    NotFound: 'No order with this id was accepted (ids are UUIDs); an order whose 202 never came is not one',
    Unavailable:
      'The broker or orders-api’s store is unreachable: nothing was queued; retry after `Retry-After` (with the ' +
      'same `Idempotency-Key`)',
  }),
  IdempotencyKeyReused: problemResponse(
    422,
    'This `Idempotency-Key` was used for another order; a new order needs a new key',
    { kind: ORDER_PROBLEMS[422] },
  ),
  BrokerRefused: problemResponse(
    502,
    'The broker refused the order’s event: nothing was queued, and retrying will not help',
    { kind: ORDER_PROBLEMS[502] },
  ),
  BrokerTimeout: problemResponse(
    504,
    'The broker did not answer within 10 s: the order may or may not be queued; retry with the same ' +
      '`Idempotency-Key` to find out, without a second order',
    { kind: ORDER_PROBLEMS[504] },
  ),
};

const getOrder = {
  operationId: 'getOrder',
  summary: 'An order: queued (accepted, not billed yet) or billed with its invoice',
  parameters: [
    {
      name: 'id',
      in: 'path',
      required: true,
      description:
        'The `orderId` of the 202 (a UUID; anything else is 404; bytes that are not percent-encoding, 400)',
      schema: { type: 'string', pattern: ORDER_ID_PATTERN },
    },
  ],
  responses: {
    '200': { description: 'The order as orders-api knows it', content: json(schemaRef('Order')) },
    '400': responseRef('InvalidRequest'),
    '404': responseRef('NotFound'),
    ...FAILURES,
  },
};

/** `"22"` or `22`; a number is read as its shortest decimal text, then checked as the string would be. */
const numberOrDigits = (integer: JsonObject, digits: JsonObject, description: string) => ({
  description,
  oneOf: [
    { type: 'integer', ...integer },
    { type: 'string', ...digits },
  ],
});

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'sluice orders: order intake',
      version: '1.0.0',
      description:
        'Orders placed by clients and billed asynchronously through the broker (docs/orders.md). The public ' +
        'URLs are the server `/api` + these paths (/api/billing, /api/billing/{id}); orders-api itself serves ' +
        'them at /orders (api-gateway rewrites /api/billing to /orders). A 202 means the broker durably ' +
        'accepted the order; it is billed later, once. Every refusal is RFC 9457 problem+json. The gateway may ' +
        'answer for it (docs/gateway.md): a body over the route’s 16 KiB, a method not routed, orders-api not ' +
        'answering in 30 s.',
    },
    servers: SERVERS,
    paths: {
      [DOCUMENTED_PREFIX]: {
        post: {
          operationId: 'placeOrder',
          summary: 'Place an order: validated, in cents, queued for billing',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              description:
                'Makes retries safe: every request with this key (from the same caller) names the same order, ' +
                'which is queued once; another body with it is 422',
              schema: { type: 'string', pattern: IDEMPOTENCY_KEY.source },
            },
          ],
          requestBody: { required: true, content: json(schemaRef('OrderRequest')) },
          responses: {
            '202': located(
              'The broker durably accepted the order (after RabbitMQ’s publisher confirm)',
              {
                description: 'The order, relative to the request URL: /api/billing/{orderId}',
                pattern: `^billing/${UUID}$`,
              },
              schemaRef('OrderAccepted'),
            ),
            ...BODY_REFUSALS,
            '422': responseRef('IdempotencyKeyReused'),
            ...FAILURES,
            '502': responseRef('BrokerRefused'),
            '504': responseRef('BrokerTimeout'),
          },
        },
      },
      [`${DOCUMENTED_PREFIX}/openapi.json`]: {
        get: documentOperation,
        head: headOf(documentOperation, PROBLEM_RESPONSES),
      },
      [`${DOCUMENTED_PREFIX}/{id}`]: {
        get: getOrder,
        head: headOf(getOrder, PROBLEM_RESPONSES),
      },
    },
    components: {
      schemas: {
        OrderRequest: {
          type: 'object',
          description:
            'The order as the original clients send it, numbers as strings or as numbers (lib/orders.ts `readOrderRequest`)',
          additionalProperties: false,
          required: ['user_id', 'number_of_items', 'total_amount'],
          properties: {
            user_id: numberOrDigits(
              { minimum: 0 },
              { pattern: placed.properties.userId.pattern },
              'The customer: 1-64 letters, digits, ".", "_" or "-"',
            ),
            number_of_items: numberOrDigits(
              { minimum: 1, maximum: MAX_ITEMS },
              { pattern: '^[1-9][0-9]{0,4}$' },
              `A whole number from 1 to ${MAX_ITEMS}`,
            ),
            total_amount: {
              description: `From 0 to ${MAX_AMOUNT_CENTS / 100} with at most two decimals ("49.99", 50); billed in cents`,
              oneOf: [
                { type: 'number', minimum: 0, maximum: MAX_AMOUNT_CENTS / 100 },
                { type: 'string', pattern: '^(0|[1-9][0-9]{0,8})(\\.[0-9]{1,2})?$' },
              ],
            },
          },
        },
        OrderAccepted: {
          type: 'object',
          additionalProperties: false,
          required: ['orderId', 'status'],
          properties: {
            orderId: placed.properties.orderId,
            status: { const: 'queued' },
          },
        },
        Order: {
          oneOf: [schemaRef('QueuedOrder'), schemaRef('BilledOrder')],
          discriminator: {
            propertyName: 'status',
            mapping: {
              queued: '#/components/schemas/QueuedOrder',
              billed: '#/components/schemas/BilledOrder',
            },
          },
        },
        QueuedOrder: {
          type: 'object',
          description: 'Accepted (the broker has it), not billed yet',
          additionalProperties: false,
          required: ['orderId', 'status', 'userId', 'numberOfItems', 'totalAmountCents', 'placedAt'],
          properties: {
            orderId: placed.properties.orderId,
            status: { const: 'queued' },
            userId: placed.properties.userId,
            numberOfItems: placed.properties.numberOfItems,
            totalAmountCents: placed.properties.totalAmountCents,
            placedAt: placed.properties.placedAt,
          },
        },
        BilledOrder: {
          type: 'object',
          description:
            'Billed, with its invoice. The order’s own fields are there unless orders-api has billing’s word only.',
          additionalProperties: false,
          required: ['orderId', 'status', 'totalAmountCents', 'invoice'],
          dependentRequired: {
            userId: ['numberOfItems', 'placedAt'],
            numberOfItems: ['userId', 'placedAt'],
            placedAt: ['userId', 'numberOfItems'],
          },
          properties: {
            orderId: billed.properties.orderId,
            status: { const: 'billed' },
            userId: placed.properties.userId,
            numberOfItems: placed.properties.numberOfItems,
            placedAt: placed.properties.placedAt,
            totalAmountCents: billed.properties.totalAmountCents,
            invoice: {
              type: 'object',
              additionalProperties: false,
              required: ['number', 'billedAt'],
              properties: {
                number: billed.properties.invoiceNumber,
                billedAt: billed.properties.billedAt,
              },
            },
          },
        },
        ...problemSchemas(),
      },
      responses: PROBLEM_RESPONSES,
    },
  };
}
