/**
 * users' routes on an in-memory store, every answer checked against the OpenAPI document the function serves
 * (openapi.ts), so the document cannot drift from the handler: the document is valid OpenAPI 3.1, names every route
 * the router has, describes every answer a test reads, and each status it says the function answers is answered
 * here at least once (the gateway's own 401/403/429/502/504 are documented, not answered here; the gateway test in
 * platform/local checks those). The new-user limits are sent at their boundaries: the handler and the documented
 * request schema must agree on each body. The full system on FerretDB and RabbitMQ: lib/system.int.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonLogger } from '../../runtime/src/index.ts';
import { answerRecorder, type ReadAnswer, type Sent, schemaCheck } from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { expectStoreFailuresAnswered, SwitchableStore } from '../../runtime/test/switchable-store.ts';
import { ADMIN_KEY_ENV } from '../lib/roles.ts';
import { describeDocumentChecks, FROM_THE_FUNCTION } from '../lib/test-support.ts';
import { init, routes } from './handler.ts';
import { MAX_NAME, MAX_PASSWORD, MIN_PASSWORD, openApiDocument } from './openapi.ts';

const ADMIN_KEY = `admin-${'k'.repeat(40)}`;
const PASSWORD = 'correct horse battery';

type JsonObject = Record<string, unknown>;
const doc = openApiDocument();
/** Every answer a test reads, checked against the document (body, status, headers) and counted. */
const answers = answerRecorder(doc, FROM_THE_FUNCTION);

let served: RoutesServer;
const store = new SwitchableStore();

beforeAll(async () => {
  process.env[ADMIN_KEY_ENV] = ADMIN_KEY;
  const log = new JsonLogger({ serviceName: 'users', sink: { write: () => true } });
  await init?.({ store, log, functionName: 'users' });
  served = await serveRoutes(routes, { store, log, functionName: 'users' });
});

afterAll(async () => {
  delete process.env[ADMIN_KEY_ENV];
  await served.close();
});

/** One request; its answer is checked against the document before the test reads it. */
const call = (method: string, path: string, sent?: Sent): Promise<ReadAnswer> =>
  answers.send(served.base, method, path, sent);

const admin = `Bearer ${ADMIN_KEY}`;

/** Whether the documented request schema takes `body`. */
const documentedNewUser = schemaCheck(doc, '#/components/schemas/NewUser');

describe('users: POST /users', () => {
  const ada = { id: 'ada', name: 'Ada Lovelace', password: PASSWORD };

  it('needs the admin key: 401 without a key, 403 with another', async () => {
    const none = await call('POST', '/users', { json: ada });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
    expect(
      (await call('POST', '/users', { json: ada, headers: { authorization: 'not-the-key' } })).status,
    ).toBe(403);
  });

  it('creates a user and shows its key once; 409 for the same id', async () => {
    const created = await call('POST', '/users', { json: ada, headers: { authorization: admin } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/users/ada');
    expect(created.body).toMatchObject({ id: 'ada', name: 'Ada Lovelace' });
    expect((await call('POST', '/users', { json: ada, headers: { authorization: ADMIN_KEY } })).status).toBe(
      409,
    );
  });

  it('refuses what is not a JSON body: 415, 400, 413', async () => {
    const asText = {
      body: JSON.stringify(ada),
      contentType: 'text/plain',
      headers: { authorization: admin },
    };
    expect((await call('POST', '/users', asText)).status).toBe(415);
    expect((await call('POST', '/users', { body: '{"id":', headers: { authorization: admin } })).status).toBe(
      400,
    );
    const huge = { ...ada, name: 'x'.repeat(17 * 1024) };
    expect((await call('POST', '/users', { json: huge, headers: { authorization: admin } })).status).toBe(
      413,
    );
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
      const { status } = await call('POST', '/users', { json: body, headers: { authorization: admin } });
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
      json: { id: 'bob', name: 'Bob', password: PASSWORD },
      headers: { authorization: admin },
    });
    const { apiKey } = bob.body as { apiKey: string };
    expect((await call('POST', '/keys/verify', { json: { key: apiKey } })).body).toEqual({
      principal: 'bob',
      role: 'user',
    });
    expect((await call('POST', '/keys/verify', { json: { key: ADMIN_KEY } })).body).toEqual({
      principal: 'admin',
      role: 'admin',
    });
    expect((await call('POST', '/keys/verify', { json: { key: `${apiKey.slice(0, -2)}xx` } })).status).toBe(
      401,
    );
    expect((await call('POST', '/keys/verify', { json: { key: 'qk_nobody_x' } })).status).toBe(401);
  });

  it('refuses a body without a key: 400, 413', async () => {
    expect((await call('POST', '/keys/verify', { json: {} })).status).toBe(400);
    expect((await call('POST', '/keys/verify', { body: 'key' })).status).toBe(400);
    expect((await call('POST', '/keys/verify', { json: { key: 'k'.repeat(17 * 1024) } })).status).toBe(413);
  });
});

describe('users: its store failing', () => {
  it('answers 503 + Retry-After while the store is unavailable, 500 on anything else', async () => {
    await expectStoreFailuresAnswered(store, {
      'POST /users': () =>
        call('POST', '/users', {
          json: { id: 'carol', name: 'Carol', password: PASSWORD },
          headers: { authorization: admin },
        }),
      'GET /users': () => call('GET', '/users'),
      'GET /users/ada': () => call('GET', '/users/ada'),
      'POST /keys/verify': () => call('POST', '/keys/verify', { json: { key: `qk_ada_${'x'.repeat(43)}` } }),
    });
  });
});

describeDocumentChecks('users', {
  doc,
  answers,
  call,
  router: () => served.router,
  unrouted: ['/keys/verify'],
});
