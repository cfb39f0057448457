import { describe, expect, it } from 'vitest';
import { type GatewayRoute, parseRouteTable } from '../../runtime/src/index.ts';
import { type AuthHook, buildHooks, type HookRequest, type RateLimitHook } from './hook.ts';
import { HOOKS } from './hooks/registry.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function table(routes: string) {
  return parseRouteTable([
    {
      system: 's',
      file: 's.yaml',
      text: `apiVersion: gateway.sluice.dev/v1alpha1\nkind: RouteTable\nroutes:\n${routes}`,
    },
  ]);
}

const requestTo = (route: GatewayRoute, headers: Record<string, string> = {}): HookRequest => ({
  method: 'GET',
  path: route.prefix,
  headers,
  clientAddress: '127.0.0.1',
  requestId: 'r',
  route,
});

describe('buildHooks', () => {
  it('leaves routes without hooks anonymous and unlimited', async () => {
    const { routes } = await table('  - {prefix: /a, service: a}\n');
    const hooks = await buildHooks(HOOKS, routes, { log: quiet, env: {} });
    expect(hooks.get(routes[0] as GatewayRoute)).toEqual({
      auth: undefined,
      rateLimit: undefined,
      rateLimitKey: undefined,
    });
  });

  it('reports unknown hooks and refused configs together, naming route and file', async () => {
    const { routes } = await table(
      '  - {prefix: /a, service: a, auth: {hook: no-such-hook}}\n  - {prefix: /b, service: b, rateLimit: {hook: fixed-window, key: client-address, config: {limit: 0, window: 1m}}}\n',
    );
    await expect(buildHooks(HOOKS, routes, { log: quiet, env: {} })).rejects.toMatchObject({
      problems: [
        's.yaml: /a: no auth hook named no-such-hook (registered: bearer-token, api-key)',
        's.yaml: /b: rate-limit hook fixed-window: config.limit must be an integer ≥ 1',
      ],
    });
  });

  it('lets a system register its own hook by definition, without touching the core', async () => {
    const calls: string[] = [];
    const headerKey = {
      kind: 'auth' as const,
      name: 'header-key',
      create: (config: Readonly<Record<string, unknown>>): AuthHook => ({
        authenticate: ({ headers }) => {
          calls.push(String(config.header));
          return headers['x-api-key'] === 'k1'
            ? { ok: true, principal: { id: 'key-1' } }
            : { ok: false, status: 401, detail: 'unknown key' };
        },
      }),
    };
    const { routes } = await table(
      '  - {prefix: /q, service: q, auth: {hook: header-key, config: {header: x-api-key}}}\n',
    );
    const route = routes[0] as GatewayRoute;
    const auth = (await buildHooks([...HOOKS, headerKey], routes, { log: quiet, env: {} })).get(route)?.auth;
    expect(await auth?.authenticate(requestTo(route, { 'x-api-key': 'k1' }))).toEqual({
      ok: true,
      principal: { id: 'key-1' },
    });
    expect(calls).toEqual(['x-api-key']);
  });

  it('refuses two hooks of one name', async () => {
    await expect(buildHooks([...HOOKS, ...HOOKS], [], { log: quiet, env: {} })).rejects.toThrow(
      /registered twice/,
    );
  });
});

describe('bearer-token', async () => {
  const { routes } = await table(
    '  - {prefix: /ops, service: ops, auth: {hook: bearer-token, config: {tokenEnv: OPS_TOKEN, principal: ops}}}\n',
  );
  const route = routes[0] as GatewayRoute;
  const auth = async (env: Record<string, string>) =>
    (await buildHooks(HOOKS, routes, { log: quiet, env })).get(route)?.auth as AuthHook;

  it('takes the right token and names the principal', async () => {
    const hook = await auth({ OPS_TOKEN: 'a-long-enough-secret' });
    expect(
      await hook.authenticate(requestTo(route, { authorization: 'Bearer a-long-enough-secret' })),
    ).toEqual({
      ok: true,
      principal: { id: 'ops' },
    });
  });

  it('answers 401 with a challenge for a missing or wrong token', async () => {
    const hook = await auth({ OPS_TOKEN: 'a-long-enough-secret' });
    expect(await hook.authenticate(requestTo(route))).toMatchObject({
      ok: false,
      status: 401,
      challenge: 'Bearer realm="sluice"',
    });
    expect(
      await hook.authenticate(requestTo(route, { authorization: 'Bearer a-long-enough-secreT' })),
    ).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  it('refuses to start without a token of some length', async () => {
    await expect(auth({ OPS_TOKEN: 'short' })).rejects.toMatchObject({
      problems: [
        's.yaml: /ops: auth hook bearer-token: OPS_TOKEN must hold a token of at least 16 characters',
      ],
    });
  });
});

describe('fixed-window', () => {
  async function limiter(routesYaml: string, now: () => number) {
    const { routes } = await table(routesYaml);
    const hooks = await buildHooks(HOOKS, routes, { log: quiet, env: {}, now });
    return routes.map((r) => ({ route: r, hook: hooks.get(r)?.rateLimit as RateLimitHook }));
  }

  it('allows limit requests per key and window, then says when to retry', async () => {
    let t = 1_000_000;
    const [a] = await limiter(
      '  - {prefix: /a, service: a, rateLimit: {hook: fixed-window, key: client-address, config: {limit: 2, window: 1m}}}\n',
      () => t,
    );
    const take = (key: string) => a?.hook.take(key, requestTo(a.route));
    expect(await take('k')).toEqual({ allowed: true });
    expect(await take('k')).toEqual({ allowed: true });
    t += 15_000;
    expect(await take('k')).toEqual({ allowed: false, retryAfterSeconds: 45 });
    expect(await take('other')).toEqual({ allowed: true });
    t += 45_000;
    expect(await take('k')).toEqual({ allowed: true });
  });

  it('shares one budget between routes that name the same bucket, and not otherwise', async () => {
    const t = 0;
    const config = '{limit: 1, window: 1m, bucket: quotes}';
    const [a, b, c] = await limiter(
      `  - {prefix: /a, service: a, rateLimit: {hook: fixed-window, key: client-address, config: ${config}}}\n  - {prefix: /b, service: b, rateLimit: {hook: fixed-window, key: client-address, config: ${config}}}\n  - {prefix: /c, service: c, rateLimit: {hook: fixed-window, key: client-address, config: {limit: 1, window: 1m}}}\n`,
      () => t,
    );
    expect(await a?.hook.take('k', requestTo(a.route))).toEqual({ allowed: true });
    expect(await b?.hook.take('k', requestTo(b.route))).toMatchObject({ allowed: false });
    expect(await c?.hook.take('k', requestTo(c.route))).toEqual({ allowed: true });
  });
});
