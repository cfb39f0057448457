/**
 * inventory's OpenAPI 3.1 document, served at GET /movies/openapi.json (public: /api/movies/openapi.json). Written
 * by hand beside the routes (handler.ts): the body POST and PUT take is movie.schema.json, the one the handler
 * validates with (OpenAPI 3.1's schema dialect is JSON Schema 2020-12, so it is used as it is, without its
 * `$schema`/`$id`); a movie is what `publicMovie` answers; every refusal is the runtime's RFC 9457 problem+json.
 * handler.test.ts checks every answer it reads against this document and that every route is in it.
 */
import { headOf, MAX_PAGE, problemSchemas, schemaComponent } from '../../runtime/src/index.ts';
import { MAX_TITLE_FILTER, MOVIE_ID } from '../lib/movies.ts';
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
import movieSchema from './movie.schema.json' with { type: 'json' };

/** The movie id's pattern without anchors, to build the Location header's pattern from. */
const UUID = MOVIE_ID.source.replace(/^\^|\$$/g, '');

const PROBLEM_RESPONSES = routeProblemResponses({
  InvalidRequest:
    'A query parameter or the body is not valid (`invalid-params` names each), the body is not JSON, or the ' +
    'id in the path is not valid percent-encoding',
  NotFound: 'No movie with this id (ids are UUIDs)',
  Unavailable:
    'inventory’s store did not answer; nothing was changed by this request, retry after `Retry-After`',
});

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
    ...FAILURES,
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
    ...FAILURES,
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
    servers: SERVERS,
    paths: {
      '/movies': {
        get: listMovies,
        head: headOf(listMovies, PROBLEM_RESPONSES),
        post: {
          operationId: 'createMovie',
          summary: 'Add a movie',
          requestBody: movieBody,
          responses: {
            '201': located(
              'Added',
              {
                description: 'The new movie, relative to the request URL: /api/movies/{id}',
                pattern: `^movies/${UUID}$`,
              },
              schemaRef('Movie'),
            ),
            ...BODY_REFUSALS,
            ...FAILURES,
          },
        },
      },
      // Before /movies/{id} for readers; a literal segment wins over a parameter either way.
      '/movies/openapi.json': { get: documentOperation, head: headOf(documentOperation, PROBLEM_RESPONSES) },
      '/movies/{id}': {
        get: getMovie,
        head: headOf(getMovie, PROBLEM_RESPONSES),
        put: {
          operationId: 'replaceMovie',
          summary: 'Replace a movie’s title and description',
          parameters: [ID],
          requestBody: movieBody,
          responses: {
            '200': { description: 'The movie as it is now', content: json(schemaRef('Movie')) },
            ...BODY_REFUSALS,
            '404': responseRef('NotFound'),
            ...FAILURES,
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
            ...FAILURES,
          },
        },
      },
    },
    components: {
      schemas: {
        MovieInput: schemaComponent(movieSchema),
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
        ...problemSchemas(),
      },
      responses: PROBLEM_RESPONSES,
    },
  };
}
