import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RouteTableError } from '../errors.ts';
import {
  directoryRouteSources,
  parseRouteTable,
  ROUTE_DEFAULTS,
  type RouteSource,
  repositoryRouteSources,
} from './route-table.ts';

const HEADER = 'apiVersion: gateway.sluice.dev/v1alpha1\nkind: RouteTable\nroutes:\n';
const source = (system: string, routes: string): RouteSource => ({
  system,
  file: `${system}/routes.yaml`,
  text: `${HEADER}${routes}`,
});

async function problemsOf(sources: RouteSource[]): Promise<readonly string[]> {
  try {
    await parseRouteTable(sources);
  } catch (err) {
    expect(err).toBeInstanceOf(RouteTableError);
    return (err as RouteTableError).problems;
  }
  throw new Error('expected a RouteTableError');
}

describe('parseRouteTable', () => {
  it('reads proxy and publish routes, with the defaults filled in', async () => {
    const table = await parseRouteTable([
      source(
        'banking',
        '  - {prefix: /api/accounts, service: accounts-api, prefixRewrite: /accounts, methods: [GET], timeout: 2s}\n',
      ),
      source(
        'demo',
        '  - prefix: /api/hello\n    publish: {type: dev.sluice.hello.requested.v1, source: /gw/hello}\n',
      ),
    ]);
    expect(table.routes).toEqual([
      {
        kind: 'proxy',
        prefix: '/api/accounts',
        service: 'accounts-api',
        prefixRewrite: '/accounts',
        methods: ['GET'],
        timeoutMs: 2000,
        idleTimeoutMs: ROUTE_DEFAULTS.idleTimeoutMs,
        maxBodyBytes: ROUTE_DEFAULTS.maxBodyBytes,
        auth: undefined,
        rateLimit: undefined,
        system: 'banking',
        file: 'banking/routes.yaml',
      },
      {
        kind: 'publish',
        prefix: '/api/hello',
        eventType: 'dev.sluice.hello.requested.v1',
        eventSource: '/gw/hello',
        contentTypes: ['application/json'],
        timeoutMs: ROUTE_DEFAULTS.timeoutMs,
        maxBodyBytes: ROUTE_DEFAULTS.maxBodyBytes,
        auth: undefined,
        rateLimit: undefined,
        system: 'demo',
        file: 'demo/routes.yaml',
      },
    ]);
  });

  it('keeps hook references with their config', async () => {
    const [route] = (
      await parseRouteTable([
        source(
          'quotes',
          '  - prefix: /quotes\n    service: quotes-api\n    auth: {hook: api-key}\n    rateLimit: {hook: fixed-window, key: principal, config: {limit: 10, window: 1m}}\n',
        ),
      ])
    ).routes;
    expect(route?.auth).toEqual({ hook: 'api-key', config: {}, forwardAuthorization: false });
    expect(route?.rateLimit).toEqual({
      hook: 'fixed-window',
      key: 'principal',
      config: { limit: 10, window: '1m' },
    });
  });

  it('reports what the schema refuses, naming the file and the field', async () => {
    const problems = await problemsOf([
      source('a', '  - {prefix: /API/, service: Bad_Name, timeout: 10, colour: red}\n'),
    ]);
    expect(problems).toEqual(
      expect.arrayContaining([
        'a/routes.yaml: /routes/0 must NOT have additional properties (colour)',
        'a/routes.yaml: /routes/0/prefix must match pattern "^(/[a-z0-9][a-z0-9._~-]*)+$"',
        'a/routes.yaml: /routes/0/service must match pattern "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"',
        'a/routes.yaml: /routes/0/timeout must be string',
      ]),
    );
  });

  it('reports a file that is not YAML, or not a route table', async () => {
    expect((await problemsOf([{ system: 'a', file: 'a.yaml', text: 'routes: [' }]))[0]).toMatch(
      /^a\.yaml: invalid YAML/,
    );
    expect(await problemsOf([{ system: 'a', file: 'a.yaml', text: 'kind: Trigger\n' }])).toContain(
      "a.yaml: / must have required property 'routes'",
    );
  });

  it('needs exactly one target per route', async () => {
    expect(await problemsOf([source('a', '  - {prefix: /a}\n')])).toEqual([
      'a/routes.yaml: routes[0] (/a): needs exactly one of service (proxy) or publish (CloudEvent to the broker)',
    ]);
    expect(
      await problemsOf([source('a', '  - {prefix: /a, service: s, publish: {type: t, source: /s}}\n')]),
    ).toHaveLength(1);
  });

  it('refuses proxy-only fields on a publish route', async () => {
    expect(
      await problemsOf([source('a', '  - {prefix: /a, methods: [GET], publish: {type: t, source: /s}}\n')]),
    ).toEqual([
      'a/routes.yaml: routes[0] (/a): methods applies to proxy routes only (publish routes take POST only)',
    ]);
  });

  it('keeps /health for the runtime', async () => {
    expect((await problemsOf([source('a', '  - {prefix: /health/x, service: s}\n')]))[0]).toContain(
      '/health is reserved',
    );
  });

  it('refuses a rate limit keyed by principal on a route without authentication', async () => {
    expect(
      await problemsOf([
        source('a', '  - {prefix: /a, service: s, rateLimit: {hook: fixed-window, key: principal}}\n'),
      ]),
    ).toEqual([
      'a/routes.yaml: routes[0] (/a): a rate limit keyed by principal needs an auth hook (every caller is anonymous)',
    ]);
  });

  it('refuses the same prefix twice, within a file or across files', async () => {
    expect(
      await problemsOf([
        source('a', '  - {prefix: /x, service: s}\n'),
        source('b', '  - {prefix: /x, service: t}\n'),
      ]),
    ).toEqual(['prefix /x is declared twice: a/routes.yaml and b/routes.yaml']);
  });

  it("refuses a prefix under another system's prefix, but lets a system nest its own", async () => {
    expect(
      await problemsOf([
        source('fleet', '  - {prefix: /api/vehicles, service: vehicles-api}\n'),
        source('quotes', '  - {prefix: /api/vehicles/quotes, service: quotes-api}\n'),
      ]),
    ).toEqual([
      'prefix /api/vehicles/quotes (quotes/routes.yaml) lies under /api/vehicles, which system fleet owns (fleet/routes.yaml)',
    ]);
    const nested = await parseRouteTable([
      source(
        'fleet',
        '  - {prefix: /api/vehicles, service: vehicles-api}\n  - {prefix: /api/vehicles/stream, service: vehicles-api, idleTimeout: 5m}\n',
      ),
    ]);
    expect(nested.routes.map((r) => r.prefix)).toEqual(['/api/vehicles/stream', '/api/vehicles']);
  });

  it('does not confuse a prefix with a longer segment that starts the same way', async () => {
    expect(
      (
        await parseRouteTable([
          source('a', '  - {prefix: /api/account, service: s}\n'),
          source('b', '  - {prefix: /api/accounts, service: t}\n'),
        ])
      ).routes,
    ).toHaveLength(2);
  });
});

