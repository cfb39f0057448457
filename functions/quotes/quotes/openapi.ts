/**
 * quotes' OpenAPI 3.1 document, served at /quotes/openapi.json (no key needed: a gateway route of its own,
 * functions/quotes/routes.yaml). A quote is exactly a `quote.created.v1` event's data (schemas/, the schema the
 * function checks every event it publishes with), used here without its `$schema`/`$id`; the rest is written by hand
 * beside the routes (handler.ts). handler.test.ts checks that every route is in it and every answer against it. A
 * client reaches quotes through api-gateway, so what the gateway answers in front of the function (401, 429, 502-504:
 * api-key and token-bucket hooks) is documented too, with the rate-limit fields it adds to every answer that got
 * past the limit.
 *
 * The part every quotes document shares (`sharedComponents`: the key, the problem shape, the gateway's answers and
 * headers) is written the same in users/openapi.ts and search/openapi.ts; lib/system.int.test.ts checks the three
 * served documents agree on it.
 */
import { MAX_PAGE } from '../../runtime/src/index.ts';
import { QUOTE_ID } from '../lib/quotes.ts';
import created from './schemas/dev.sluice.quotes.quote.created.v1.json' with { type: 'json' };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** routes.yaml's token bucket: one budget per API key across /users, /quotes and /search. */
export const RATE_LIMIT = { bucket: 'quotes', limit: 10, windowSeconds: 60 } as const;
const PROBLEM_TYPE_BASE = 'https://sluice.dev/problems/';

const ref = (kind: 'schemas' | 'responses' | 'headers', name: string): JsonObject => ({
  $ref: `#/components/${kind}/${name}`,
});

/** The fields the gateway's token-bucket hook puts on every answer that got past the limit. */
const RATE_LIMIT_HEADERS: JsonObject = Object.fromEntries(
  ['RateLimit-Policy', 'RateLimit', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'].map(
    (name) => [name, ref('headers', name)],
  ),
);

/** A problem+json answer: `status`, and a `type` among `types` (the function's and the gateway's words for it). */
function problem(description: string, status: number, types: string[], headers: JsonObject = {}): JsonObject {
  return {
    description,
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    content: {
      'application/problem+json': {
        schema: {
          type: 'object',
          allOf: [ref('schemas', 'Problem')],
          properties: {
            status: { const: status },
            type: { enum: types.map((t) => `${PROBLEM_TYPE_BASE}${t}`) },
          },
        },
      },
    },
  };
}

