/**
 * The api-key and token-bucket hooks without the network: the verifier is a stubbed fetch, time is
 * injected. Redis and several gateway instances: hooks.int.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GatewayRoute, Logger } from '../../../runtime/src/index.ts';
import type { HookContext, HookRequest } from '../hook.ts';
import { apiKey, presentedKey } from './api-key.ts';
import { memoryBucketStore, refillAndTake } from './bucket-store.ts';
import { tokenBucket } from './token-bucket.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const route = { prefix: '/quotes', file: 'quotes.yaml' } as unknown as GatewayRoute;

function context(overrides: Partial<HookContext> = {}): HookContext {
  return {
    log: quiet,
    env: {},
    route,
    shared: new Map(),
    now: () => 0,
    upstream: (s) => (s === 'users' ? 'http://users.test' : undefined),
    ...overrides,
  };
}

const request = (method: string, authorization?: string): HookRequest =>
  ({
    method,
    path: '/quotes',
    headers: authorization === undefined ? {} : { authorization },
    clientAddress: '127.0.0.1',
    requestId: 'r',
    route,
  }) as HookRequest;

describe('token bucket', () => {
  describe('refillAndTake', () => {
    const spec = { capacity: 10, periodMs: 60_000 };

    it('lets a burst of `capacity` through, then one request per period/capacity', () => {
      let state: { tokens: number; ts: number } | undefined;
      const allowed: boolean[] = [];
      for (let i = 0; i < 11; i++) {
        const r = refillAndTake(state, 0, spec);
        state = r;
        allowed.push(r.allowed);
      }
      expect(allowed.filter(Boolean)).toHaveLength(10);
      expect(allowed[10]).toBe(false);
      expect(refillAndTake(state, 5_999, spec).allowed).toBe(false);
      expect(refillAndTake(state, 6_000, spec).allowed).toBe(true);
    });

    it('never holds more than `capacity`', () => {
      const r = refillAndTake({ tokens: 0, ts: 0 }, 10 * 60_000, spec);
      expect(r.tokens).toBe(9);
    });
  });

  describe('hook', () => {
    it('answers the quota with every decision and a Retry-After when refusing (memory store)', async () => {
      let t = 0;
      const hook = await tokenBucket.create(
        { limit: 2, period: '1m', bucket: 'quotes' },
        context({ now: () => t }),
      );
      const a = await hook.take('ada', request('GET'));
      expect(a).toEqual({
        allowed: true,
        quota: { policy: 'quotes', limit: 2, windowSeconds: 60, remaining: 1, resetSeconds: 30 },
      });
      await hook.take('ada', request('GET'));
      const refused = await hook.take('ada', request('GET'));
      expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 30, quota: { remaining: 0 } });
      expect((await hook.take('bob', request('GET'))).allowed).toBe(true);
      t = 30_000;
      expect((await hook.take('ada', request('GET'))).allowed).toBe(true);
    });

    it('shares one bucket between routes that name it, and refuses different limits for it', async () => {
      const ctx = context();
      await tokenBucket.create({ limit: 10, period: '1m', bucket: 'quotes' }, ctx);
      await expect(tokenBucket.create({ limit: 5, period: '1m', bucket: 'quotes' }, ctx)).rejects.toThrow(
        'shared with another route',
      );
    });

    it('refuses a bad config', async () => {
      await expect(tokenBucket.create({ limit: 0 }, context())).rejects.toThrow('config.limit');
      await expect(tokenBucket.create({ limit: 1, period: 'soon' }, context())).rejects.toThrow(
        'config.period',
      );
      await expect(tokenBucket.create({ limit: 1, extra: 1 }, context())).rejects.toThrow('unknown config');
      await expect(
        tokenBucket.create({ limit: 1 }, context({ env: { REDIS_URL: 'http://x' } })),
      ).rejects.toThrow('REDIS_URL');
    });
  });

  it('memory store keeps keys apart', async () => {
    const store = memoryBucketStore(() => 0);
    const spec = { capacity: 1, periodMs: 1000 };
    expect((await store.take('a', spec)).allowed).toBe(true);
    expect((await store.take('a', spec)).allowed).toBe(false);
    expect((await store.take('b', spec)).allowed).toBe(true);
  });
});

describe('api-key', () => {
  afterEach(() => vi.unstubAllGlobals());

  const verifier = (answers: Record<string, { principal: string; role: string }>) => {
    const calls: string[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      const { key } = JSON.parse(String(init.body)) as { key: string };
      calls.push(`${url} ${key}`);
      const verdict = answers[key];
      return verdict === undefined
        ? new Response('{"status":401}', { status: 401 })
        : new Response(JSON.stringify(verdict), { status: 200 });
    });
    return calls;
  };

  it('reads both the bare key and Bearer <key>', () => {
    expect(presentedKey('k1')).toBe('k1');
    expect(presentedKey('Bearer k1')).toBe('k1');
    expect(presentedKey('')).toBeUndefined();
  });

  it('answers 401 without a key or with an unknown one, 403 without the role, the principal otherwise', async () => {
    verifier({
      'user-key': { principal: 'ada', role: 'user' },
      'admin-key': { principal: 'admin', role: 'admin' },
    });
    const hook = await apiKey.create({ verifyService: 'users', roles: { POST: 'admin' } }, context());
    expect(await hook.authenticate(request('GET'))).toMatchObject({ ok: false, status: 401 });
    expect(await hook.authenticate(request('GET', 'Bearer nope'))).toMatchObject({ ok: false, status: 401 });
    expect(await hook.authenticate(request('POST', 'user-key'))).toMatchObject({ ok: false, status: 403 });
    expect(await hook.authenticate(request('GET', 'user-key'))).toEqual({
      ok: true,
      principal: { id: 'ada' },
    });
    expect(await hook.authenticate(request('POST', 'Bearer admin-key'))).toEqual({
      ok: true,
      principal: { id: 'admin' },
    });
  });

  it('caches verdicts for cacheSeconds and shares concurrent checks of one key', async () => {
    const calls = verifier({ 'user-key': { principal: 'ada', role: 'user' } });
    let t = 0;
    const hook = await apiKey.create({ verifyService: 'users', cacheSeconds: 30 }, context({ now: () => t }));
    await Promise.all([1, 2, 3].map(() => hook.authenticate(request('GET', 'user-key'))));
    expect(calls).toEqual(['http://users.test/keys/verify user-key']);
    t = 29_000;
    await hook.authenticate(request('GET', 'user-key'));
    expect(calls).toHaveLength(1);
    t = 31_000;
    await hook.authenticate(request('GET', 'user-key'));
    expect(calls).toHaveLength(2);
  });

  it('throws (the gateway answers 503) when the verifier fails', async () => {
    vi.stubGlobal('fetch', async () => new Response('boom', { status: 500 }));
    const hook = await apiKey.create({ verifyService: 'users' }, context());
    await expect(hook.authenticate(request('GET', 'k'))).rejects.toThrow('answered 500');
  });

  it('refuses a verifier the gateway cannot reach, and unknown roles', async () => {
    expect(() => apiKey.create({ verifyService: 'nobody' }, context())).toThrow('no URL');
    expect(() => apiKey.create({ verifyService: 'users', roles: { POST: 'root' } }, context())).toThrow(
      'roles are',
    );
  });
});
