/**
 * What the three quotes OpenAPI 3.1 documents (users/, quotes/, search/ openapi.ts) share, written once: the
 * gateway as the server, the API key as security schemes, what the gateway answers in front of every function (401,
 * 403, 429, 502-504: api-key and token-bucket hooks) with the rate-limit fields it adds to every answer that got past
 * the limit, the problem shape, and the document's own operation. Each function adds its paths and schemas
 * (`quotesDocument`).
 */
import {
  DEFAULT_PAGE,
  gatewayProblemSlugs,
  MAX_PAGE,
  type OpenApiObject,
  problemResponse,
  problemResponseOfTypes,
  problemSchemas,
  ROUTE_KIND,
  ROUTE_PROBLEM_TYPES,
  type RouteProblemStatus,
} from '../../runtime/src/index.ts';
import { MAX_AFTER, MAX_JSON_BYTES } from './http.ts';

/** routes.yaml's token bucket: one budget per API key across /users, /quotes and /search. */
export const RATE_LIMIT = { bucket: 'quotes', limit: 10, windowSeconds: 60 } as const;

export const ref = (kind: 'schemas' | 'responses' | 'headers', name: string): OpenApiObject => ({
  $ref: `#/components/${kind}/${name}`,
});

/** The fields the gateway's token-bucket hook puts on every answer that got past the limit. */
export const RATE_LIMIT_HEADER_NAMES = [
  'RateLimit-Policy',
  'RateLimit',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
] as const;
export const RATE_LIMIT_HEADERS: OpenApiObject = Object.fromEntries(
  RATE_LIMIT_HEADER_NAMES.map((name) => [name, ref('headers', name)]),
);

/**
 * The problem types the gateway answers `status` with itself in front of a function (a proxy route, as every quotes
 * route is): the runtime's GATEWAY_PROBLEM_TYPES, what the gateway writes.
 */
const gatewayTypes = (status: number): string[] => gatewayProblemSlugs(status, ROUTE_KIND.proxy);

/** The types of a status the function (sendProblem) and the gateway both answer: either's words. */
const eitherTypes = (status: RouteProblemStatus): string[] => [
  ...new Set([ROUTE_PROBLEM_TYPES[status][0], ...gatewayTypes(status)]),
];

/** A problem the function answers, as it reaches a client: with the gateway's rate-limit fields. */
export const limitedProblem = (status: RouteProblemStatus, description: string): OpenApiObject =>
  problemResponse(status, description, { headers: RATE_LIMIT_HEADERS });

/** How the function refuses a body that is not JSON, or not what `invalid` says (400), on the way to a client. */
export const bodyRefusals = (invalid: string): OpenApiObject => ({
  '400': limitedProblem(400, invalid),
  '413': limitedProblem(413, `The body is above ${MAX_JSON_BYTES / 1024} KiB`),
  '415': limitedProblem(415, 'The body is not application/json'),
});

/** A JSON answer of the function, with the gateway's rate-limit fields unless `headers` says otherwise. */
export const json = (
  description: string,
  schema: unknown,
  headers: OpenApiObject = RATE_LIMIT_HEADERS,
): OpenApiObject => ({
  description,
  headers,
  content: { 'application/json': { schema } },
});

