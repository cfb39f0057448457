/**
 * search's route on an in-memory index built by its own event handler, every answer checked against the OpenAPI
 * document the function serves (openapi.ts), so the document cannot drift from the handler: the document is valid
 * OpenAPI 3.1, names every route the router has, describes every answer a test reads, and each status it says the
 * function answers is answered here at least once (the gateway's own 401/429/502/504 are documented, not answered
 * here; the gateway test in platform/local checks those). The query's limits are sent at their boundaries: the
 * handler and the documented parameters must agree on each. The full system on FerretDB and RabbitMQ:
 * lib/system.int.test.ts.
 */
import type { Server } from 'node:http';
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
import { QUOTES_SOURCE, QuoteEventType } from '../lib/quotes.ts';
import { MAX_QUERY_TERMS } from '../lib/search-index.ts';
import { handle, routes } from './handler.ts';
import { MAX_OFFSET, MAX_QUERY, openApiDocument, RATE_LIMIT } from './openapi.ts';

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
  router = express.Router();
  routes?.(router, { store, log, functionName: 'search' });
  const app = express();
  app.use(router);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await indexed(1, "On ne voit bien qu'avec le cœur.", 'Antoine de Saint-Exupéry');
  await indexed(2, 'Le coeur a ses raisons que la raison ne connaît point.', 'Blaise Pascal');
  await indexed(3, 'Cœur vaillant rien d’impossible.', 'Jacques Cœur');
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** One request; its answer is checked against the document before the test reads it. */
async function call(method: string, path: string): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method });
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  const body: unknown = text === '' ? undefined : JSON.parse(text);
  const route = path.split('?')[0] ?? path;
  expect(answerProblems(doc, { method, path: route, status: res.status, contentType, body })).toEqual([]);
  answered.add(`${method} ${templateOf(route)} ${res.status}`);
  return { status: res.status, headers: res.headers, body };
}

/** Whether the documented query parameters take `query` (a missing required one included). */
const documentedQuery = (() => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, coerceTypes: true });
  const parameters = (
    paths['/search'] as unknown as {
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

describe('search: OpenAPI 3.1', () => {
  it('serves the document openapi.ts writes, valid OpenAPI 3.1, without a key', async () => {
    const { status, headers, body } = await call('GET', '/search/openapi.json');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toContain('application/json');
    expect(body).toEqual(openApiDocument());
    expect(openApiProblems(body)).toEqual([]);
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
    try {
      store.failure = new StoreUnavailableError('down');
      const unavailable = await call('GET', '/search?q=coeur');
      expect(unavailable.status).toBe(503);
      expect(unavailable.headers.get('retry-after')).toBe('1');
      store.failure = new Error('a bug');
      expect((await call('GET', '/search?q=coeur')).status).toBe(500);
    } finally {
      store.failure = undefined;
    }
  });
});

describe('search: behind the gateway (functions/quotes/routes.yaml)', () => {
  it('routes the document without a key, and each operation with the key, role and rate limit it documents', async () => {
    const table = await parseRouteTable(repositoryRouteSources(join(import.meta.dirname, '../..')));
    const PERIOD_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };
    for (const [method, path, , security] of operations) {
      const route = table.match(path.replace(/\{\w+\}/g, 'x'));
      expect(route, path).toMatchObject({
        kind: ROUTE_KIND.proxy,
        service: 'search',
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

describe('search: coverage of the document', () => {
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
