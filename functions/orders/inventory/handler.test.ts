/**
 * inventory's routes on a memory store that the tests can take down (503) or break (500), each answer checked
 * against the OpenAPI document (body, status, required headers), every route of the router found in it, and
 * every status it documents answered at least once.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type Doc,
  type DocumentStore,
  JsonLogger,
  MemoryDocumentStore,
  type SluiceFunction,
  StoreUnavailableError,
} from '../../runtime/src/index.ts';
import { answerProblems, openApiProblems } from '../../runtime/test/openapi.ts';
import { accepts, init, routes } from './handler.ts';
import { openApiDocument } from './openapi.ts';

type JsonObject = Record<string, unknown>;
const DOC = openApiDocument();
const PATHS = DOC.paths as Record<string, Record<string, { responses: Record<string, JsonObject> }>>;
const COMPONENTS = DOC.components as Record<string, Record<string, JsonObject>>;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** `up`, or every store call fails as an outage (StoreUnavailableError) or as a bug (any other error). */
let storeState: 'up' | 'unavailable' | 'broken' = 'up';

function switchable(store: DocumentStore): DocumentStore {
  return {
    kind: store.kind,
    collection: <T extends Doc>(name: string) =>
      new Proxy(store.collection<T>(name), {
        get(target, key) {
          const value: unknown = Reflect.get(target, key, target);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]): unknown => {
            if (storeState === 'unavailable')
              return Promise.reject(new StoreUnavailableError('the test took the store down'));
            if (storeState === 'broken') return Promise.reject(new Error('the test broke the store'));
            return Reflect.apply(value, target, args);
          };
        },
      }),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

const silentLog = () => new JsonLogger({ serviceName: 'inventory', sink: { write: () => true } });
let server: Server;
let base: string;

beforeAll(async () => {
  const store = switchable(new MemoryDocumentStore());
  await init?.({ store, log: silentLog(), functionName: 'inventory' });
  const app = express();
  const router = express.Router();
  routes?.(router, { store, log: silentLog(), functionName: 'inventory' });
  app.use(router);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** The documented path template a request path falls under: a literal path wins over one with a parameter. */
function templateOf(path: string): string | undefined {
  if (PATHS[path] !== undefined) return path;
  return Object.keys(PATHS).find((t) =>
    new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  );
}

const resolved = (node: JsonObject, kind: 'responses' | 'headers'): JsonObject =>
  typeof node.$ref === 'string' ? (COMPONENTS[kind]?.[node.$ref.split('/').at(-1) ?? ''] ?? {}) : node;

/** The documented response's required headers missing from the answer, or not matching their pattern. */
function headerProblems(method: string, template: string, status: number, headers: Headers): string[] {
  const response = PATHS[template]?.[method.toLowerCase()]?.responses[String(status)];
  if (response === undefined) return []; // answerProblems reports it
  const documented = (resolved(response, 'responses').headers ?? {}) as Record<string, JsonObject>;
  return Object.entries(documented).flatMap(([name, header]) => {
    const { required, schema } = resolved(header, 'headers') as { required?: boolean; schema?: JsonObject };
    const value = headers.get(name);
    if (value === null) return required === true ? [`${method} ${template} → ${status}: no ${name}`] : [];
    const pattern = schema?.pattern;
    return typeof pattern === 'string' && !new RegExp(pattern, 'u').test(value)
      ? [`${method} ${template} → ${status}: ${name} ${value} does not match ${pattern}`]
      : [];
  });
}

/**
 * The path with each segment that is not valid percent-encoding (`%E0`) named by a stand-in: answerProblems
 * decodes segments to match them, and would throw on it; the segment still falls under the same `{id}`.
 */
const decodable = (path: string): string =>
  path
    .split('/')
    .map((segment) => {
      try {
        decodeURIComponent(segment);
        return segment;
      } catch {
        return 'not-percent-encoding';
      }
    })
    .join('/');

/** `GET /movies/{id} 404`, … for every answer a test read: the documented ones must all be here at the end. */
const answered = new Set<string>();

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: JsonObject | undefined;
}

/**
 * One request; its answer is checked against the document before a test reads it, so the document cannot
 * drift from the handler. inventory serves the documented paths itself (the gateway only adds /api).
 */
async function call(
  method: string,
  path: string,
  send: { body?: string; contentType?: string } = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(send.contentType === undefined ? {} : { headers: { 'content-type': send.contentType } }),
    ...(send.body === undefined ? {} : { body: send.body }),
  });
  const text = await res.text();
  const body = text === '' ? undefined : (JSON.parse(text) as JsonObject);
  const documentedPath = path.split('?')[0] ?? path;
  expect(
    answerProblems(DOC, {
      method,
      path: decodable(documentedPath),
      status: res.status,
      contentType: res.headers.get('content-type'),
      body,
    }),
  ).toEqual([]);
  const template = templateOf(documentedPath);
  expect(template, `${documentedPath} is documented`).toBeDefined();
  expect(headerProblems(method, template ?? '', res.status, res.headers)).toEqual([]);
  answered.add(`${method} ${template} ${res.status}`);
  return { status: res.status, headers: res.headers, body };
}

