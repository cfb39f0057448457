import express from 'express';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.ts';
import {
  answerOf,
  answerProblems,
  answerRecorder,
  documentedOperations,
  expectServedDocument,
  openApiProblems,
  routeProblems,
  routerOperations,
  schemaCheck,
  templateOf,
} from './openapi.ts';
import { serveRoutes } from './routes-server.ts';
import { expectStoreFailuresAnswered, SwitchableStore } from './switchable-store.ts';

/** A small valid document: one path with a parameter, a component, a shared problem response. */
const doc = () => ({
  openapi: '3.1.0',
  info: { title: 'items', version: '1.0.0' },
  paths: {
    '/items/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^i-' } }],
        responses: {
          '200': {
            description: 'The item',
            headers: {
              ETag: { required: true, schema: { type: 'string', pattern: '^"[0-9a-f]+"$' } },
              'Items-Left': { $ref: '#/components/headers/ItemsLeft' },
              'Content-Type': { required: true, schema: { const: 'ignored' } },
            },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } },
          },
          '404': { $ref: '#/components/responses/Problem' },
        },
      },
    },
    '/items/count': {
      get: {
        responses: {
          '200': {
            description: 'How many',
            content: { 'application/json': { schema: { type: 'integer', minimum: 0 } } },
          },
        },
      },
    },
  },
  components: {
    schemas: {
      Item: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'at'],
        properties: { id: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
      },
    },
    headers: {
      ItemsLeft: { required: true, schema: { type: 'integer', minimum: 0 } },
    },
    responses: {
      Problem: {
        description: 'RFC 9457 problem details',
        headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 } } },
        content: {
          'application/problem+json': {
            schema: { type: 'object', required: ['status'], properties: { status: { type: 'integer' } } },
          },
        },
      },
    },
  },
});

describe('openApiProblems', () => {
  it('passes a valid OpenAPI 3.1 document', () => {
    expect(openApiProblems(doc())).toEqual([]);
  });

  it('names what breaks the OpenAPI 3.1 schema: a missing info, a parameter without `in`, a response without description', () => {
    const { info: _, ...noInfo } = doc();
    expect(openApiProblems(noInfo).join()).toContain("must have required property 'info'");
    const noIn = doc();
    noIn.paths['/items/{id}'].get.parameters = [
      { name: 'id', required: true, schema: { type: 'string' } } as never,
    ];
    expect(openApiProblems(noIn).join()).toContain("must have required property 'in'");
    const noDescription = doc();
    delete (noDescription.paths['/items/count'].get.responses['200'] as { description?: string }).description;
    expect(openApiProblems(noDescription).join()).toContain("must have required property 'description'");
    expect(openApiProblems({ ...doc(), openapi: '3.0.3' }).join()).toContain('/openapi');
  });

  it('names an operationId two operations share', () => {
    const twice = doc();
    const list = twice.paths['/items/count'].get as { operationId?: string };
    const one = twice.paths['/items/{id}'].get as { operationId?: string };
    list.operationId = 'getItem';
    one.operationId = 'getItem';
    expect(openApiProblems(twice)).toEqual([
      "GET /items/count: operationId getItem is also GET /items/{id}'s",
    ]);
  });

  it('names a $ref to nothing and a schema that is not JSON Schema 2020-12', () => {
    const dangling = doc();
    dangling.paths['/items/{id}'].get.responses['404'] = { $ref: '#/components/responses/Gone' };
    expect(openApiProblems(dangling)).toEqual([
      '#/paths/~1items~1{id}/get/responses/404: $ref #/components/responses/Gone resolves to nothing',
    ]);
    const typo = doc();
    (typo.components.schemas.Item as Record<string, unknown>).requird = ['id'];
    expect(openApiProblems(typo).join()).toContain('unknown keyword: "requird"');
  });
});

