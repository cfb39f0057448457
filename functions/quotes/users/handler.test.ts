/**
 * users' routes on an in-memory store, every answer checked against the OpenAPI document the function serves
 * (openapi.ts), so the document cannot drift from the handler: the document is valid OpenAPI 3.1, names every route
 * the router has, describes every answer a test reads, and each status it says the function answers is answered
 * here at least once (the gateway's own 401/403/429/502/504 are documented, not answered here; the gateway test in
 * platform/local checks those). The new-user limits are sent at their boundaries: the handler and the documented
 * request schema must agree on each body. The full system on FerretDB and RabbitMQ: lib/system.int.test.ts.
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
import { ADMIN_KEY_ENV } from '../lib/roles.ts';
import { init, routes } from './handler.ts';
import { MAX_NAME, MAX_PASSWORD, MIN_PASSWORD, openApiDocument, RATE_LIMIT } from './openapi.ts';

const ADMIN_KEY = `admin-${'k'.repeat(40)}`;
const PASSWORD = 'correct horse battery';

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

beforeAll(async () => {
  process.env[ADMIN_KEY_ENV] = ADMIN_KEY;
  const log = new JsonLogger({ serviceName: 'users', sink: { write: () => true } });
  await init?.({ store, log, functionName: 'users' });
  router = express.Router();
  routes?.(router, { store, log, functionName: 'users' });
  const app = express();
  app.use(router);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  delete process.env[ADMIN_KEY_ENV];
  await new Promise((r) => server.close(r));
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
  options: { body?: unknown; raw?: string; contentType?: string; authorization?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
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

const admin = `Bearer ${ADMIN_KEY}`;

/** Whether the documented request schema takes `body` (formats are the response checks' business). */
const documentedNewUser = (() => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ ...doc, $id: 'urn:sluice:users-openapi' });
  return ajv.compile({ $ref: 'urn:sluice:users-openapi#/components/schemas/NewUser' });
})();

