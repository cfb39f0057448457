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
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import express, { type Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Collection,
  type Doc,
  type DocumentStore,
  JsonLogger,
  MemoryDocumentStore,
  parseRouteTable,
  ROUTE_KIND,
  repositoryRouteSources,
  StoreUnavailableError,
} from '../../runtime/src/index.ts';
import { answerProblems, openApiProblems } from '../../runtime/test/openapi.ts';
import { MAX_AUTHOR, MAX_TEXT, QuoteEventType } from '../lib/quotes.ts';
import { init, routes, shutdown } from './handler.ts';
import { openApiDocument, RATE_LIMIT } from './openapi.ts';

type JsonObject = Record<string, unknown>;
const doc = openApiDocument();
const paths = doc.paths as Record<
  string,
  Record<string, { responses?: Record<string, { $ref?: string }>; security?: unknown }>
>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
/** Every documented operation: `[method, path, responses, security]`. */
const operations = Object.entries(paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([key]) => METHODS.includes(key))
    .map(([method, operation]) => [method, path, operation.responses ?? {}, operation.security] as const),
);

/** A store whose every call fails with `failure` while it is set: the routes' 503 and 500. */
class FailingStore implements DocumentStore {
  readonly kind = 'memory';
  failure: Error | undefined;
  readonly #inner = new MemoryDocumentStore();
  collection<T extends Doc = Doc>(name: string): Collection<T> {
    const real = this.#inner.collection<T>(name);
    return new Proxy(real, {
      get: (target, key, receiver) => {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) =>
          this.failure === undefined ? value.apply(target, args) : Promise.reject(this.failure);
      },
    });
  }
  ping(): Promise<void> {
    return this.#inner.ping();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** The documented path a request path falls under: a literal segment beats a parameter (as OpenAPI says). */
function templateOf(path: string): string {
  const fits = (template: string): boolean =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path);
  const candidates = Object.keys(paths).filter(fits);
  return candidates.find((t) => !t.includes('{')) ?? candidates[0] ?? path;
}

/** `method template status` of every answer read: what the coverage test compares with the document. */
const answered = new Set<string>();

let server: Server;
let base: string;
let router: Router;
const store = new FailingStore();
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
  router = express.Router();
  routes?.(router, { store, log, functionName: 'quotes' });
  const app = express();
  app.use(router);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await shutdown?.();
  delete process.env.BROKER_URL;
  await new Promise((r) => server.close(r));
  await new Promise((r) => broker.close(r));
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** One request; its answer is checked against the document before the test reads it. */
async function call(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; contentType?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  let payload: string | undefined = options.raw;
  if (options.body !== undefined) payload = JSON.stringify(options.body);
  if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
  });
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  const body: unknown = text === '' ? undefined : JSON.parse(text);
  const route = path.split('?')[0] ?? path;
  expect(answerProblems(doc, { method, path: route, status: res.status, contentType, body })).toEqual([]);
  answered.add(`${method} ${templateOf(route)} ${res.status}`);
  return { status: res.status, headers: res.headers, body };
}

/** Whether the documented request schema takes `body`. */
const documentedNewQuote = (() => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ ...doc, $id: 'urn:sluice:quotes-openapi' });
  return ajv.compile({ $ref: 'urn:sluice:quotes-openapi#/components/schemas/NewQuote' });
})();

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