/** The same in the three quotes documents (lib/system.int.test.ts compares them). */
function sharedComponents(): JsonObject {
  const { bucket, limit, windowSeconds } = RATE_LIMIT;
  return {
    securitySchemes: {
      apiKey: {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description:
          "An API key as the whole header, `Authorization: qk_…`: a user's key (shown once by POST /users) or the " +
          'admin key (Secret quotes-admin-key). The gateway checks it (api-key hook, against users) before the ' +
          'function sees the request. Roles: `user` (every key) and `admin` (the admin key only).',
      },
      bearerKey: {
        type: 'http',
        scheme: 'bearer',
        description: 'The same key as a bearer token: `Authorization: Bearer qk_…`.',
      },
    },
    headers: {
      'RateLimit-Policy': {
        description: `The quota: ${limit} requests per ${windowSeconds} s per key, one budget across /users, /quotes and /search (draft-ietf-httpapi-ratelimit-headers-10)`,
        required: true,
        schema: { type: 'string', const: `"${bucket}";q=${limit};w=${windowSeconds}` },
      },
      RateLimit: {
        description:
          'What is left: `r` requests, `t` seconds until the bucket is full again (on a 429: until the next token)',
        required: true,
        schema: { type: 'string', pattern: `^"${bucket}";r=[0-9]+;t=[0-9]+$` },
      },
      'RateLimit-Limit': {
        description: 'The quota, as the earlier drafts (-06) say it',
        required: true,
        schema: { type: 'integer', const: limit },
      },
      'RateLimit-Remaining': {
        description: 'Requests left now',
        required: true,
        schema: { type: 'integer', minimum: 0, maximum: limit },
      },
      'RateLimit-Reset': {
        description: 'Seconds until the bucket is full again',
        required: true,
        schema: { type: 'integer', minimum: 0 },
      },
      'Retry-After': {
        description: 'Seconds until the next token',
        required: true,
        schema: { type: 'integer', minimum: 1 },
      },
      'WWW-Authenticate': {
        description: 'How to authenticate',
        required: true,
        schema: { type: 'string', const: 'Bearer realm="sluice"' },
      },
    },
    responses: {
      Unauthorized: problem(
        'No API key, or one users does not know (the gateway, api-key hook)',
        401,
        ['unauthorized'],
        { 'WWW-Authenticate': ref('headers', 'WWW-Authenticate') },
      ),
      Forbidden: problem("A key without the operation's role (the gateway, api-key hook)", 403, [
        'forbidden',
      ]),
      RateLimited: problem(
        "The key's token bucket is empty (the gateway, token-bucket hook)",
        429,
        ['rate-limited'],
        { 'Retry-After': ref('headers', 'Retry-After'), ...RATE_LIMIT_HEADERS },
      ),
      InternalError: problem(
        'A bug in the function (its log says more)',
        500,
        ['internal'],
        RATE_LIMIT_HEADERS,
      ),
      BadGateway: problem('The function failed before answering (the gateway)', 502, ['upstream-failed']),
      Unavailable: problem(
        "The function's store, the function itself, the key check or the rate limit's store (Redis) is " +
          'unavailable: refused rather than let through; retry later',
        503,
        ['unavailable', 'upstream-unavailable', 'hook-unavailable'],
        {
          'Retry-After': {
            description: 'Seconds to wait (when the store or the function is down)',
            schema: { type: 'integer', minimum: 1 },
          },
        },
      ),
      GatewayTimeout: problem(
        "The function did not start answering within the route's 30 s (the gateway)",
        504,
        ['upstream-timeout'],
      ),
    },
    schemas: {
      Problem: {
        type: 'object',
        description:
          'RFC 9457 problem details, as every function (the runtime) and the gateway write them; the gateway adds ' +
          '`instance`, `request-id` and `route`',
        additionalProperties: false,
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: {
            type: 'string',
            format: 'uri',
            pattern: '^https://sluice\\.dev/problems/[a-z]+(-[a-z]+)*$',
          },
          title: { type: 'string', minLength: 1 },
          status: { type: 'integer', minimum: 400, maximum: 599 },
          detail: { type: 'string', maxLength: 1024 },
          instance: { type: 'string', description: 'The request path' },
          'request-id': {
            type: 'string',
            description: "The request's X-Request-Id, as in the gateway's log",
          },
          route: { type: 'string', description: 'The gateway route (its prefix)' },
          'invalid-params': {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'reason'],
              properties: { name: { type: 'string' }, reason: { type: 'string' } },
            },
          },
        },
      },
      OpenApiDocument: {
        type: 'object',
        description: 'This document',
        required: ['openapi', 'info', 'servers', 'paths', 'components'],
        properties: {
          openapi: { const: '3.1.0' },
          info: { type: 'object' },
          servers: { type: 'array', minItems: 1 },
          paths: { type: 'object', minProperties: 1 },
          components: { type: 'object' },
        },
      },
    },
  };
}

/** What the gateway may answer on a route behind the api-key and token-bucket hooks, the function's 500 too. */
const guarded = (role?: 'admin'): JsonObject => ({
  '401': ref('responses', 'Unauthorized'),
  ...(role === undefined ? {} : { '403': ref('responses', 'Forbidden') }),
  '429': ref('responses', 'RateLimited'),
  '500': ref('responses', 'InternalError'),
  '502': ref('responses', 'BadGateway'),
  '503': ref('responses', 'Unavailable'),
  '504': ref('responses', 'GatewayTimeout'),
});

/** The document's own operation: a route without auth or rate limit. */
const documentOperation = (operationId: string): JsonObject => ({
  operationId,
  summary: 'This OpenAPI document (no key needed)',
  security: [],
  responses: {
    '200': {
      description: 'OpenAPI 3.1',
      content: { 'application/json': { schema: ref('schemas', 'OpenApiDocument') } },
    },
    '502': ref('responses', 'BadGateway'),
    '503': ref('responses', 'Unavailable'),
    '504': ref('responses', 'GatewayTimeout'),
  },
});

const json = (description: string, schema: Json, headers: JsonObject = RATE_LIMIT_HEADERS): JsonObject => ({
  description,
  headers,
  content: { 'application/json': { schema } },
});
const limitedProblem = (description: string, status: number, types: string[]): JsonObject =>
  problem(description, status, types, RATE_LIMIT_HEADERS);

function component(schema: Record<string, unknown>): JsonObject {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return JSON.parse(JSON.stringify(rest)) as JsonObject;
}