describe('users: OpenAPI 3.1', () => {
  it('serves the document openapi.ts writes, valid OpenAPI 3.1, without a key', async () => {
    const { status, headers, body } = await call('GET', '/users/openapi.json');
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

describe('users: POST /users', () => {
  const ada = { id: 'ada', name: 'Ada Lovelace', password: PASSWORD };

  it('needs the admin key: 401 without a key, 403 with another', async () => {
    const none = await call('POST', '/users', { body: ada });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
    expect((await call('POST', '/users', { body: ada, authorization: 'not-the-key' })).status).toBe(403);
  });

  it('creates a user and shows its key once; 409 for the same id', async () => {
    const created = await call('POST', '/users', { body: ada, authorization: admin });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/users/ada');
    expect(created.body).toMatchObject({ id: 'ada', name: 'Ada Lovelace' });
    expect((await call('POST', '/users', { body: ada, authorization: ADMIN_KEY })).status).toBe(409);
  });

  it('refuses what is not a JSON body: 415, 400, 413', async () => {
    const asText = { raw: JSON.stringify(ada), contentType: 'text/plain', authorization: admin };
    expect((await call('POST', '/users', asText)).status).toBe(415);
    expect((await call('POST', '/users', { raw: '{"id":', authorization: admin })).status).toBe(400);
    const huge = { ...ada, name: 'x'.repeat(17 * 1024) };
    expect((await call('POST', '/users', { body: huge, authorization: admin })).status).toBe(413);
  });

  it('agrees with the documented request schema at every limit', async () => {
    let n = 0;
    const user = (fields: JsonObject): JsonObject => ({
      id: `u${++n}`,
      name: 'U',
      password: PASSWORD,
      ...fields,
    });
    const bodies: unknown[] = [
      user({}),
      user({ password: 'p'.repeat(MIN_PASSWORD) }),
      user({ password: 'p'.repeat(MIN_PASSWORD - 1) }),
      user({ password: 'p'.repeat(MAX_PASSWORD) }),
      user({ password: 'p'.repeat(MAX_PASSWORD + 1) }),
      user({ name: 'n'.repeat(MAX_NAME) }),
      user({ name: 'n'.repeat(MAX_NAME + 1) }),
      user({ name: ' \t ' }),
      user({ name: '' }),
      user({ id: 'a'.repeat(64) }),
      user({ id: 'a'.repeat(65) }),
      user({ id: 'Upper' }),
      user({ id: 'trailing-' }),
      user({ id: 'under_score' }),
      user({ role: 'admin' }),
      { id: 'nameless', password: PASSWORD },
      ['an', 'array'],
    ];
    for (const body of bodies) {
      const { status } = await call('POST', '/users', { body, authorization: admin });
      expect([201, 400], JSON.stringify(body)).toContain(status);
      expect(documentedNewUser(body), JSON.stringify(body)).toBe(status === 201);
    }
  });
});

describe('users: GET /users, GET /users/{id}', () => {
  it('lists users by id, a page at a time, never a hash', async () => {
    const seen: string[] = [];
    let after: string | null = '';
    while (after !== null) {
      const page = await call('GET', `/users?limit=2${after === '' ? '' : `&after=${after}`}`);
      expect(page.status).toBe(200);
      const { users, next } = page.body as { users: { id: string }[]; next: string | null };
      seen.push(...users.map((u) => u.id));
      after = next;
    }
    expect(seen).toContain('ada');
    expect(seen).toEqual([...seen].sort());
    expect(JSON.stringify((await call('GET', '/users?limit=100')).body)).not.toContain('Hash');
  });

  it('refuses a bad page: 400', async () => {
    for (const query of ['limit=0', 'limit=101', 'limit=two', `after=${'a'.repeat(65)}`, 'after=a&after=b'])
      expect((await call('GET', `/users?${query}`)).status, query).toBe(400);
  });

  it('reads one user; 404 for an unknown id and for what cannot be one', async () => {
    const ada = await call('GET', '/users/ada');
    expect(ada.status).toBe(200);
    expect(Object.keys(ada.body as JsonObject).sort()).toEqual(['createdAt', 'id', 'name']);
    expect((await call('GET', '/users/nobody')).status).toBe(404);
    expect((await call('GET', '/users/%24where')).status).toBe(404);
  });
});

describe('users: POST /keys/verify (the gateway asks)', () => {
  it("answers a key's principal and role; 401 for a key it does not know", async () => {
    const bob = await call('POST', '/users', {
      body: { id: 'bob', name: 'Bob', password: PASSWORD },
      authorization: admin,
    });
    const { apiKey } = bob.body as { apiKey: string };
    expect((await call('POST', '/keys/verify', { body: { key: apiKey } })).body).toEqual({
      principal: 'bob',
      role: 'user',
    });
    expect((await call('POST', '/keys/verify', { body: { key: ADMIN_KEY } })).body).toEqual({
      principal: 'admin',
      role: 'admin',
    });
    expect((await call('POST', '/keys/verify', { body: { key: `${apiKey.slice(0, -2)}xx` } })).status).toBe(
      401,
    );
    expect((await call('POST', '/keys/verify', { body: { key: 'qk_nobody_x' } })).status).toBe(401);
  });

  it('refuses a body without a key: 400, 413', async () => {
    expect((await call('POST', '/keys/verify', { body: {} })).status).toBe(400);
    expect((await call('POST', '/keys/verify', { raw: 'key' })).status).toBe(400);
    expect((await call('POST', '/keys/verify', { body: { key: 'k'.repeat(17 * 1024) } })).status).toBe(413);
  });
});

describe('users: its store failing', () => {
  const requests: [string, string, { body?: unknown; authorization?: string }][] = [
    ['POST', '/users', { body: { id: 'carol', name: 'Carol', password: PASSWORD }, authorization: admin }],
    ['GET', '/users', {}],
    ['GET', '/users/ada', {}],
    ['POST', '/keys/verify', { body: { key: `qk_ada_${'x'.repeat(43)}` } }],
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

describe('users: behind the gateway (functions/quotes/routes.yaml)', () => {
  it('routes the document without a key, and each operation with the key, role and rate limit it documents', async () => {
    const table = await parseRouteTable(repositoryRouteSources(join(import.meta.dirname, '../..')));
    const PERIOD_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };
    for (const [method, path, , security] of operations) {
      const route = table.match(path.replace(/\{\w+\}/g, 'x'));
      if (path === '/keys/verify') {
        expect(route, 'no gateway route leads to the key check').toBeUndefined();
        continue;
      }
      expect(route, path).toMatchObject({
        kind: ROUTE_KIND.proxy,
        service: 'users',
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

describe('users: coverage of the document', () => {
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