function sharedComponents(): OpenApiObject {
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
      Unauthorized: problemResponseOfTypes(
        401,
        'No API key, or one users does not know (the gateway, api-key hook)',
        { types: eitherTypes(401), headers: { 'WWW-Authenticate': ref('headers', 'WWW-Authenticate') } },
      ),
      Forbidden: problemResponseOfTypes(
        403,
        "A key without the operation's role (the gateway, api-key hook)",
        {
          types: eitherTypes(403),
        },
      ),
      RateLimited: problemResponseOfTypes(
        429,
        "The key's token bucket is empty (the gateway, token-bucket hook)",
        {
          types: gatewayTypes(429),
          headers: { 'Retry-After': ref('headers', 'Retry-After'), ...RATE_LIMIT_HEADERS },
        },
      ),
      InternalError: limitedProblem(500, 'A bug in the function (its log says more)'),
      BadGateway: problemResponseOfTypes(502, 'The function failed before answering (the gateway)', {
        types: gatewayTypes(502),
      }),
      Unavailable: problemResponseOfTypes(
        503,
        "The function's store, the function itself, the key check or the rate limit's store (Redis) is " +
          'unavailable: refused rather than let through; retry later',
        {
          types: eitherTypes(503),
          headers: {
            'Retry-After': {
              description: 'Seconds to wait (when the store or the function is down)',
              schema: { type: 'integer', minimum: 1 },
            },
          },
        },
      ),
      GatewayTimeout: problemResponseOfTypes(
        504,
        "The function did not start answering within the route's 30 s (the gateway)",
        { types: gatewayTypes(504) },
      ),
    },
    schemas: {
      ...problemSchemas({
        description:
          'RFC 9457 problem details, as every function (the runtime) and the gateway write them; the gateway adds ' +
          '`instance`, `request-id` and `route`',
        extensions: {
          instance: { type: 'string', description: 'The request path' },
          'request-id': {
            type: 'string',
            description: "The request's X-Request-Id, as in the gateway's log",
          },
          route: { type: 'string', description: 'The gateway route (its prefix)' },
        },
      }),
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

/** The responses the gateway adds to every keyed route (the function's 500 too); 403 where a role is needed. */
export const guarded = (role?: 'admin'): OpenApiObject => ({
  '401': ref('responses', 'Unauthorized'),
  ...(role === undefined ? {} : { '403': ref('responses', 'Forbidden') }),
  '429': ref('responses', 'RateLimited'),
  '500': ref('responses', 'InternalError'),
  '502': ref('responses', 'BadGateway'),
  '503': ref('responses', 'Unavailable'),
  '504': ref('responses', 'GatewayTimeout'),
});

/** A page's size, as the runtime reads it (`QueryReader.limit(DEFAULT_PAGE, MAX_PAGE)`). */
export const LIMIT_PARAMETER = {
  name: 'limit',
  in: 'query',
  description: 'Page size',
  schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
};
/** Where a page by id starts (lib/http.ts `pageById`, at most MAX_AFTER characters). */
export const AFTER_PARAMETER = {
  name: 'after',
  in: 'query',
  description: 'The `next` of the previous page',
  schema: { type: 'string', maxLength: MAX_AFTER },
};

/** GET of a page by id, `after` to `next` (`things`: what it lists; `page`: its schema's name). */
export const pageOperation = (
  operationId: string,
  summary: string,
  things: string,
  page: string,
): OpenApiObject => ({
  operationId,
  summary,
  parameters: [AFTER_PARAMETER, LIMIT_PARAMETER],
  responses: {
    '200': json(`A page of ${things}`, ref('schemas', page)),
    '400': limitedProblem(400, 'Invalid `limit` or `after`'),
    ...guarded(),
  },
});

type Service = 'users' | 'quotes' | 'search';
const SERVICES: readonly Service[] = ['users', 'quotes', 'search'];

/** The document's own operation: a route without auth or rate limit. */
const documentOperation = (operationId: string): OpenApiObject => ({
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

/**
 * A quotes document, as plain JSON: the shared part around one function's paths and schemas, the document's own
 * route among the paths, and what every route is behind after the function's own `about`.
 */
export function quotesDocument(own: {
  readonly service: Service;
  readonly title: string;
  readonly about: string;
  readonly paths: OpenApiObject;
  readonly schemas: OpenApiObject;
}): OpenApiObject {
  const shared = sharedComponents();
  const others = SERVICES.filter((s) => s !== own.service).map((s) => `/${s}`);
  const doc = {
    openapi: '3.1.0',
    info: {
      title: own.title,
      version: '1.0.0',
      description:
        `${own.about} Every route is behind the gateway's API key check and a rate limit of ${RATE_LIMIT.limit} ` +
        `requests per minute per key, shared with ${others.join(' and ')}.`,
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
      [`/${own.service}/openapi.json`]: { get: documentOperation(`${own.service}OpenApi`) },
      ...own.paths,
    },
    components: { ...shared, schemas: { ...(shared.schemas as OpenApiObject), ...own.schemas } },
  };
  return JSON.parse(JSON.stringify(doc)) as OpenApiObject;
}