describe('RouteTable.match', async () => {
  const table = await parseRouteTable([
    source(
      'a',
      '  - {prefix: /api/accounts, service: accounts}\n  - {prefix: /api/accounts/stream, service: streams}\n',
    ),
    source('b', '  - {prefix: /api/account, service: account}\n'),
  ]);
  const matched = (path: string) => table.match(path)?.prefix;

  it('matches the prefix itself and the paths below it', async () => {
    expect(matched('/api/accounts')).toBe('/api/accounts');
    expect(matched('/api/accounts/acc-1')).toBe('/api/accounts');
  });

  it('takes the longest prefix', async () => {
    expect(matched('/api/accounts/stream')).toBe('/api/accounts/stream');
    expect(matched('/api/accounts/stream/x')).toBe('/api/accounts/stream');
  });

  it('matches whole path segments only', async () => {
    expect(matched('/api/accountsX')).toBeUndefined();
    expect(matched('/api/account')).toBe('/api/account');
    expect(matched('/api')).toBeUndefined();
  });
});

describe('route sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-routes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a mounted ConfigMap: one <system>.yaml per key, skipping the ..data folders', async () => {
    const mount = join(dir, 'mount');
    mkdirSync(join(mount, '..2026_01_01_00_00_00.000000001'), { recursive: true });
    writeFileSync(join(mount, 'banking.yaml'), `${HEADER}  - {prefix: /a, service: s}\n`);
    writeFileSync(join(mount, '..data'), '');
    expect(directoryRouteSources(mount).map((s) => [s.system, s.file])).toEqual([
      ['banking', join(mount, 'banking.yaml')],
    ]);
  });

  it('reads functions/<system>/routes.yaml of the systems that have one', async () => {
    const functions = join(dir, 'functions');
    mkdirSync(join(functions, 'runtime'), { recursive: true });
    mkdirSync(join(functions, 'banking'), { recursive: true });
    mkdirSync(join(functions, 'demo'), { recursive: true });
    writeFileSync(join(functions, 'banking', 'routes.yaml'), `${HEADER}  - {prefix: /a, service: s}\n`);
    writeFileSync(join(functions, 'runtime', 'routes.yaml'), 'not a system');
    expect(repositoryRouteSources(functions).map((s) => s.system)).toEqual(['banking']);
  });
});
