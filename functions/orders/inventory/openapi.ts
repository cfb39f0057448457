/**
 * inventory's OpenAPI 3.1 document, served at GET /movies/openapi.json (public: /api/movies/openapi.json). Written
 * by hand beside the routes (handler.ts): the body POST and PUT take is movie.schema.json, the one the handler
 * validates with (OpenAPI 3.1's schema dialect is JSON Schema 2020-12, so it is used as it is, without its
 * `$schema`/`$id`); a movie is what `publicMovie` answers; every refusal is the runtime's RFC 9457 problem+json.
 * handler.test.ts checks every answer it reads against this document and that every route is in it.
 */
import { MAX_PAGE } from '../../runtime/src/index.ts';
import { MAX_TITLE_FILTER, MOVIE_ID } from '../lib/movies.ts';
import movieSchema from './movie.schema.json' with { type: 'json' };

/** api-gateway serves this API at /api/movies and forwards it to inventory's /movies (functions/orders/routes.yaml). */
export const SERVER_URL = '/api';

type JsonObject = Record<string, unknown>;

const PROBLEM_TYPE_BASE = 'https://sluice.dev/problems/';
/** The movie id's pattern without anchors, to build the Location header's pattern from. */
const UUID = MOVIE_ID.source.replace(/^\^|\$$/g, '');

function component(schema: JsonObject): JsonObject {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: keyof typeof PROBLEM_RESPONSES) => ({ $ref: `#/components/responses/${name}` });
const json = (schema: JsonObject) => ({ 'application/json': { schema } });

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
    'A query parameter or the body is not valid (`invalid-params` names each), the body is not JSON, or the ' +
      'id in the path is not valid percent-encoding',
  ),
  NotFound: problem(404, 'not-found', 'Not Found', 'No movie with this id (ids are UUIDs)'),
  PayloadTooLarge: problem(413, 'payload-too-large', 'Payload Too Large', 'The body is over 16 KiB'),
  UnsupportedMediaType: problem(
    415,
    'unsupported-media-type',
    'Unsupported Media Type',
    'The body is not `application/json`',
  ),
  Internal: problem(500, 'internal', 'Internal Server Error', 'A bug: the function logged it'),
  Unavailable: problem(
    503,
    'unavailable',
    'Service Unavailable',
    'inventory’s store did not answer; nothing was changed by this request, retry after `Retry-After`',
    { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
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

const ID = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The movie’s id, a UUID (anything else is 404; bytes that are not percent-encoding, 400)',
  schema: { type: 'string', pattern: MOVIE_ID.source },
};

const listMovies = {
  operationId: 'listMovies',
  summary: 'Movies by id, a page at a time, optionally filtered by title',
  parameters: [
    {
      name: 'title',
      in: 'query',
      description:
        'Every word given starts a word of the title, case and accents ignored (`third man` finds The Third Man)',
      schema: { type: 'string', maxLength: MAX_TITLE_FILTER },
    },
    {
      name: 'limit',
      in: 'query',
      description: `Page size, 1 to ${MAX_PAGE}`,
      schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 20 },
    },
    {
      name: 'after',
      in: 'query',
      description: 'The `next` of the previous page',
      schema: { type: 'string', maxLength: 64 },
    },
  ],
  responses: {
    '200': { description: 'A page of movies, by id', content: json(schemaRef('MoviePage')) },
    '400': responseRef('InvalidRequest'),
    '500': responseRef('Internal'),
    '503': responseRef('Unavailable'),
  },
};

const getMovie = {
  operationId: 'getMovie',
  summary: 'One movie',
  parameters: [ID],
  responses: {
    '200': { description: 'The movie', content: json(schemaRef('Movie')) },
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

const movieBody = {
  required: true,
  content: json(schemaRef('MovieInput')),
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'sluice orders: movie inventory',
      version: '1.0.0',
      description:
        'The movie inventory of the orders system (docs/orders.md), behind api-gateway at /api/movies; inventory ' +
        'itself serves the same paths without /api. Every refusal is RFC 9457 problem+json. The gateway may ' +
        'answer for it (docs/gateway.md): a body over the route’s 16 KiB, a method not routed, inventory not ' +
        'answering in time.',
    },
    servers: [{ url: SERVER_URL, description: 'api-gateway' }],
    paths: {
      '/movies': {
        get: listMovies,
        head: headOf(listMovies),
        post: {
          operationId: 'createMovie',
          summary: 'Add a movie',
          requestBody: movieBody,
          responses: {
            '201': {
              description: 'Added',
              headers: {
                Location: {
                  description: 'The new movie, relative to the request URL: /api/movies/{id}',
                  required: true,
                  schema: { type: 'string', pattern: `^movies/${UUID}$` },
                },
              },
              content: json(schemaRef('Movie')),
            },
            '400': responseRef('InvalidRequest'),
            '413': responseRef('PayloadTooLarge'),
            '415': responseRef('UnsupportedMediaType'),
            '500': responseRef('Internal'),
            '503': responseRef('Unavailable'),
          },
        },
      },
      // Before /movies/{id} for readers; a literal segment wins over a parameter either way.
      '/movies/openapi.json': { get: getDocument, head: headOf(getDocument) },
      '/movies/{id}': {
        get: getMovie,
        head: headOf(getMovie),
        put: {
          operationId: 'replaceMovie',
          summary: 'Replace a movie’s title and description',
          parameters: [ID],
          requestBody: movieBody,
          responses: {
            '200': { description: 'The movie as it is now', content: json(schemaRef('Movie')) },
            '400': responseRef('InvalidRequest'),
            '404': responseRef('NotFound'),
            '413': responseRef('PayloadTooLarge'),
            '415': responseRef('UnsupportedMediaType'),
            '500': responseRef('Internal'),
            '503': responseRef('Unavailable'),
          },
        },
        delete: {
          operationId: 'deleteMovie',
          summary: 'Remove a movie',
          parameters: [ID],
          responses: {
            '204': { description: 'Removed' },
            '400': responseRef('InvalidRequest'),
            '404': responseRef('NotFound'),
            '500': responseRef('Internal'),
            '503': responseRef('Unavailable'),
          },
        },
      },
    },
    components: {
      schemas: {
        MovieInput: component(movieSchema),
        Movie: {
          type: 'object',
          additionalProperties: false,
          required: ['id', ...movieSchema.required, 'createdAt', 'updatedAt'],
          properties: {
            id: { type: 'string', pattern: MOVIE_ID.source },
            ...movieSchema.properties,
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
          },
        },
        MoviePage: {
          type: 'object',
          additionalProperties: false,
          required: ['movies', 'next'],
          properties: {
            movies: { type: 'array', maxItems: MAX_PAGE, items: schemaRef('Movie') },
            next: {
              type: ['string', 'null'],
              pattern: MOVIE_ID.source,
              description: 'Pass as `after` for the next page; null on the last page',
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
            name: { type: 'string', description: 'The field or parameter, or `(body)`' },
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