describe('answerProblems', () => {
  const ok = { id: 'i-1', at: '2026-11-30T12:00:00Z' };

  it('passes an answer as documented, through a $ref and a shared response', () => {
    expect(
      answerProblems(doc(), {
        method: 'GET',
        path: '/items/i-1',
        status: 200,
        contentType: 'application/json; charset=utf-8',
        body: ok,
      }),
    ).toEqual([]);
    expect(
      answerProblems(doc(), {
        method: 'GET',
        path: '/items/i-2',
        status: 404,
        contentType: 'application/problem+json',
        body: { status: 404 },
      }),
    ).toEqual([]);
    // A literal segment is the better match than a parameter.
    expect(
      answerProblems(doc(), {
        method: 'GET',
        path: '/items/count',
        status: 200,
        contentType: 'application/json',
        body: 3,
      }),
    ).toEqual([]);
    expect(answerProblems(doc(), { method: 'HEAD', path: '/items/count', status: 200 })).toEqual([
      'HEAD /items/count → 200: /items/count documents no HEAD',
    ]);
  });

  it('names how an answer differs from the document', () => {
    const answer = (over: object) => ({
      method: 'GET',
      path: '/items/i-1',
      status: 200,
      contentType: 'application/json',
      body: ok,
      ...over,
    });
    expect(answerProblems(doc(), answer({ body: { ...ok, extra: 1 } })).join()).toContain(
      'must NOT have additional properties',
    );
    expect(answerProblems(doc(), answer({ body: { ...ok, at: 'yesterday' } })).join()).toContain(
      'must match format "date-time"',
    );
    expect(answerProblems(doc(), answer({ status: 500 }))).toEqual([
      'GET /items/i-1 → 500: GET /items/{id} documents no 500',
    ]);
    expect(answerProblems(doc(), answer({ contentType: 'text/html' }))).toEqual([
      'GET /items/i-1 → 200: answered text/html, documented application/json',
    ]);
    expect(answerProblems(doc(), answer({ path: '/things' }))).toEqual([
      'GET /things → 200: no documented path matches',
    ]);
  });
});

describe('answerProblems: headers', () => {
  const answer = (headers: Headers | Record<string, string>) => ({
    method: 'GET',
    path: '/items/i-1',
    status: 200,
    contentType: 'application/json',
    body: { id: 'i-1', at: '2026-11-30T12:00:00Z' },
    headers,
  });

  it('passes the documented headers, given as Headers or as a record, a $ref resolved and a number read from text', () => {
    expect(answerProblems(doc(), answer(new Headers({ etag: '"a1"', 'items-left': '3' })))).toEqual([]);
    expect(answerProblems(doc(), answer({ ETag: '"a1"', 'ITEMS-LEFT': '0' }))).toEqual([]);
    // Without `headers`, the answer's body alone is checked, as before.
    const { headers: _, ...bodyOnly } = answer({});
    expect(answerProblems(doc(), bodyOnly)).toEqual([]);
  });

  it('names a required header missing and a header not as its schema (inline or $ref) says', () => {
    expect(answerProblems(doc(), answer({ 'items-left': '3' }))).toEqual([
      'GET /items/i-1 → 200: no ETag header',
    ]);
    expect(answerProblems(doc(), answer({ etag: '"a1"' }))).toEqual([
      'GET /items/i-1 → 200: no Items-Left header',
    ]);
    expect(answerProblems(doc(), answer({ etag: 'W/"a1"', 'items-left': '3' })).join()).toContain(
      'ETag: W/"a1" not as documented: /value must match pattern',
    );
    expect(answerProblems(doc(), answer({ etag: '"a1"', 'items-left': '-1' })).join()).toContain(
      'Items-Left: -1 not as documented: /value must be >= 0',
    );
    expect(answerProblems(doc(), answer({ etag: '"a1"', 'items-left': 'many' })).join()).toContain(
      'Items-Left: many not as documented: /value must be integer',
    );
  });

  it('checks the headers of a shared response and of a HEAD answer; leaves Content-Type to the media types', () => {
    const problem = {
      method: 'GET',
      path: '/items/i-2',
      status: 404,
      contentType: 'application/problem+json',
    };
    expect(answerProblems(doc(), { ...problem, body: { status: 404 }, headers: {} })).toEqual([]);
    expect(
      answerProblems(doc(), { ...problem, body: { status: 404 }, headers: { 'retry-after': '0' } }).join(),
    ).toContain('Retry-After: 0 not as documented');
    const withHead = doc();
    const item: Record<string, unknown> = withHead.paths['/items/{id}'];
    item.head = item.get;
    expect(
      answerProblems(withHead, { method: 'HEAD', path: '/items/i-1', status: 200, headers: {} }),
    ).toEqual(['HEAD /items/i-1 → 200: no ETag header', 'HEAD /items/i-1 → 200: no Items-Left header']);
  });

  it('does not require what a hop in front adds, and checks it when it is there', () => {
    const options = { addedInFront: ['items-left'] };
    expect(answerProblems(doc(), answer({ etag: '"a1"' }), options)).toEqual([]);
    expect(answerProblems(doc(), answer({ etag: '"a1"', 'items-left': 'x' }), options).join()).toContain(
      'Items-Left: x not as documented',
    );
    expect(answerProblems(doc(), answer({ 'items-left': '1' }), options)).toEqual([
      'GET /items/i-1 → 200: no ETag header',
    ]);
  });
});

