/**
 * orders-api's OpenAPI 3.1 document, served at GET /orders/openapi.json (public: /api/billing/openapi.json).
 * The paths are the public ones, below the server `/api`: api-gateway serves this API at /api/billing and
 * forwards it to orders-api's /orders (functions/orders/routes.yaml), so `/billing/{id}` is orders-api's
 * `/orders/:id`. Written by hand beside the routes (handler.ts); an order's fields are those of the
 * `…order.placed.v1` and `…order.billed.v1` schemas (schemas/, used as they are without `$schema`/`$id`: OpenAPI
 * 3.1's dialect is JSON Schema 2020-12); every refusal is the runtime's RFC 9457 problem+json. The handler's tests
 * check every answer they read against this document and that every route is in it.
 */
import { IDEMPOTENCY_KEY, MAX_AMOUNT_CENTS, MAX_ITEMS } from '../lib/orders.ts';
import billed from './schemas/dev.sluice.orders.order.billed.v1.json' with { type: 'json' };
import placed from './schemas/dev.sluice.orders.order.placed.v1.json' with { type: 'json' };

/** With the paths below, the public URLs at api-gateway: /api/billing, /api/billing/{id}. */
export const SERVER_URL = '/api';
/** orders-api serves the documented `/billing…` paths at `/orders…`. */
export const SERVED_PREFIX = '/orders';
export const DOCUMENTED_PREFIX = '/billing';

type JsonObject = Record<string, unknown>;

const PROBLEM_TYPE_BASE = 'https://sluice.dev/problems/';
const ORDER_ID_PATTERN = placed.properties.orderId.pattern;
const UUID = ORDER_ID_PATTERN.replace(/^\^|\$$/g, '');

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: keyof typeof PROBLEM_RESPONSES) => ({ $ref: `#/components/responses/${name}` });
const json = (schema: JsonObject) => ({ 'application/json': { schema } });
const RETRY_AFTER = { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } };

/** A problem answer: the shared shape with this status's own `type`, `title` and `status`. */
function problem(status: number, type: string, title: string, description: string, headers?: JsonObject) {
  return {
    description,
    ...(headers === undefined ? {} : { headers }),
    content: {
      'application/problem+json': {
        schema: {
          allOf: [
            schemaRef('Problem'),
            {
              type: 'object',
              properties: {
                type: { const: `${PROBLEM_TYPE_BASE}${type}` },
                title: { const: title },
                status: { const: status },
              },
            },
          ],
        },
      },
    },
  };
}

const PROBLEM_RESPONSES = {
  InvalidRequest: problem(
    400,
    'invalid-request',
    'Invalid Request',
    'The body is not JSON, a field is missing, malformed or unknown, or the `Idempotency-Key` is not 1-255 ' +
      'visible ASCII characters (`invalid-params` names each): nothing was queued. Or the id in the path is not ' +
      'valid percent-encoding',
  ),
  NotFound: problem(
    404,
    'not-found',
    'Not Found',
    'No order with this id was accepted (ids are UUIDs); an order whose 202 never came is not one',
  ),
  PayloadTooLarge: problem(413, 'payload-too-large', 'Payload Too Large', 'The body is over 16 KiB'),
  UnsupportedMediaType: problem(
    415,
    'unsupported-media-type',
    'Unsupported Media Type',
    'The body is not `application/json`',
  ),
  IdempotencyKeyReused: problem(
    422,
    'idempotency-key-reused',
    'Idempotency-Key Reused',
    'This `Idempotency-Key` was used for another order; a new order needs a new key',
  ),
  Internal: problem(500, 'internal', 'Internal Server Error', 'A bug: the function logged it'),
  BrokerRefused: problem(
    502,
    'broker-refused',
    'Broker Refused',
    'The broker refused the order’s event: nothing was queued, and retrying will not help',
  ),
  Unavailable: problem(
    503,
    'unavailable',
    'Service Unavailable',
    'The broker or orders-api’s store is unreachable: nothing was queued; retry after `Retry-After` (with the ' +
      'same `Idempotency-Key`)',
    RETRY_AFTER,
  ),
  BrokerTimeout: problem(
    504,
    'broker-timeout',
    'Broker Timeout',
    'The broker did not answer within 10 s: the order may or may not be queued; retry with the same ' +
      '`Idempotency-Key` to find out, without a second order',
  ),
} as const;

/** HEAD answers as GET does, without the body. */
function headOf(get: { summary: string; parameters?: unknown[]; responses: Record<string, JsonObject> }) {
  const responses: Record<string, JsonObject> = {};
  for (const [status, response] of Object.entries(get.responses)) {
    const ref = typeof response.$ref === 'string' ? response.$ref.split('/').at(-1) : undefined;
    const resolved: JsonObject =
      ref === undefined ? response : PROBLEM_RESPONSES[ref as keyof typeof PROBLEM_RESPONSES];
    const { content: _content, ...bodiless } = resolved;
    responses[status] = bodiless;
  }
  return { ...get, summary: `${get.summary}: headers only`, responses };
}

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
    '500': responseRef('Internal'),
    '503': responseRef('Unavailable'),
  },
};

const getDocument = {
  operationId: 'getOpenApiDocument',
  summary: 'This document',
  responses: {
    '200': {
      description: 'OpenAPI 3.1',
      content: json({
        type: 'object',
        required: ['openapi', 'info', 'paths'],
        properties: {
          openapi: { const: '3.1.0' },
          info: { type: 'object' },
          paths: { type: 'object' },
        },
      }),
    },
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
    servers: [{ url: SERVER_URL, description: 'api-gateway' }],
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
            '202': {
              description: 'The broker durably accepted the order (after RabbitMQ’s publisher confirm)',
              headers: {
                Location: {
                  description: 'The order, relative to the request URL: /api/billing/{orderId}',
                  required: true,
                  schema: { type: 'string', pattern: `^billing/${UUID}$` },
                },
              },
              content: json(schemaRef('OrderAccepted')),
            },
            '400': responseRef('InvalidRequest'),
            '413': responseRef('PayloadTooLarge'),
            '415': responseRef('UnsupportedMediaType'),
            '422': responseRef('IdempotencyKeyReused'),
            '500': responseRef('Internal'),
            '502': responseRef('BrokerRefused'),
            '503': responseRef('Unavailable'),
            '504': responseRef('BrokerTimeout'),
          },
        },
      },
      [`${DOCUMENTED_PREFIX}/openapi.json`]: { get: getDocument, head: headOf(getDocument) },
      [`${DOCUMENTED_PREFIX}/{id}`]: { get: getOrder, head: headOf(getOrder) },
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
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details, as the runtime answers every refusal (route-answers.ts)',
          additionalProperties: false,
          required: ['type', 'title', 'status', 'detail'],
          properties: {
            type: { type: 'string', format: 'uri', pattern: `^${PROBLEM_TYPE_BASE.replaceAll('.', '\\.')}` },
            title: { type: 'string' },
            status: { type: 'integer', minimum: 400, maximum: 599 },
            detail: { type: 'string', maxLength: 1024 },
            'invalid-params': {
              type: 'array',
              minItems: 1,
              maxItems: 20,
              items: schemaRef('InvalidParam'),
            },
          },
        },
        InvalidParam: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'reason'],
          properties: {
            name: { type: 'string', description: 'The field or header, or `(body)`' },
            reason: { type: 'string' },
          },
        },
      },
      responses: PROBLEM_RESPONSES,
      headers: {
        RetryAfter: {
          description: 'Seconds to wait before retrying',
          required: true,
          schema: { type: 'string', pattern: '^[0-9]+$' },
        },
      },
    },
  };
}
