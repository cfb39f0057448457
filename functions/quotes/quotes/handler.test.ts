/**
 * quotes' routes on an in-memory store, with a stand-in broker ingress that stores every event it is sent, every
 * answer checked against the OpenAPI document the function serves (openapi.ts), so the document cannot drift from
 * the handler: the document is valid OpenAPI 3.1, names every route the router has, describes every answer a test
 * reads, and each status it says the function answers is answered here at least once (the gateway's own
 * 401/429/502/504 are documented, not answered here; the gateway test in platform/local checks those). A new quote's
 * limits are sent at their boundaries: the handler and the documented request schema must agree on each body. The
 * full system on FerretDB and RabbitMQ: lib/system.int.test.ts.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonLogger } from '../../runtime/src/index.ts';
import { answerRecorder, type ReadAnswer, type Sent, schemaCheck } from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { expectStoreFailuresAnswered, SwitchableStore } from '../../runtime/test/switchable-store.ts';
import { MAX_AUTHOR, MAX_TEXT, QuoteEventType } from '../lib/quotes.ts';
import { describeDocumentChecks, FROM_THE_FUNCTION } from '../lib/test-support.ts';
import { init, routes, shutdown } from './handler.ts';
import { openApiDocument } from './openapi.ts';

type JsonObject = Record<string, unknown>;
const doc = openApiDocument();
/** Every answer a test reads, checked against the document (body, status, headers) and counted. */
const answers = answerRecorder(doc, FROM_THE_FUNCTION);

let served: RoutesServer;
const store = new SwitchableStore();
/** The broker's ingress: answers 202 (stored) and keeps the `ce-type` of every event. */
const published: string[] = [];
const broker = createServer((req, res) => {
  published.push(String(req.headers['ce-type']));
  req.resume().on('end', () => res.writeHead(202).end());
});

beforeAll(async () => {
  broker.listen(0, '127.0.0.1');
  await new Promise((r) => broker.once('listening', r));
  process.env.BROKER_URL = `http://127.0.0.1:${(broker.address() as AddressInfo).port}/`;
  const log = new JsonLogger({ serviceName: 'quotes', sink: { write: () => true } });
  await init?.({ store, log, functionName: 'quotes' });
  served = await serveRoutes(routes, { store, log, functionName: 'quotes' });
});

afterAll(async () => {
  await shutdown?.();
  delete process.env.BROKER_URL;
  await served.close();
  await new Promise((r) => broker.close(r));
});

/** One request; its answer is checked against the document before the test reads it. */
const call = (method: string, path: string, sent?: Sent): Promise<ReadAnswer> =>
  answers.send(served.base, method, path, sent);

/** Whether the documented request schema takes `body`. */
const documentedNewQuote = schemaCheck(doc, '#/components/schemas/NewQuote');

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

describe('quotes: its document', () => {
  it('describes a quote with the schema of its created event (schemas/), as it is', () => {
    const file = join(import.meta.dirname, 'schemas', `${QuoteEventType.created}.json`);
    const { $schema: _s, $id: _i, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
    expect((doc.components as { schemas: JsonObject }).schemas.Quote).toEqual(schema);
  });
});

describe('quotes: the routes', () => {
  it('GET /quotes/random: 404 while there are no quotes', async () => {
    expect((await call('GET', '/quotes/random')).status).toBe(404);
  });

  it('POST /quotes: 201 with its URL, and its created event published', async () => {
    const added = await call('POST', '/quotes', { json: { text: ' To be. ', author: 'Hamlet' } });
    expect(added.status).toBe(201);
    const quote = added.body as { id: string; text: string };
    expect(added.headers.get('location')).toBe(`/quotes/${quote.id}`);
    expect(quote.text).toBe('To be.');
    expect(published).toContain(QuoteEventType.created);
  });

  it('POST /quotes: 415, 400 and 413 for what is not a JSON quote', async () => {
    const quote = { text: 'Words', author: 'Someone' };
    expect(
      (await call('POST', '/quotes', { body: JSON.stringify(quote), contentType: 'text/plain' })).status,
    ).toBe(415);
    expect((await call('POST', '/quotes', { body: '{"text":' })).status).toBe(400);
    expect((await call('POST', '/quotes', { json: { ...quote, text: 'x'.repeat(17 * 1024) } })).status).toBe(
      413,
    );
  });

  it('POST /quotes: agrees with the documented request schema at every limit', async () => {
    const quote = (fields: JsonObject): JsonObject => ({ text: 'Words', author: 'Someone', ...fields });
    const bodies: unknown[] = [
      quote({}),
      quote({ text: 't'.repeat(MAX_TEXT) }),
      quote({ text: 't'.repeat(MAX_TEXT + 1) }),
      quote({ author: 'a'.repeat(MAX_AUTHOR) }),
      quote({ author: 'a'.repeat(MAX_AUTHOR + 1) }),
      quote({ text: '' }),
      quote({ text: ' \n ' }),
      quote({ author: 7 }),
      quote({ createdBy: 'me' }),
      { text: 'No author' },
      ['a', 'list'],
    ];
    for (const body of bodies) {
      const { status } = await call('POST', '/quotes', { json: body });
      expect([201, 400], JSON.stringify(body)).toContain(status);
      expect(documentedNewQuote(body), JSON.stringify(body)).toBe(status === 201);
    }
  });

  it('GET /quotes: every quote by id, a page at a time; 400 for a bad page', async () => {
    const seen: string[] = [];
    let after: string | null = '';
    while (after !== null) {
      const page = await call('GET', `/quotes?limit=2${after === '' ? '' : `&after=${after}`}`);
      expect(page.status).toBe(200);
      const { quotes, next } = page.body as { quotes: { id: string }[]; next: string | null };
      seen.push(...quotes.map((q) => q.id));
      after = next;
    }
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen).toEqual([...seen].sort());
    for (const query of ['limit=0', 'limit=101', `after=${'a'.repeat(65)}`, 'after=a&after=b'])
      expect((await call('GET', `/quotes?${query}`)).status, query).toBe(400);
  });

  it('GET /quotes/random, GET and DELETE /quotes/{id}: 200, 204, then 404', async () => {
    const drawn = await call('GET', '/quotes/random');
    expect(drawn.status).toBe(200);
    const { id } = drawn.body as { id: string };
    expect((await call('GET', `/quotes/${id}`)).body).toEqual(drawn.body);
    expect((await call('DELETE', `/quotes/${id}`)).status).toBe(204);
    expect(published).toContain(QuoteEventType.deleted);
    expect((await call('GET', `/quotes/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/quotes/${id}`)).status).toBe(404);
    expect((await call('GET', `/quotes/${UNKNOWN_ID}`)).status).toBe(404);
    expect((await call('GET', '/quotes/not-a-uuid')).status).toBe(404);
    expect((await call('DELETE', '/quotes/not-a-uuid')).status).toBe(404);
  });
});

describe('quotes: its store failing', () => {
  it('answers 503 + Retry-After while the store is unavailable, 500 on anything else', async () => {
    await expectStoreFailuresAnswered(store, {
      'POST /quotes': () => call('POST', '/quotes', { json: { text: 'Down', author: 'Store' } }),
      'GET /quotes': () => call('GET', '/quotes'),
      'GET /quotes/random': () => call('GET', '/quotes/random'),
      'GET /quotes/{id}': () => call('GET', `/quotes/${UNKNOWN_ID}`),
      'DELETE /quotes/{id}': () => call('DELETE', `/quotes/${UNKNOWN_ID}`),
    });
  });
});

describeDocumentChecks('quotes', { doc, answers, call, router: () => served.router });
