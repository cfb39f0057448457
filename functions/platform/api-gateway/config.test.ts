import { describe, expect, it } from 'vitest';
import { ConfigError, parseRouteTable } from '../../runtime/src/index.ts';
import { checkRoutesAgainstConfig, GatewayConfigError, loadGatewayConfig } from './config.ts';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayConfigError);
    return (err as GatewayConfigError).problems;
  }
  throw new Error('expected a GatewayConfigError');
}

describe('loadGatewayConfig', () => {
  it('derives cluster-local Service URLs from the namespace', () => {
    const config = loadGatewayConfig({ GATEWAY_ROUTES_DIR: '/r', SLUICE_NAMESPACE: 'sluice-qualification' });
    expect(config.upstream('accounts-api')).toBe(
      'http://accounts-api.sluice-qualification.svc.cluster.local',
    );
    expect(config.trustedHops).toBe(0);
    expect(config.brokerUrl).toBeUndefined();
  });

  it("takes make dev's router URLs instead", () => {
    const config = loadGatewayConfig({
      GATEWAY_ROUTES_DIR: '/r',
      SLUICE_SERVICE_URLS: '{"accounts-api":"http://127.0.0.1:4100/"}',
      BROKER_URL: 'http://127.0.0.1:8080/',
    });
    expect(config.upstream('accounts-api')).toBe('http://127.0.0.1:4100');
    expect(config.upstream('other')).toBeUndefined();
  });

  it('lists every problem at once, as a ConfigError (exit 78)', () => {
    const problems = problemsOf(() =>
      loadGatewayConfig({
        BROKER_URL: 'amqp://x',
        SLUICE_SERVICE_URLS: '{"a": 1}',
        GATEWAY_TRUSTED_HOPS: '9',
      }),
    );
    expect(problems).toEqual([
      'GATEWAY_ROUTES_DIR is required: the folder of route files (<system>.yaml)',
      'BROKER_URL must be an http(s) URL',
      'SLUICE_SERVICE_URLS.a must be an http(s) URL',
      'GATEWAY_TRUSTED_HOPS="9" must be an integer from 0 to 5',
    ]);
    expect(() => loadGatewayConfig({})).toThrow(ConfigError);
  });
});

describe('checkRoutesAgainstConfig', async () => {
  const table = await parseRouteTable([
    {
      system: 'a',
      file: 'a.yaml',
      text: 'apiVersion: gateway.sluice.dev/v1alpha1\nkind: RouteTable\nroutes:\n  - {prefix: /x, service: x-api}\n  - {prefix: /e, publish: {type: t, source: /s}}\n',
    },
  ]);

  it('needs a URL for every proxied Service and a broker for publish routes', () => {
    const config = loadGatewayConfig({ GATEWAY_ROUTES_DIR: '/r', SLUICE_SERVICE_URLS: '{}' });
    expect(problemsOf(() => checkRoutesAgainstConfig(table.routes, config))).toEqual([
      'a.yaml: /e: a publish route needs BROKER_URL',
      'a.yaml: /x: no URL for Service x-api in SLUICE_SERVICE_URLS',
    ]);
  });
});
