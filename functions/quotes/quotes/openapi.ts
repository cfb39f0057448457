/**
 * quotes' OpenAPI 3.1 document, served at /quotes/openapi.json (no key needed: a gateway route of its own,
 * functions/quotes/routes.yaml). A quote is exactly a `quote.created.v1` event's data (schemas/, the schema the
 * function checks every event it publishes with), used here without its `$schema`/`$id`; the rest is written by hand
 * beside the routes (handler.ts). handler.test.ts checks that every route is in it and every answer against it. A
 * client reaches quotes through api-gateway, so what the gateway answers in front of the function (401, 429, 502-504:
 * api-key and token-bucket hooks) is documented too, with the rate-limit fields it adds to every answer that got
 * past the limit.
 *
 * What every quotes document shares (the gateway's answers and fields, the key, the problem shape) is
 * lib/openapi.ts's.
 */
import { MAX_PAGE, type OpenApiObject, schemaComponent } from '../../runtime/src/index.ts';
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
import { QUOTE_ID } from '../lib/quotes.ts';
import created from './schemas/dev.sluice.quotes.quote.created.v1.json' with { type: 'json' };

export function openApiDocument(): OpenApiObject {
  const quote = created.properties;
  const quoteId = {
    name: 'id',
    in: 'path',
    required: true,
    description: 'A quote id (a path that cannot be one is answered 404 too)',
    schema: quote.id,
  };
  return quotesDocument({
    service: 'quotes',
    title: 'sluice quotes: quotes',
    about:
      'Quotes: add, list, draw one at random, read, delete (docs/quotes.md). Every change is published as an ' +
      'event (`dev.sluice.quotes.quote.created.v1`, `…deleted.v1`), from which search builds its index.',
    paths: {
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
            ...bodyRefusals('The body is not JSON, or not a valid quote'),
            ...guarded(),
          },
        },
        get: pageOperation('listQuotes', 'Quotes by id, a page at a time', 'quotes', 'QuotePage'),
      },
      '/quotes/random': {
        get: {
          operationId: 'randomQuote',
          summary: 'One quote, drawn at random',
          responses: {
            '200': json('A quote', ref('schemas', 'Quote')),
            '404': limitedProblem(404, 'There are no quotes yet'),
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
            '404': limitedProblem(404, 'No such quote'),
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
            '404': limitedProblem(404, 'No such quote (or deleted already)'),
            ...guarded(),
          },
        },
      },
    },
    schemas: {
      Quote: schemaComponent(created),
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
  });
}