describe('quotes: OpenAPI 3.1', () => {
  it('serves the document openapi.ts writes, valid OpenAPI 3.1, without a key', async () => {
    const { status, headers, body } = await call('GET', '/quotes/openapi.json');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toContain('application/json');
    expect(body).toEqual(openApiDocument());
    expect(openApiProblems(body)).toEqual([]);
  });

  it('describes a quote with the schema of its created event (schemas/), as it is', () => {
    const file = join(import.meta.dirname, 'schemas', `${QuoteEventType.created}.json`);
    const { $schema: _s, $id: _i, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
    expect((doc.components as { schemas: JsonObject }).schemas.Quote).toEqual(schema);
  });

  it('documents every route the router has, and no other', () => {
    const served = new Set(
      router.stack.flatMap((layer) =>
        (layer.route?.stack ?? []).map((l) => `${l.method} ${layer.route?.path.replace(/:(\w+)/g, '{$1}')}`),
      ),
    );
    expect([...served].sort()).toEqual(operations.map(([method, path]) => `${method} ${path}`).sort());
  });
});

describe('quotes: the routes', () => {
  it('GET /quotes/random: 404 while there are no quotes', async () => {
    expect((await call('GET', '/quotes/random')).status).toBe(404);
  });

  it('POST /quotes: 201 with its URL, and its created event published', async () => {
    const added = await call('POST', '/quotes', { body: { text: ' To be. ', author: 'Hamlet' } });
    expect(added.status).toBe(201);
    const quote = added.body as { id: string; text: string };
    expect(added.headers.get('location')).toBe(`/quotes/${quote.id}`);
    expect(quote.text).toBe('To be.');
    expect(published).toContain(QuoteEventType.created);
  });

  it('POST /quotes: 415, 400 and 413 for what is not a JSON quote', async () => {
    const quote = { text: 'Words', author: 'Someone' };
    expect(
      (await call('POST', '/quotes', { raw: JSON.stringify(quote), contentType: 'text/plain' })).status,
    ).toBe(415);
    expect((await call('POST', '/quotes', { raw: '{"text":' })).status).toBe(400);
    expect((await call('POST', '/quotes', { body: { ...quote, text: 'x'.repeat(17 * 1024) } })).status).toBe(
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
      const { status } = await call('POST', '/quotes', { body });
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
  const requests: [string, string, { body?: unknown }][] = [
    ['POST', '/quotes', { body: { text: 'Down', author: 'Store' } }],
    ['GET', '/quotes', {}],
    ['GET', '/quotes/random', {}],
    ['GET', `/quotes/${UNKNOWN_ID}`, {}],
    ['DELETE', `/quotes/${UNKNOWN_ID}`, {}],
  ];

  it('answers 503 + Retry-After while the store is unavailable, 500 on anything else', async () => {
    try {
      store.failure = new StoreUnavailableError('down');
      for (const [method, path, options] of requests) {
        const answer = await call(method, path, options);
        expect(answer.status, `${method} ${path}`).toBe(503);
        expect(answer.headers.get('retry-after')).toBe('1');
      }
      store.failure = new Error('a bug');
      for (const [method, path, options] of requests)
        expect((await call(method, path, options)).status, `${method} ${path}`).toBe(500);
    } finally {
      store.failure = undefined;
    }
  });
});

describe('quotes: behind the gateway (functions/quotes/routes.yaml)', () => {
  it('routes the document without a key, and each operation with the key, role and rate limit it documents', async () => {
    const table = await parseRouteTable(repositoryRouteSources(join(import.meta.dirname, '../..')));
    const PERIOD_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };
    for (const [method, path, , security] of operations) {
      const route = table.match(path.replace(/\{\w+\}/g, 'x'));
      expect(route, path).toMatchObject({
        kind: ROUTE_KIND.proxy,
        service: 'quotes',
        prefixRewrite: undefined,
      });
      if (route?.kind !== ROUTE_KIND.proxy) continue;
      expect(route.methods, `${method} ${path}`).toContain(method.toUpperCase());
      if (path.endsWith('/openapi.json')) {
        expect(route.prefix).toBe(path);
        expect(security, path).toEqual([]);
        expect([route.auth, route.rateLimit], path).toEqual([undefined, undefined]);
        continue;
      }
      expect(route.auth, path).toMatchObject({ hook: 'api-key' });
      // The role routes.yaml names for the method (none: any key), in each of the documented ways to send the key.
      const role = ((route.auth?.config.roles ?? {}) as Record<string, string>)[method.toUpperCase()];
      const documented = (security ?? doc.security) as Record<string, string[]>[];
      expect(
        documented.map((way) => Object.values(way).flat()),
        `${method} ${path}`,
      ).toEqual(documented.map(() => (role === undefined ? [] : [role])));
      const { limit, period, bucket } = (route.rateLimit?.config ?? {}) as {
        limit: number;
        period: string;
        bucket: string;
      };
      const windowSeconds = Number(period.slice(0, -1)) * (PERIOD_SECONDS[period.slice(-1)] ?? Number.NaN);
      expect({ bucket, limit, windowSeconds }, path).toEqual(RATE_LIMIT);
    }
  });
});

describe('quotes: coverage of the document', () => {
  /** What only the gateway answers: documented for the client, answered in the gateway's tests. */
  const GATEWAY_ONLY = ['Unauthorized', 'Forbidden', 'RateLimited', 'BadGateway', 'GatewayTimeout'].map(
    (name) => `#/components/responses/${name}`,
  );

  it('has seen every status the document says the function answers', () => {
    const documented = operations.flatMap(([method, path, responses]) =>
      Object.entries(responses)
        .filter(([, response]) => !GATEWAY_ONLY.includes(response.$ref ?? ''))
        // The document's own route answers 200; the rest there is the gateway's.
        .filter(([status]) => !path.endsWith('/openapi.json') || status === '200')
        .map(([status]) => `${method.toUpperCase()} ${path} ${status}`),
    );
    expect(documented.filter((d) => !answered.has(d))).toEqual([]);
  });
});