describe('templateOf, documentedOperations, routerOperations', () => {
  it('finds the template a path falls under: a literal segment first, a segment that is not percent-encoding as sent', () => {
    expect(templateOf(doc(), '/items/count')).toBe('/items/count');
    expect(templateOf(doc(), '/items/i-1?x=1')).toBe('/items/{id}');
    expect(templateOf(doc(), '/items/%E0')).toBe('/items/{id}');
    expect(templateOf(doc(), '/items/')).toBeUndefined();
    expect(templateOf(doc(), '/items/a/b')).toBeUndefined();
  });

  it('lists the operations a document declares, by name, and only its methods', () => {
    const withParameters = doc();
    const count: Record<string, unknown> = withParameters.paths['/items/count'];
    count.parameters = [];
    expect(documentedOperations(withParameters).map((o) => o.name)).toEqual([
      'GET /items/count',
      'GET /items/{id}',
    ]);
    expect(documentedOperations(doc())[1]).toMatchObject({ method: 'GET', template: '/items/{id}' });
  });

  it('lists what a router serves: `:id` as `{id}`, GET also as HEAD unless told, a prefix mapped, ALL for all', () => {
    const router = express.Router();
    const ok: express.RequestHandler = (_req, res) => {
      res.end();
    };
    router.get('/items/:id', ok);
    router.post('/items', express.json(), ok);
    router.use(ok);
    expect(routerOperations(router)).toEqual(['GET /items/{id}', 'HEAD /items/{id}', 'POST /items']);
    expect(routerOperations(router, { implicitHead: false })).toEqual(['GET /items/{id}', 'POST /items']);
    expect(
      routerOperations(router, {
        implicitHead: false,
        documentedPath: (p) => p.replace(/^\/items/, '/things'),
      }),
    ).toEqual(['GET /things/{id}', 'POST /things']);
    router.all('/anything', ok);
    expect(routerOperations(router, { implicitHead: false })).toContain('ALL /anything');
  });
});

describe('answerOf, answerRecorder, schemaCheck', () => {
  it('reads an answer: JSON parsed, other text kept, an empty body undefined, the query left out of the path', async () => {
    const json = await answerOf(
      'GET',
      '/items/i-1?x=1',
      new Response('{"id":"i-1"}', { status: 200, headers: { 'content-type': 'application/problem+json' } }),
    );
    expect(json).toMatchObject({ method: 'GET', path: '/items/i-1', status: 200, body: { id: 'i-1' } });
    expect(json.headers.get('content-type')).toBe('application/problem+json');
    const html = await answerOf(
      'GET',
      '/',
      new Response('<p>', { headers: { 'content-type': 'text/html' } }),
    );
    expect(html.body).toBe('<p>');
    expect(
      (await answerOf('DELETE', '/items/i-1', new Response(null, { status: 204 }))).body,
    ).toBeUndefined();
  });

  it('checks each answer and names the documented responses never answered, of those asked about', () => {
    const recorder = answerRecorder(doc());
    const item = { id: 'i-1', at: '2026-11-30T12:00:00Z' };
    expect(recorder.unanswered()).toEqual([
      'GET /items/count 200',
      'GET /items/{id} 200',
      'GET /items/{id} 404',
    ]);
    expect(
      recorder.check({
        method: 'GET',
        path: '/items/i-1',
        status: 200,
        contentType: 'application/json',
        body: item,
      }),
    ).toEqual([]);
    // A wrong answer is named, and still counts as answered: the test fails on the problem, not on coverage.
    expect(
      recorder.check({
        method: 'GET',
        path: '/items/i-2',
        status: 404,
        contentType: 'text/plain',
        body: 'x',
      }),
    ).toEqual(['GET /items/i-2 → 404: answered text/plain, documented application/problem+json']);
    expect(recorder.check({ method: 'GET', path: '/nowhere', status: 200 })).toEqual([
      'GET /nowhere → 200: no documented path matches',
    ]);
    expect(recorder.unanswered()).toEqual(['GET /items/count 200']);
    expect(recorder.unanswered((r) => r.template !== '/items/count')).toEqual([]);
  });

  it("passes the recorder's options on: headers a hop in front adds", () => {
    const recorder = answerRecorder(doc(), { addedInFront: ['Items-Left'] });
    const item = { id: 'i-1', at: '2026-11-30T12:00:00Z' };
    const answer = {
      method: 'GET',
      path: '/items/i-1',
      status: 200,
      contentType: 'application/json',
      body: item,
    };
    expect(recorder.check({ ...answer, headers: { etag: '"1"' } })).toEqual([]);
    expect(recorder.check({ ...answer, headers: {} })).toEqual(['GET /items/i-1 → 200: no ETag header']);
  });

  it('checks a value against a schema of the document', () => {
    const isItem = schemaCheck(doc(), '#/components/schemas/Item');
    expect(isItem({ id: 'i-1', at: '2026-11-30T12:00:00Z' })).toBe(true);
    expect(isItem({ id: 'i-1' })).toBe(false);
    expect(isItem({ id: 'i-1', at: 'noon' })).toBe(false);
  });
});