export function openApiDocument(): JsonObject {
  const shared = sharedComponents();
  const quote = created.properties;
  const quoteId = {
    name: 'id',
    in: 'path',
    required: true,
    description: 'A quote id (a path that cannot be one is answered 404 too)',
    schema: quote.id,
  };
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'sluice quotes: quotes',
      version: '1.0.0',
      description:
        'Quotes: add, list, draw one at random, read, delete (docs/quotes.md). Every change is published as an ' +
        'event (`dev.sluice.quotes.quote.created.v1`, `…deleted.v1`), from which search builds its index. Every ' +
        `route is behind the gateway's API key check and a rate limit of ${RATE_LIMIT.limit} requests per minute ` +
        'per key, shared with /users and /search.',
    },
    servers: [
      {
        url: '{origin}',
        description: 'api-gateway, the one public entry',
        variables: {
          origin: {
            default: 'http://127.0.0.1:8000',
            description: "make dev's gateway (GATEWAY_PORT), or an environment's public address",
          },
        },
      },
    ],
    security: [{ apiKey: [] }, { bearerKey: [] }],
    paths: {
      '/quotes/openapi.json': { get: documentOperation('quotesOpenApi') },
      '/quotes': {
        post: {
          operationId: 'addQuote',
          summary: 'Add a quote; publishes `dev.sluice.quotes.quote.created.v1`',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('schemas', 'NewQuote') } },
          },
          responses: {
            '201': json(
              "The quote (its created event's data), stored; the event is published now, or by the relay within 10 s",
              ref('schemas', 'Quote'),
              {
                Location: {
                  description: "The quote's URL",
                  required: true,
                  schema: { type: 'string', pattern: `^/quotes/${QUOTE_ID.source.replace(/^\^/, '')}` },
                },
                ...RATE_LIMIT_HEADERS,
              },
            ),
            '400': limitedProblem('The body is not JSON, or not a valid quote', 400, ['invalid-request']),
            '413': limitedProblem('The body is above 16 KiB', 413, ['payload-too-large']),
            '415': limitedProblem('The body is not application/json', 415, ['unsupported-media-type']),
            ...guarded(),
          },
        },
        get: {
          operationId: 'listQuotes',
          summary: 'Quotes by id, a page at a time',
          parameters: [
            {
              name: 'after',
              in: 'query',
              description: 'The `next` of the previous page',
              schema: { type: 'string', maxLength: 64 },
            },
            {
              name: 'limit',
              in: 'query',
              description: 'Page size',
              schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 20 },
            },
          ],
          responses: {
            '200': json('A page of quotes', ref('schemas', 'QuotePage')),
            '400': limitedProblem('Invalid `limit` or `after`', 400, ['invalid-request']),
            ...guarded(),
          },
        },
      },
      '/quotes/random': {
        get: {
          operationId: 'randomQuote',
          summary: 'One quote, drawn at random',
          responses: {
            '200': json('A quote', ref('schemas', 'Quote')),
            '404': limitedProblem('There are no quotes yet', 404, ['not-found']),
            ...guarded(),
          },
        },
      },
      '/quotes/{id}': {
        get: {
          operationId: 'getQuote',
          summary: 'One quote',
          parameters: [quoteId],
          responses: {
            '200': json('The quote', ref('schemas', 'Quote')),
            '404': limitedProblem('No such quote', 404, ['not-found']),
            ...guarded(),
          },
        },
        delete: {
          operationId: 'deleteQuote',
          summary: 'Delete a quote; publishes `dev.sluice.quotes.quote.deleted.v1`',
          parameters: [quoteId],
          responses: {
            '204': {
              description: 'Deleted (its event is published now, or by the relay)',
              headers: RATE_LIMIT_HEADERS,
            },
            '404': limitedProblem('No such quote (or deleted already)', 404, ['not-found']),
            ...guarded(),
          },
        },
      },
    },
    components: {
      ...shared,
      schemas: {
        ...(shared.schemas as JsonObject),
        Quote: component(created),
        NewQuote: {
          type: 'object',
          additionalProperties: false,
          required: ['text', 'author'],
          properties: {
            text: { ...quote.text, pattern: '\\S', description: 'Not blank; stored trimmed' },
            author: { ...quote.author, pattern: '\\S', description: 'Not blank; stored trimmed' },
          },
        },
        QuotePage: {
          type: 'object',
          additionalProperties: false,
          required: ['quotes', 'next'],
          properties: {
            quotes: { type: 'array', maxItems: MAX_PAGE, items: ref('schemas', 'Quote') },
            next: {
              oneOf: [quote.id, { type: 'null' }],
              description: 'Pass as `after` for the next page; null on the last page',
            },
          },
        },
      },
    },
  };
  return JSON.parse(JSON.stringify(doc)) as JsonObject;
}