const movieJson = (movie: unknown) => ({ body: JSON.stringify(movie), contentType: 'application/json' });
const create = async (title: string, description = 'd') => {
  const created = await call('POST', '/movies', movieJson({ title, description }));
  expect(created.status).toBe(201);
  return created.body as { id: string; title: string };
};

describe('inventory', () => {
  it('is a SluiceFunction with routes and no events', () => {
    expectTypeOf(routes).toEqualTypeOf<SluiceFunction['routes']>();
    expect(accepts).toEqual([]);
  });

  it('serves its OpenAPI 3.1 document at GET /movies/openapi.json', async () => {
    const served = await call('GET', '/movies/openapi.json');
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/^application\/json/);
    expect(served.body).toEqual(openApiDocument());
    expect(openApiProblems(served.body)).toEqual([]);
    expect((await call('HEAD', '/movies/openapi.json')).status).toBe(200);
  });

  it('documents every route its router has, and no other', () => {
    const router = express.Router();
    const store = new MemoryDocumentStore();
    routes?.(router, { store, log: silentLog(), functionName: 'inventory' });
    const served = router.stack.flatMap((layer) => {
      const route = layer.route as { path: string; methods: Record<string, boolean> } | undefined;
      if (route === undefined) return [];
      // express answers HEAD with the GET handler
      const methods = Object.keys(route.methods).flatMap((m) => (m === 'get' ? ['get', 'head'] : [m]));
      return methods.map((m) => `${m.toUpperCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
    });
    const documented = Object.entries(PATHS).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(served.sort()).toEqual(documented.sort());
  });

  it('adds, reads, replaces and removes a movie', async () => {
    const created = await call(
      'POST',
      '/movies',
      movieJson({ title: '  The Third Man ', description: 'Vienna' }),
    );
    expect(created.status).toBe(201);
    const movie = created.body as { id: string; title: string };
    expect(movie.title).toBe('The Third Man');
    expect(created.headers.get('location')).toBe(`movies/${movie.id}`);
    expect((await call('GET', `/movies/${movie.id}`)).body).toEqual(movie);
    expect((await call('HEAD', `/movies/${movie.id}`)).status).toBe(200);
    const replaced = await call(
      'PUT',
      `/movies/${movie.id}`,
      movieJson({ title: 'The Third Man', description: 'Vienna, 1949' }),
    );
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: movie.id, description: 'Vienna, 1949' });
    expect((await call('DELETE', `/movies/${movie.id}`)).status).toBe(204);
    expect((await call('GET', `/movies/${movie.id}`)).status).toBe(404);
    expect((await call('HEAD', `/movies/${movie.id}`)).status).toBe(404);
  });

  it('lists movies by id a page at a time, filtered by title', async () => {
    const made = [await create('Amélie'), await create('American Graffiti'), await create('Manhattan')];
    const first = await call('GET', '/movies?limit=2');
    expect(first.status).toBe(200);
    const ids = made.map((m) => m.id).sort();
    expect((first.body?.movies as { id: string }[] | undefined)?.map((m) => m.id)).toEqual(ids.slice(0, 2));
    expect(first.body?.next).toBe(ids[1]);
    const rest = await call('GET', `/movies?limit=2&after=${ids[1]}`);
    expect(rest.body).toMatchObject({ movies: [{ id: ids[2] }], next: null });
    const byTitle = await call('GET', '/movies?title=AME');
    expect((byTitle.body?.movies as { title: string }[] | undefined)?.map((m) => m.title).sort()).toEqual([
      'American Graffiti',
      'Amélie',
    ]);
    expect((await call('HEAD', '/movies?title=man')).status).toBe(200);
  });

  it('answers 404 for a movie that is not there or an id that is not a UUID, 400 for one that is not even percent-encoding', async () => {
    const json = movieJson({ title: 'T', description: '' });
    expect((await call('GET', `/movies/${UNKNOWN_ID}`)).body).toMatchObject({
      detail: `no movie ${UNKNOWN_ID}`,
    });
    expect((await call('GET', '/movies/%24where')).status).toBe(404);
    expect((await call('PUT', `/movies/${UNKNOWN_ID}`, json)).status).toBe(404);
    expect((await call('PUT', '/movies/not-a-uuid', json)).status).toBe(404);
    expect((await call('DELETE', `/movies/${UNKNOWN_ID}`)).status).toBe(404);
    // Not even percent-encoding: express cannot decode the id.
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE'])
      expect((await call(method, '/movies/%E0', method === 'PUT' ? json : {})).status, method).toBe(400);
  });

  it('refuses bad queries and bodies with problem+json, naming the field', async () => {
    const { id } = await create('Ran');
    for (const query of [
      'limit=0',
      'limit=101',
      `after=${'x'.repeat(65)}`,
      'title=a&title=b',
      `title=${'t'.repeat(201)}`,
    ]) {
      const bad = await call('GET', `/movies?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body?.['invalid-params'], query).toHaveLength(1);
    }
    expect((await call('HEAD', '/movies?limit=0')).status).toBe(400);
    for (const [method, path] of [
      ['POST', '/movies'],
      ['PUT', `/movies/${id}`],
    ] as const) {
      const unknownField = await call(method, path, movieJson({ title: 'T', description: '', year: 1950 }));
      expect(unknownField.status).toBe(400);
      expect(unknownField.body?.['invalid-params']).toEqual([{ name: 'year', reason: expect.any(String) }]);
      const noTitle = await call(method, path, movieJson({ description: '' }));
      expect(noTitle.body?.['invalid-params']).toEqual([{ name: 'title', reason: expect.any(String) }]);
      expect((await call(method, path, { body: '{"title":', contentType: 'application/json' })).status).toBe(
        400,
      );
      expect((await call(method, path, { body: 'title=T', contentType: 'text/plain' })).status).toBe(415);
      const tooLarge = movieJson({ title: 'T', description: 'x'.repeat(17_000) });
      expect((await call(method, path, tooLarge)).status).toBe(413);
    }
  });

  it('answers 503 + Retry-After while its store is unavailable, and 500 for a bug', async () => {
    const { id } = await create('Stalker');
    const every: [string, string, { body?: string; contentType?: string }?][] = [
      ['GET', '/movies'],
      ['HEAD', '/movies'],
      ['POST', '/movies', movieJson({ title: 'T', description: '' })],
      ['GET', `/movies/${id}`],
      ['HEAD', `/movies/${id}`],
      ['PUT', `/movies/${id}`, movieJson({ title: 'T', description: '' })],
      ['DELETE', `/movies/${id}`],
    ];
    try {
      for (const [state, status] of [
        ['unavailable', 503],
        ['broken', 500],
      ] as const) {
        storeState = state;
        for (const [method, path, send] of every) {
          const answer = await call(method, path, send);
          expect(answer.status, `${method} ${path}`).toBe(status);
        }
      }
    } finally {
      storeState = 'up';
    }
    expect((await call('GET', `/movies/${id}`)).body).toMatchObject({ title: 'Stalker' });
  });

  it('has answered every status its document gives, for every operation', () => {
    const documented = Object.entries(PATHS).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, operation]) =>
        Object.keys(operation.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`),
      ),
    );
    expect(documented.filter((d) => !answered.has(d))).toEqual([]);
  });
});