describe('SwitchableStore', () => {
  it('answers while up, fails every call as an outage or as a bug while told, and comes back up after', async () => {
    const store = new SwitchableStore();
    const things = store.collection<{ _id: string }>('things');
    await things.insertOne({ _id: 'a' });
    await store.failing('unavailable', async () => {
      await expect(things.findOne({ _id: 'a' })).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.collection('others').countDocuments({})).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    });
    await store.failing('broken', async () => {
      const bug = await things.findOne({ _id: 'a' }).catch((err: unknown) => err);
      expect(bug).toBeInstanceOf(Error);
      expect(bug).not.toBeInstanceOf(StoreUnavailableError);
    });
    await expect(
      store.failing('broken', async () => {
        throw new Error('the test itself failed');
      }),
    ).rejects.toThrow('the test itself failed');
    expect(store.state).toBe('up');
    expect(await things.findOne({ _id: 'a' })).toEqual({ _id: 'a' });
    await store.ping();
  });
});

describe('routeProblems, answerRecorder.send, expectServedDocument, expectStoreFailuresAnswered', () => {
  /** The items API of `doc()`, served: GET /items/count, GET /items/:id (404 for `i-2`), the document itself. */
  const itemsRouter = (): express.Router => {
    const router = express.Router();
    router.get('/items/count', (_req, res) => {
      res.json(3);
    });
    router.get('/items/openapi.json', (_req, res) => {
      res.json(doc());
    });
    router.get('/items/:id', (req, res) => {
      res.setHeader('etag', '"a1"').setHeader('items-left', '2');
      if (req.params.id === 'i-2') res.status(404).type('application/problem+json').send({ status: 404 });
      else
        res.json({ id: req.params.id, at: '2026-11-30T12:00:00Z', ...(req.query.extra ? { extra: 1 } : {}) });
    });
    return router;
  };

  it('names the routes a router serves that a document does not declare, and the other way round', () => {
    const router = itemsRouter();
    const undocumented = ['GET /items/openapi.json'];
    expect(routeProblems(router, doc(), { implicitHead: false, undocumented })).toEqual([]);
    expect(routeProblems(router, doc(), { implicitHead: false })).toEqual([
      'GET /items/openapi.json: served, not documented',
    ]);
    expect(routeProblems(router, doc(), { undocumented })).toEqual([
      'HEAD /items/count: served, not documented',
      'HEAD /items/openapi.json: served, not documented',
      'HEAD /items/{id}: served, not documented',
    ]);
    router.post('/items', (_req, res) => {
      res.end();
    });
    const less = doc() as { paths: Record<string, unknown> };
    delete less.paths['/items/count'];
    expect(routeProblems(router, less, { implicitHead: false, undocumented })).toEqual([
      'GET /items/count: served, not documented',
      'POST /items: served, not documented',
    ]);
    expect(routeProblems(express.Router(), doc())).toEqual([
      'GET /items/count: documented, not served',
      'GET /items/{id}: documented, not served',
    ]);
  });

  it('sends a request, checks and counts its answer, and fails the test on a problem', async () => {
    // The API at / and, as a gateway would rewrite it, at /v1.
    const served = await serveRoutes(
      (router) => router.use(itemsRouter()).use('/v1', itemsRouter()),
      {} as never,
    );
    try {
      const recorder = answerRecorder(doc(), { documentedPath: (p) => p.replace(/^\/v1/, '') });
      const item = await recorder.send(served.base, 'GET', '/items/i-1');
      expect(item).toMatchObject({ status: 200, path: '/items/i-1', body: { id: 'i-1' } });
      expect((await recorder.send(served.base, 'GET', '/v1/items/i-2')).status).toBe(404);
      expect(recorder.unanswered()).toEqual(['GET /items/count 200']);
      await expect(recorder.send(served.base, 'GET', '/items/i-1?extra=1')).rejects.toThrow(
        'must NOT have additional properties',
      );
      await expect(recorder.send(served.base, 'POST', '/items/count', { json: { n: 1 } })).rejects.toThrow(
        '/items/count documents no POST',
      );
    } finally {
      await served.close();
    }
  });

  it('sends a JSON body, a body as it is, its content type and headers', async () => {
    const seen: Record<string, unknown>[] = [];
    const served = await serveRoutes(
      (router) =>
        router.post('/echo', express.text({ type: '*/*' }), (req, res) => {
          seen.push({ type: req.headers['content-type'], key: req.headers['x-key'], body: req.body });
          res.status(204).end();
        }),
      {} as never,
    );
    try {
      const echo = {
        openapi: '3.1.0',
        info: { title: 'echo', version: '1' },
        paths: { '/echo': { post: { responses: { '204': { description: 'Seen' } } } } },
      };
      const recorder = answerRecorder(echo);
      await recorder.send(served.base, 'POST', '/echo', { json: { a: 1 }, headers: { 'x-key': 'k' } });
      await recorder.send(served.base, 'POST', '/echo', { body: 'a=1', contentType: 'text/plain' });
      await recorder.send(served.base, 'POST', '/echo', { body: '{"a":' });
      expect(seen).toEqual([
        { type: 'application/json', key: 'k', body: '{"a":1}' },
        { type: 'text/plain', body: 'a=1' },
        { type: 'application/json', body: '{"a":' },
      ]);
    } finally {
      await served.close();
    }
  });

  it('expects a served document to be the one written, and valid', async () => {
    const answer = (body: unknown) => ({
      method: 'GET',
      path: '/items/openapi.json',
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body,
      headers: new Headers(),
      text: JSON.stringify(body),
    });
    expectServedDocument(answer(doc()), doc());
    expect(() => expectServedDocument(answer({ ...doc(), openapi: '3.0.3' }), doc())).toThrow();
    const invalid = { ...doc(), openapi: '3.0.3' };
    expect(() => expectServedDocument(answer(invalid), invalid)).toThrow();
    expect(() => expectServedDocument({ ...answer(doc()), status: 404 }, doc())).toThrow();
    expect(() => expectServedDocument({ ...answer(doc()), contentType: 'text/plain' }, doc())).toThrow();
  });

  it('expects every request answered 503 + Retry-After while the store is down, 500 while it is broken', async () => {
    const store = new SwitchableStore();
    const things = store.collection('things');
    const asTheRuntime = async () => {
      try {
        await things.countDocuments({});
        return { status: 200, headers: new Headers() };
      } catch (err) {
        return err instanceof StoreUnavailableError
          ? { status: 503, headers: new Headers({ 'retry-after': '1' }) }
          : { status: 500, headers: new Headers() };
      }
    };
    const states: string[] = [];
    await expectStoreFailuresAnswered(store, {
      'GET /things': (state) => {
        states.push(state);
        return asTheRuntime();
      },
    });
    expect(states).toEqual(['unavailable', 'broken']);
    expect(store.state).toBe('up');
    await expect(
      expectStoreFailuresAnswered(store, {
        'GET /things': async () => ({ ...(await asTheRuntime()), headers: new Headers() }),
      }),
    ).rejects.toThrow('GET /things');
    await expect(
      expectStoreFailuresAnswered(store, {
        'GET /things': async () => ({ status: 200, headers: new Headers() }),
      }),
    ).rejects.toThrow('while the store is unavailable');
    expect(store.state).toBe('up');
  });
});
