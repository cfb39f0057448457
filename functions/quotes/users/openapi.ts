/**
 * users' OpenAPI 3.1 document, served at /users/openapi.json (no key needed: a gateway route of its own,
 * functions/quotes/routes.yaml). Written by hand beside the routes (handler.ts); handler.test.ts checks that every
 * route is in it and every answer against it. A client reaches users through api-gateway, so what the gateway answers
 * in front of the function (401, 403, 429, 502-504: api-key and token-bucket hooks) is documented too, with the
 * rate-limit fields it adds to every answer that got past the limit.
 *
 * The part every quotes document shares (`sharedComponents`: the key, the problem shape, the gateway's answers and
 * headers) is written the same in quotes/openapi.ts and search/openapi.ts; lib/system.int.test.ts checks the three
 * served documents agree on it.
 */
import { MAX_PAGE } from '../../runtime/src/index.ts';
import { KEY_PREFIX, USER_ID } from '../lib/api-keys.ts';

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

// What handler.ts checks a new user against (readNewUser); the handler tests send each boundary.
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 256;
export const MAX_NAME = 200;
/** USER_ID without its anchors, to build the key's pattern from. */
const USER_ID_BODY = USER_ID.source.replace(/^\^/, '').replace(/\$$/, '');

export function openApiDocument(): JsonObject {
  const shared = sharedComponents();
  const userId = {
    type: 'string',
    pattern: USER_ID.source,
    description: '1-64 lower-case letters, digits or inner hyphens',
  };
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'sluice quotes: users',
      version: '1.0.0',
      description:
        'Accounts and their API keys (docs/quotes.md). Creating a user needs the admin key; the answer shows the ' +
        "new user's API key once. Every route is behind the gateway's API key check and a rate limit of " +
        `${RATE_LIMIT.limit} requests per minute per key, shared with /quotes and /search.`,
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
      '/users/openapi.json': { get: documentOperation('usersOpenApi') },
      '/users': {
        post: {
          operationId: 'createUser',
          summary: 'Create a user and its API key (admin key only)',
          security: [{ apiKey: ['admin'] }, { bearerKey: ['admin'] }],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('schemas', 'NewUser') } },
          },
          responses: {
            '201': json(
              'The user, with its API key: shown this once, stored only as a hash',
              ref('schemas', 'CreatedUser'),
              {
                Location: {
                  description: "The user's URL",
                  required: true,
                  schema: { type: 'string', pattern: `^/users/${USER_ID_BODY}$` },
                },
                ...RATE_LIMIT_HEADERS,
              },
            ),
            '400': limitedProblem('The body is not JSON, or not a valid new user', 400, ['invalid-request']),
            '409': limitedProblem('A user with this id exists', 409, ['conflict']),
            '413': limitedProblem('The body is above 16 KiB', 413, ['payload-too-large']),
            '415': limitedProblem('The body is not application/json', 415, ['unsupported-media-type']),
            ...guarded('admin'),
          },
        },
        get: {
          operationId: 'listUsers',
          summary: 'Users by id, a page at a time (never a password or a key)',
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
            '200': json('A page of users', ref('schemas', 'UserPage')),
            '400': limitedProblem('Invalid `limit` or `after`', 400, ['invalid-request']),
            ...guarded(),
          },
        },
      },
      '/users/{id}': {
        get: {
          operationId: 'getUser',
          summary: 'One user',
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              description: 'A user id (a path that cannot be one is answered 404 too)',
              schema: userId,
            },
          ],
          responses: {
            '200': json('The user', ref('schemas', 'User')),
            '404': limitedProblem('No such user', 404, ['not-found']),
            ...guarded(),
          },
        },
      },
      '/keys/verify': {
        servers: [
          {
            url: 'http://users.{namespace}.svc.cluster.local',
            description:
              "Cluster-local only: what the gateway's api-key hook asks (no gateway route leads here; under make dev, users' loopback port)",
            variables: {
              namespace: { default: 'sluice', enum: ['sluice', 'sluice-qualification'] },
            },
          },
        ],
        post: {
          operationId: 'verifyKey',
          summary: 'Who a key belongs to, and its role (the gateway caches the answer 30 s, a refusal 5 s)',
          security: [],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('schemas', 'KeyCheck') } },
          },
          responses: {
            '200': {
              description: "The key's principal and role",
              content: { 'application/json': { schema: ref('schemas', 'KeyVerdict') } },
            },
            '400': problem('No key in the body, or the body is not JSON', 400, ['invalid-request']),
            '401': problem('Not a key users knows', 401, ['unauthorized']),
            '413': problem('The body is above 16 KiB', 413, ['payload-too-large']),
            '500': problem('A bug in the function (its log says more)', 500, ['internal']),
            '503': problem('The store is unavailable; retry later', 503, ['unavailable'], {
              'Retry-After': { required: true, schema: { type: 'integer', minimum: 1 } },
            }),
          },
        },
      },
    },
    components: {
      ...shared,
      schemas: {
        ...(shared.schemas as JsonObject),
        NewUser: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'name', 'password'],
          properties: {
            id: userId,
            name: {
              type: 'string',
              maxLength: MAX_NAME,
              pattern: '\\S',
              description: 'Not blank; stored trimmed',
            },
            password: {
              type: 'string',
              minLength: MIN_PASSWORD,
              maxLength: MAX_PASSWORD,
              writeOnly: true,
              description: 'Stored as a scrypt hash only',
            },
          },
        },
        User: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'name', 'createdAt'],
          properties: {
            id: userId,
            name: { type: 'string', minLength: 1, maxLength: MAX_NAME },
            createdAt: { type: 'string', format: 'date-time' },
          },
        },
        CreatedUser: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'name', 'createdAt', 'apiKey'],
          properties: {
            id: userId,
            name: { type: 'string', minLength: 1, maxLength: MAX_NAME },
            createdAt: { type: 'string', format: 'date-time' },
            apiKey: {
              type: 'string',
              pattern: `^${KEY_PREFIX}${USER_ID_BODY}_[A-Za-z0-9_-]{43}$`,
              description: '`qk_<user id>_<43 random characters>`: keep it, it is never shown again',
            },
          },
        },
        UserPage: {
          type: 'object',
          additionalProperties: false,
          required: ['users', 'next'],
          properties: {
            users: { type: 'array', maxItems: MAX_PAGE, items: ref('schemas', 'User') },
            next: {
              oneOf: [userId, { type: 'null' }],
              description: 'Pass as `after` for the next page; null on the last page',
            },
          },
        },
        KeyCheck: {
          type: 'object',
          required: ['key'],
          properties: { key: { type: 'string', minLength: 1, description: 'The key as presented' } },
        },
        KeyVerdict: {
          type: 'object',
          additionalProperties: false,
          required: ['principal', 'role'],
          properties: {
            principal: {
              type: 'string',
              description: 'The user id, or `admin` for the admin key',
            },
            role: { enum: ['admin', 'user'] },
          },
        },
      },
    },
  };
  return JSON.parse(JSON.stringify(doc)) as JsonObject;
}
