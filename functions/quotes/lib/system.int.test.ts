/**
 * The quotes system on real parts: users, quotes and search started as their containers would
 * (`node functions/runtime/src/main.ts`) on FerretDB, quote events through a broker on RabbitMQ with the
 * search function's Trigger (filter on the quotes source). Covers: the admin key and API keys (hashed,
 * never logged), quotes published as events, search built from them (all terms, accents both ways), and
 * the index dropped and rebuilt by replaying the events (lib/reindex.ts, `make quotes-reindex`). Every answer read is
 * checked against the OpenAPI 3.1 document its function serves (<function>/openapi.ts, around lib/openapi.ts: the part
 * the three share has one source; each function's handler test checks its document in full).
 */
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningBroker, startBroker } from '../../../eventing/src/index.ts';
import { contractManifests, quietLog } from '../../../eventing/src/testing/manifests.ts';
import { startTestSink, type TestSink } from '../../../eventing/src/testing/test-sink.ts';
import { freePorts } from '../../../platform/test-servers/ports.ts';
import { type DocumentStore, loadSchemas, MongoDocumentStore } from '../../runtime/src/index.ts';
import { answerOf, answerProblems, openApiProblems, type ReadAnswer } from '../../runtime/test/openapi.ts';
import { type SpawnedFunction, spawnFunction, waitFor } from '../../runtime/test/support.ts';
import { brokerPublisher } from './publisher.ts';
import { Collections } from './quotes.ts';
import { reindex } from './reindex.ts';
import { FROM_THE_FUNCTION } from './test-support.ts';

const ADMIN_KEY = `admin-${'k'.repeat(40)}`;
const PASSWORD = 'correct horse battery staple';
const DB = `quotes_it_${process.pid}_${Date.now().toString(36)}`;

