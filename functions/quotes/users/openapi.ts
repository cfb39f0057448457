/**
 * users' OpenAPI 3.1 document, served at /users/openapi.json (no key needed: a gateway route of its own,
 * functions/quotes/routes.yaml). Written by hand beside the routes (handler.ts); handler.test.ts checks that every
 * route is in it and every answer against it. A client reaches users through api-gateway, so what the gateway answers
 * in front of the function (401, 403, 429, 502-504: api-key and token-bucket hooks) is documented too, with the
 * rate-limit fields it adds to every answer that got past the limit.
 *
 * What every quotes document shares (the gateway's answers and fields, the key, the problem shape) is
 * lib/openapi.ts's.
 */
import { MAX_PAGE, type OpenApiObject, problemResponse } from '../../runtime/src/index.ts';
import { KEY_PREFIX, USER_ID } from '../lib/api-keys.ts';
import { MAX_JSON_BYTES } from '../lib/http.ts';
import {
  bodyRefusals,
  guarded,
  json,
  limitedProblem,
  pageOperation,
  quotesDocument,
  RATE_LIMIT_HEADERS,
  ref,
} from '../lib/openapi.ts';

// What handler.ts checks a new user against (readNewUser); the handler tests send each boundary.
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 256;
export const MAX_NAME = 200;
/** USER_ID without its anchors, to build the key's pattern from. */
const USER_ID_BODY = USER_ID.source.replace(/^\^/, '').replace(/\$$/, '');

export function openApiDocument(): OpenApiObject {
  const userId = {
    type: 'string',
    pattern: USER_ID.source,
    description: '1-64 lower-case letters, digits or inner hyphens',
  };
  /** What a user is, to anyone (never its password or key). */
  const user = {
    id: userId,
    name: { type: 'string', minLength: 1, maxLength: MAX_NAME },
    createdAt: { type: 'string', format: 'date-time' },
  };
  return quotesDocument({
    service: 'users',
    title: 'sluice quotes: users',
    about:
      'Accounts and their API keys (docs/quotes.md). Creating a user needs the admin key; the answer shows the ' +
      "new user's API key once.",
    paths: {
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
            ...bodyRefusals('The body is not JSON, or not a valid new user'),
            '409': limitedProblem(409, 'A user with this id exists'),
            ...guarded('admin'),
          },
        },
        get: pageOperation(
          'listUsers',
          'Users by id, a page at a time (never a password or a key)',
          'users',
          'UserPage',
        ),
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
            '404': limitedProblem(404, 'No such user'),
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
            '400': problemResponse(400, 'No key in the body, or the body is not JSON'),
            '401': problemResponse(401, 'Not a key users knows'),
            '413': problemResponse(413, `The body is above ${MAX_JSON_BYTES / 1024} KiB`),
            '500': problemResponse(500, 'A bug in the function (its log says more)'),
            '503': problemResponse(503, 'The store is unavailable; retry later'),
          },
        },
      },
    },
    schemas: {
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
        properties: user,
      },
      CreatedUser: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'createdAt', 'apiKey'],
        properties: {
          ...user,
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
  });
}
