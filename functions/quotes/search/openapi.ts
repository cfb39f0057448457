/**
 * search's OpenAPI 3.1 document, served at /search/openapi.json (no key needed: a gateway route of its own,
 * functions/quotes/routes.yaml). A hit's fields are those of a `quote.created.v1` event's data (schemas/, the
 * schema every event the function indexes is checked with); the rest is written by hand beside the route
 * (handler.ts). handler.test.ts checks that every route is in it and every answer against it. A client reaches search
 * through api-gateway, so what the gateway answers in front of the function (401, 429, 502-504: api-key and
 * token-bucket hooks) is documented too, with the rate-limit fields it adds to every answer that got past the limit.
 *
 * What every quotes document shares (the gateway's answers and fields, the key, the problem shape) is
 * lib/openapi.ts's.
 */
import { MAX_PAGE, type OpenApiObject } from '../../runtime/src/index.ts';
import { guarded, json, LIMIT_PARAMETER, limitedProblem, quotesDocument, ref } from '../lib/openapi.ts';
import { MAX_QUERY_TERMS } from '../lib/search-index.ts';
import { MAX_TERM_LENGTH } from '../lib/text.ts';
import created from './schemas/dev.sluice.quotes.quote.created.v1.json' with { type: 'json' };

// What handler.ts checks a query against; the handler tests send each boundary.
export const MAX_QUERY = 500;
export const MAX_OFFSET = 1000;

export function openApiDocument(): OpenApiObject {
  const { id, text, author, createdAt } = created.properties;
  return quotesDocument({
    service: 'search',
    title: 'sluice quotes: search',
    about:
      'Full-text search over the quotes, from an index built only from their events (docs/quotes.md): every ' +
      'word must match, accents and case ignored, ranked by BM25 over text and author (the author counts ' +
      'double), then newest first.',
    paths: {
      '/search': {
        get: {
          operationId: 'search',
          summary: 'The quotes that hold every word of `q`, best first',
          parameters: [
            {
              name: 'q',
              in: 'query',
              required: true,
              description: `Words: at least one, at most ${MAX_QUERY_TERMS} distinct (case, accents and punctuation ignored)`,
              schema: { type: 'string', minLength: 1, maxLength: MAX_QUERY, pattern: '[\\p{L}\\p{N}]' },
            },
            LIMIT_PARAMETER,
            {
              name: 'offset',
              in: 'query',
              description: 'Results to skip: the `next` of the previous page',
              schema: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 },
            },
          ],
          responses: {
            '200': json('A page of the ranking', ref('schemas', 'SearchResults')),
            '400': limitedProblem(
              400,
              '`q` missing, without a word, too long or with too many words; invalid `limit` or `offset`',
            ),
            ...guarded(),
          },
        },
      },
    },
    schemas: {
      SearchResults: {
        type: 'object',
        additionalProperties: false,
        required: ['query', 'terms', 'total', 'results', 'next'],
        properties: {
          query: { type: 'string', maxLength: MAX_QUERY, description: '`q` as sent' },
          terms: {
            type: 'array',
            minItems: 1,
            maxItems: MAX_QUERY_TERMS,
            uniqueItems: true,
            items: { type: 'string', minLength: 1, maxLength: MAX_TERM_LENGTH },
            description:
              'The words searched for, folded (lower case, accents dropped, ligatures spelled out)',
          },
          total: { type: 'integer', minimum: 0, description: 'Quotes that match' },
          results: { type: 'array', maxItems: MAX_PAGE, items: ref('schemas', 'SearchHit') },
          next: {
            type: ['integer', 'null'],
            minimum: 1,
            description: 'Pass as `offset` for the next page; null on the last page',
          },
        },
      },
      SearchHit: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'text', 'author', 'createdAt', 'score'],
        properties: {
          id,
          text,
          author,
          createdAt,
          score: { type: 'number', minimum: 0, description: 'BM25, rounded to 4 decimals' },
        },
      },
    },
  });
}