type Service = 'users' | 'quotes' | 'search';

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe('quotes, users and search on FerretDB and RabbitMQ', () => {
  let users: SpawnedFunction;
  let quotes: SpawnedFunction;
  let search: SpawnedFunction;
  let broker: RunningBroker;
  let sink: TestSink;
  let store: DocumentStore;
  let apiKey: string;
  const ids: Record<string, string> = {};
  /** What each function serves at /<service>/openapi.json (read without a key, as the gateway lets anyone). */
  const documents = new Map<Service, unknown>();

  /** A request to a function; its answer is checked against the document that function serves. */
  const call = async (service: Service, path: string, init: RequestInit = {}): Promise<ReadAnswer> => {
    const url = { users, quotes, search }[service].url;
    const answer = await answerOf(init.method ?? 'GET', path, await fetch(`${url}${path}`, init));
    expect(answerProblems(documents.get(service), answer, FROM_THE_FUNCTION)).toEqual([]);
    return answer;
  };

  const find = async (q: string): Promise<{ total: number; results: { id: string; score: number }[] }> =>
    (await call('search', `/search?q=${encodeURIComponent(q)}`)).body as {
      total: number;
      results: { id: string; score: number }[];
    };

  beforeAll(async () => {
    const mongodbUrl = inject('mongodbUrl');
    const base = { MONGODB_URL: mongodbUrl, MONGODB_DB: DB, LOG_LEVEL: 'info' };
    sink = await startTestSink();
    // The three ports taken together. The broker (which listens on 0 itself) resolves search's URL when
    // it starts and quotes needs the broker's, so search and users start first and quotes after the broker.
    const [searchPort, usersPort, quotesPort] = await freePorts(3);
    search = spawnFunction(join(import.meta.dirname, '../search'), searchPort, {
      ...base,
      K_SERVICE: 'search',
    });
    users = spawnFunction(join(import.meta.dirname, '../users'), usersPort, {
      ...base,
      K_SERVICE: 'users',
      QUOTES_ADMIN_KEY: ADMIN_KEY,
    });
    broker = await startBroker({
      manifests: contractManifests([
        { name: 'search', filter: { source: '/sluice/functions/quotes' }, parallelism: 4 },
      ]),
      resolveSubscriber: (ref) => (ref.name === 'search' ? `${search.url}/` : sink.url),
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: inject('rabbitmqUrl'),
      instance: `quotes-${process.pid}-${Date.now().toString(36)}`,
      log: quietLog,
    });
    quotes = spawnFunction(join(import.meta.dirname, '../quotes'), quotesPort, {
      ...base,
      K_SERVICE: 'quotes',
      BROKER_URL: broker.url,
    });
    for (const f of [users, quotes, search]) {
      await waitFor(
        'a function to be ready',
        async () => (await fetch(`${f.url}/health/readiness`)).status === 200,
        30_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${f.output()}`);
      });
    }
    for (const service of ['users', 'quotes', 'search'] as const) {
      const served = await fetch(`${{ users, quotes, search }[service].url}/${service}/openapi.json`);
      expect(served.status).toBe(200);
      documents.set(service, await served.json());
    }
    store = await MongoDocumentStore.connect(mongodbUrl, DB);
  }, 60_000);

  afterAll(async () => {
    for (const f of [users, quotes, search]) {
      if (f?.child.exitCode === null) {
        f.child.kill('SIGTERM');
        await f.exited;
      }
    }
    await broker?.destroy();
    await sink?.close();
    await store?.close();
  });

  describe('OpenAPI 3.1', () => {
    it('each function serves a valid document', () => {
      expect([...documents.keys()]).toEqual(['users', 'quotes', 'search']);
      for (const [service, doc] of documents) expect(openApiProblems(doc), service).toEqual([]);
    });
  });

  describe('users', () => {
    it('creates a user only with the admin key, and shows its API key once', async () => {
      const body = { id: 'ada', name: 'Ada Lovelace', password: PASSWORD };
      expect((await call('users', '/users', json(body))).status).toBe(401);
      expect((await call('users', '/users', json(body, { authorization: 'not-the-key' }))).status).toBe(403);
      const res = await call('users', '/users', json(body, { authorization: `Bearer ${ADMIN_KEY}` }));
      expect(res.status).toBe(201);
      const created = res.body as { id: string; apiKey: string; password?: string };
      expect(created).toMatchObject({ id: 'ada', name: 'Ada Lovelace' });
      expect(created.password).toBeUndefined();
      apiKey = created.apiKey;
      expect(apiKey).toMatch(/^qk_ada_/);
      expect((await call('users', '/users', json(body, { authorization: ADMIN_KEY }))).status).toBe(409);
      const listed = (await call('users', '/users')).body;
      expect(listed).toEqual({ users: [expect.objectContaining({ id: 'ada' })], next: null });
      expect(JSON.stringify(listed)).not.toContain('Hash');
    });

    it('stores the password and the key as scrypt hashes only', async () => {
      const doc = await store.collection(Collections.users).findOne({ _id: 'ada' });
      expect(doc?.passwordHash).toMatch(/^\$scrypt\$ln=15,/);
      expect(doc?.keyHash).toMatch(/^\$scrypt\$ln=12,/);
      expect(JSON.stringify(doc)).not.toContain(PASSWORD);
      expect(JSON.stringify(doc)).not.toContain(apiKey.slice('qk_ada_'.length));
    });

    it('verifies keys for the gateway: the user key, the admin key, nothing else', async () => {
      const verify = (key: string) => call('users', '/keys/verify', json({ key }));
      expect((await verify(apiKey)).body).toEqual({ principal: 'ada', role: 'user' });
      expect((await verify(ADMIN_KEY)).body).toEqual({ principal: 'admin', role: 'admin' });
      expect((await verify(`${apiKey.slice(0, -2)}xx`)).status).toBe(401);
      expect((await verify('qk_bob_nope')).status).toBe(401);
    });

    it('never writes a password or a key to its log', () => {
      const log = users.output();
      expect(log).toContain('user ada created');
      for (const secret of [PASSWORD, apiKey, ADMIN_KEY]) expect(log).not.toContain(secret);
    });
  });

  describe('quotes → events → search', () => {
    it('publishes every change and the search function indexes it from the broker', async () => {
      const add = async (text: string, author: string): Promise<string> => {
        const res = await call('quotes', '/quotes', json({ text, author }, { 'x-sluice-principal': 'ada' }));
        expect(res.status).toBe(201);
        return (res.body as { id: string }).id;
      };
      ids.heart = await add(
        "On ne voit bien qu'avec le cœur. L'essentiel est invisible pour les yeux.",
        'Antoine de Saint-Exupéry',
      );
      ids.pascal = await add('Le coeur a ses raisons que la raison ne connaît point.', 'Blaise Pascal');
      ids.wilde = await add('Be yourself; everyone else is already taken.', 'Oscar Wilde');
      const del = await call('quotes', `/quotes/${ids.wilde}`, { method: 'DELETE' });
      expect(del.status).toBe(204);
      expect((await call('quotes', `/quotes/${ids.wilde}`)).status).toBe(404);
      // Each quote's postings are written one by one: wait for the last term of each.
      await waitFor('the index to hold both hearts, whole, and no Wilde', async () => {
        const [hearts, eyes, reason, wilde] = await Promise.all([
          find('coeur'),
          find('yeux exupery'),
          find('point pascal'),
          find('wilde'),
        ]);
        // …and Wilde's document gone too (a creation racing its deletion removes itself last).
        const indexed = await store.collection(Collections.documents).countDocuments({});
        return (
          hearts.total === 2 && eyes.total === 1 && reason.total === 1 && wilde.total === 0 && indexed === 2
        );
      });
    });

    it('indexes the outbox flags the relay reads every 10 s, and leaves nothing unpublished behind', async () => {
      const client = new MongoClient(inject('mongodbUrl'));
      try {
        const db = client.db(DB);
        const names = async (collection: string): Promise<string[]> =>
          (await db.collection(collection).indexes()).map((i) => String(i.name));
        expect(await names(Collections.quotes)).toContain('published');
        expect(await names(Collections.tombstones)).toContain('deletePublished');
        expect(await db.collection(Collections.quotes).countDocuments({ published: false })).toBe(0);
        expect(await db.collection(Collections.tombstones).countDocuments({ deletePublished: false })).toBe(
          0,
        );
      } finally {
        await client.close();
      }
    });

    it('matches every term, accents and case ignored, both ways', async () => {
      expect((await find('CŒUR raisons')).results.map((r) => r.id)).toEqual([ids.pascal]);
      expect((await find('connait')).results.map((r) => r.id)).toEqual([ids.pascal]);
      expect((await find('exupery essentiel')).results.map((r) => r.id)).toEqual([ids.heart]);
      expect((await find('coeur wilde')).total).toBe(0);
      const bad = await call('search', '/search?q=%20');
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toContain('application/problem+json');
    });

    it('rebuilds the same index from the replayed events after it was dropped', async () => {
      const before = await Promise.all(['coeur', 'raisons', 'yeux', 'wilde'].map(find));
      const publisher = brokerPublisher({
        brokerUrl: broker.url,
        schemas: await loadSchemas(join(import.meta.dirname, '../quotes/schemas')),
      });
      const { published } = await reindex(store, store, publisher);
      expect(published).toBe(4); // three created, one deleted
      let after: unknown;
      await waitFor('the rebuilt index', async () => {
        after = await Promise.all(['coeur', 'raisons', 'yeux', 'wilde'].map(find));
        return JSON.stringify(after) === JSON.stringify(before);
      }).catch((err: unknown) => {
        throw new Error(`${String(err)}\nbefore ${JSON.stringify(before)}\nafter  ${JSON.stringify(after)}`);
      });
      expect(before[0]?.total).toBe(2);
    });
  });
});
