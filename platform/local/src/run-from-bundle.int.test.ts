/**
 * `make dev` as it runs: every revision from its image's bundle (revision-bundles.ts, `node main.mjs` as the
 * container's entry point), with the repository's manifests and route table, Redis behind the gateway's rate
 * limit. One request per system through the gateway only, so each function the request reaches starts from the
 * bundle its image is built from: a bundle that cannot start (a CommonJS package loaded the source's way, a file
 * read from the source tree) fails here before it fails on a cluster.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerOf, answerProblems, openApiProblems } from '../../../functions/runtime/test/openapi.ts';
import { freePort } from '../../test-servers/ports.ts';
import { type DevPlatform, startDevPlatform } from './platform.ts';
import { helloGreetings, until } from './testing/http-events.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const REVISIONS = `.tmp/test-bundled-revisions-${process.pid}`;

describe('make dev runs each revision from its bundle: every system answers through the gateway', () => {
  let platform: DevPlatform;
  let dir: string;
  let gateway: string;
  const log = new RecordingLogger();

  /** The first request to a function waits for its bundle and start: a 504 from the route's timeout is retried. */
  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
    until(
      `GET ${path}`,
      async () => {
        const r = await fetch(`${gateway}${path}`, { headers });
        return r.status === 504 || r.status === 503 ? undefined : r;
      },
      120_000,
    );
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${gateway}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-bundled-dev-'));
    platform = await startDevPlatform({
      root: ROOT,
      log,
      out: { write: () => true },
      runFrom: 'bundle',
      // Snapshots as make dev takes them: each bundle is built from a revision's copy, not the working tree.
      revisionsDir: REVISIONS,
      env: {
        PATH: process.env.PATH,
        BROKER_PORT: '0',
        GATEWAY_PORT: String(await freePort()),
        SLUICE_SCALE_TO_ZERO_AFTER: '120s',
        SLUICE_PROMETHEUS_TARGETS: join(dir, 'targets.json'),
        REDIS_URL,
      },
    });
    gateway = platform.gateway?.url ?? '';
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(join(ROOT, REVISIONS), { recursive: true, force: true });
  });

  it('starts instances as `node main.mjs` from a bundle built per revision, never from the TypeScript', async () => {
    expect(platform.runFrom).toBe('bundle');
    expect((await get('/api/accounts?limit=1')).status).toBe(200);
    // The instances are this process's children that carry K_SERVICE (a bundle build does not).
    const instances: string[][] = [];
    for (const pid of await readdir('/proc')) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (!status.includes(`\nPPid:\t${process.pid}\n`)) continue;
      const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      if (env.split('\0').some((v) => v.startsWith('K_SERVICE=')))
        instances.push((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0'));
    }
    expect(instances.length).toBeGreaterThanOrEqual(2); // the gateway, accounts-api, the dead-letter sink
    for (const argv of instances) {
      expect(argv.some((a) => a.endsWith('/main.mjs'))).toBe(true);
      expect(argv.some((a) => a.endsWith('.ts'))).toBe(false);
    }
    expect(log.actions('revision-bundled').length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('banking, orders, fleet, streams: each read API answers from its bundle', async () => {
    expect(await (await get('/api/accounts?limit=1')).json()).toEqual({ accounts: [], next: null });
    const order = await get('/api/billing/3f0c9a52-8d1e-5b7a-9c4d-2e6f1a8b0c3d');
    expect(order.status).toBe(404);
    expect(order.headers.get('content-type')).toContain('application/problem+json');
    expect((await get('/api/movies')).status).toBe(200);
    expect((await get('/api/vehicles')).status).toBe(200);
    expect((await get('/api/streams/sensors')).status).toBe(200);
    const page = await get('/fleet/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
  }, 300_000);

  it('an event through the broker: POST /api/hello is greeted by hello, started from its bundle', async () => {
    const name = `Bundled-${Date.now()}`;
    const res = await until(
      'the hello publish route',
      async () => {
        const r = await post('/api/hello', { name, language: 'en' });
        return r.status === 202 ? r : undefined;
      },
      60_000,
    );
    expect(res.status).toBe(202);
    const greeted = helloGreetings(platform);
    const count = await until('hello to count the greeting', () => greeted(name), 120_000);
    expect(count).toBe(1);
    // make update: the next revision gets a bundle of its own, built when it first starts.
    const { revision } = await (platform.revisions as NonNullable<DevPlatform['revisions']>).update('hello');
    expect(revision.name).toBe('hello-00002');
    await post('/api/hello', { name, language: 'en' });
    await until('hello-00002 to greet', async () => (await greeted(name)) === 2 || undefined, 120_000);
    expect(log.actions('revision-bundled').map((r) => r.fields['faas.version'])).toContain('hello-00002');
  }, 180_000);

  it('quotes: a user, a quote and its search hit through the gateway, its rate limit kept in Redis', async () => {
    // Each service's OpenAPI document, read without a key (its own route: no auth, no rate limit). Every answer below
    // is checked against the document of the service it came from, the gateway's own 401/403/429 included, its
    // documented headers too (the rate-limit fields above all).
    const documents = new Map<string, unknown>();
    for (const service of ['users', 'quotes', 'search']) {
      const res = await get(`/${service}/openapi.json`);
      expect(res.status, service).toBe(200);
      expect(res.headers.get('ratelimit-policy'), service).toBeNull();
      const doc: unknown = await res.json();
      expect(openApiProblems(doc), service).toEqual([]);
      documents.set(`/${service}`, doc);
    }
    const checked = async (res: Response, method: string, pathAndQuery: string): Promise<Response> => {
      const answer = await answerOf(method, pathAndQuery, res.clone());
      const doc = documents.get(`/${answer.path.split('/')[1]}`);
      const what = `${method} ${pathAndQuery} → ${res.status} ${answer.text.slice(0, 200)}`;
      expect(answerProblems(doc, answer), what).toEqual([]);
      return res;
    };
    const call = async (method: string, path: string, key?: string, body?: unknown): Promise<Response> =>
      checked(
        await fetch(`${gateway}${path}`, {
          method,
          headers: {
            ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
        method,
        path,
      );

    expect((await call('GET', '/quotes')).status).toBe(401);
    expect((await call('GET', '/search?q=x', `qk_nobody_${'x'.repeat(43)}`)).status).toBe(401);
    const adminFile = platform.secretFiles?.get('quotes-admin-key/admin-key');
    expect(adminFile).toBeDefined();
    const admin = (await readFile(adminFile as string, 'utf8')).trim();
    const id = `b${Date.now().toString(36)}`;
    const created = await until(
      'users behind the gateway',
      async () => {
        const r = await post(
          '/users',
          { id, name: 'Bundled Ada', password: 'correct horse battery' },
          { authorization: `Bearer ${admin}` },
        );
        return r.status === 504 || r.status === 503 ? undefined : r;
      },
      120_000,
    );
    await checked(created, 'POST', '/users');
    expect(created.status, await created.clone().text()).toBe(201);
    expect(created.headers.get('ratelimit-policy')).toMatch(/^"quotes";/);
    const { apiKey } = (await created.json()) as { apiKey: string };
    const forbidden = await call('POST', '/users', apiKey, {
      id: `${id}-2`,
      name: 'Not Ada',
      password: 'password',
    });
    expect(forbidden.status).toBe(403);
    const quote = await until(
      'quotes behind the gateway',
      async () => {
        const r = await post(
          '/quotes',
          { text: 'Bundles start in a tenth of a second', author: id },
          { authorization: `Bearer ${apiKey}` },
        );
        return r.status === 504 || r.status === 503 ? undefined : r;
      },
      120_000,
    );
    await checked(quote, 'POST', '/quotes');
    expect(quote.status, await quote.clone().text()).toBe(201);
    const search = `/search?q=${encodeURIComponent('tenth second')}`;
    const found = await until(
      'search to index the quote',
      async () => {
        const r = await call('GET', search, apiKey);
        if (r.status !== 200) return undefined;
        const body = (await r.json()) as { total: number };
        return body.total > 0 ? body : undefined;
      },
      120_000,
    );
    expect(found.total).toBe(1);
    // The user's bucket is in Redis: the gateway's bundle loaded ioredis (a CommonJS package) and used it. Looked
    // for right after a request that took a token from it (a bucket's key expires once it would be full again,
    // 6 s per token at 10/min: the quote's POST, which waited for a cold start, can be further back than that).
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      await until('the bucket of the key in Redis', async () => {
        await call('GET', '/search?q=bundles', apiKey);
        return (await redis.exists(`sluice:ratelimit:quotes:${id}`)) === 1 ? true : undefined;
      });
    } finally {
      redis.disconnect();
    }
    expect((await call('GET', '/quotes/00000000-0000-4000-8000-000000000000', admin)).status).toBe(404);
    // The admin key's bucket emptied: 429 with Retry-After and the quota (checked against the document by `call`).
    const limited = await until('a 429 for the admin key', async () => {
      const r = await call('GET', '/users?limit=1', admin);
      return r.status === 429 ? r : undefined;
    });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The documents stay readable while the key is limited.
    expect((await call('GET', '/quotes/openapi.json')).status).toBe(200);
  }, 300_000);
});
