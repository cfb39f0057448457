/**
 * search's route on an in-memory index built by its own event handler, every answer checked against the OpenAPI
 * document the function serves (openapi.ts), so the document cannot drift from the handler: the document is valid
 * OpenAPI 3.1, names every route the router has, describes every answer a test reads, and each status it says the
 * function answers is answered here at least once (the gateway's own 401/429/502/504 are documented, not answered
 * here; the gateway test in platform/local checks those). The query's limits are sent at their boundaries: the
 * handler and the documented parameters must agree on each. The full system on FerretDB and RabbitMQ:
 * lib/system.int.test.ts.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonLogger } from '../../runtime/src/index.ts';
import { answerRecorder, type ReadAnswer } from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { expectStoreFailuresAnswered, SwitchableStore } from '../../runtime/test/switchable-store.ts';
import { QUOTES_SOURCE, QuoteEventType } from '../lib/quotes.ts';
import { MAX_QUERY_TERMS } from '../lib/search-index.ts';
import { describeDocumentChecks, FROM_THE_FUNCTION } from '../lib/test-support.ts';
import { handle, routes } from './handler.ts';
import { MAX_OFFSET, MAX_QUERY, openApiDocument } from './openapi.ts';

const doc = openApiDocument();
/** Every answer a test reads, checked against the document (body, status, headers) and counted. */
const answers = answerRecorder(doc, FROM_THE_FUNCTION);

let served: RoutesServer;
const store = new SwitchableStore();
const log = new JsonLogger({ serviceName: 'search', sink: { write: () => true } });

/** Indexes a quote as the broker would deliver its created event. */
async function indexed(n: number, text: string, author: string): Promise<void> {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const createdAt = new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();
  await handle(
    {
      specversion: '1.0',
      id: `quote-${id}-created`,
      source: QUOTES_SOURCE,
      type: QuoteEventType.created,
      subject: id,
      data: { id, text, author, createdAt, createdBy: 'ada' },
      extensions: {},
    },
    { store, log, functionName: 'search', signal: new AbortController().signal, traceId: '0'.repeat(32) },
  );
}

beforeAll(async () => {
  served = await serveRoutes(routes, { store, log, functionName: 'search' });
  await indexed(1, "On ne voit bien qu'avec le cœur.", 'Antoine de Saint-Exupéry');
  await indexed(2, 'Le coeur a ses raisons que la raison ne connaît point.', 'Blaise Pascal');
  await indexed(3, 'Cœur vaillant rien d’impossible.', 'Jacques Cœur');
});

afterAll(async () => {
  await served.close();
});

/** One request; its answer is checked against the document before the test reads it. */
const call = (method: string, path: string): Promise<ReadAnswer> => answers.send(served.base, method, path);

/** Whether the documented query parameters take `query` (a missing required one included). */
const documentedQuery = (() => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, coerceTypes: true });
  const parameters = (
    (doc.paths as Record<string, unknown>)['/search'] as {
      get: { parameters: { name: string; required?: boolean; schema: object }[] };
    }
  ).get.parameters;
  const validate = ajv.compile({
    type: 'object',
    additionalProperties: false,
    required: parameters.filter((p) => p.required === true).map((p) => p.name),
    properties: Object.fromEntries(parameters.map((p) => [p.name, p.schema])),
  });
  return (query: string): boolean => validate(Object.fromEntries(new URLSearchParams(query)));
})();

describe('search: GET /search', () => {
  it('finds every word, accents and case ignored, best first, a page at a time', async () => {
    const first = await call('GET', `/search?q=${encodeURIComponent('CŒUR')}&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ query: 'CŒUR', terms: ['coeur'], total: 3, next: 2 });
    const second = await call('GET', '/search?q=coeur&limit=2&offset=2');
    expect(second.body).toMatchObject({ total: 3, next: null });
    expect((second.body as { results: unknown[] }).results).toHaveLength(1);
    const none = await call('GET', '/search?q=coeur+wilde');
    expect(none.body).toMatchObject({ total: 0, results: [], next: null });
  });

  it('agrees with the documented parameters at every limit', async () => {
    const queries = [
      'q=coeur',
      'limit=2',
      'q=',
      `q=${'a'.repeat(MAX_QUERY)}`,
      `q=${'a'.repeat(MAX_QUERY + 1)}`,
      'q=%20%2C%20',
      'q=coeur&limit=100',
      'q=coeur&limit=101',
      'q=coeur&limit=0',
      'q=coeur&offset=0',
      `q=coeur&offset=${MAX_OFFSET}`,
      `q=coeur&offset=${MAX_OFFSET + 1}`,
      'q=coeur&offset=-1',
      'q=coeur&offset=1.5',
    ];
    for (const query of queries) {
      const { status } = await call('GET', `/search?${query}`);
      expect([200, 400], query).toContain(status);
      expect(documentedQuery(query), query).toBe(status === 200);
    }
    // Refused though each value is valid: more distinct words than a query may hold, a parameter sent twice.
    const words = Array.from({ length: MAX_QUERY_TERMS + 1 }, (_, i) => `w${i}`).join('+');
    expect((await call('GET', `/search?q=${words}`)).status).toBe(400);
    expect((await call('GET', '/search?q=a&q=b')).status).toBe(400);
  });
});

describe('search: its store failing', () => {
  it('answers 503 + Retry-After while the store is unavailable, 500 on anything else', async () => {
    await expectStoreFailuresAnswered(store, { 'GET /search': () => call('GET', '/search?q=coeur') });
  });
});

describeDocumentChecks('search', { doc, answers, call, router: () => served.router });
