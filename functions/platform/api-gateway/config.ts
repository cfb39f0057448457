/**
 * The gateway's own settings, from the environment and validated at start (the runtime's config.ts
 * covers PORT, METRICS_PORT, the slow-client limits and the rest). Every problem is reported at once.
 *
 * | variable               | cluster (service.yaml)                       | make dev (set by the platform)       |
 * |------------------------|----------------------------------------------|--------------------------------------|
 * | GATEWAY_ROUTES_DIR     | the mounted ConfigMap, `<system>.yaml` each  | `.tmp/dev/gateway-routes`, same files |
 * | SLUICE_NAMESPACE       | the overlay's namespace (kustomize replacement) | —                                 |
 * | SLUICE_SERVICE_URLS    | —                                            | `{"<service>": "<router URL>"}`       |
 * | BROKER_URL             | the broker ingress                           | the local broker                      |
 * | GATEWAY_TRUSTED_HOPS   | 0 (see docs/gateway.md)                      | 0                                     |
 */
import { ConfigError, type GatewayRoute, ROUTE_KIND } from '../../runtime/src/index.ts';

export class GatewayConfigError extends ConfigError {
  override name = 'GatewayConfigError';
}

export interface GatewayConfig {
  readonly routesDir: string;
  readonly brokerUrl: string | undefined;
  /** Knative Service name → base URL; on the cluster derived from the namespace. */
  readonly upstream: (service: string) => string | undefined;
  /** Proxies in front of the gateway that append to X-Forwarded-For (client-address rate limits). */
  readonly trustedHops: number;
}

const KNATIVE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

type Env = Readonly<Record<string, string | undefined>>;

export function loadGatewayConfig(env: Env): Readonly<GatewayConfig> {
  const problems: string[] = [];
  const routesDir = env.GATEWAY_ROUTES_DIR || '';
  if (routesDir === '')
    problems.push('GATEWAY_ROUTES_DIR is required: the folder of route files (<system>.yaml)');
  const brokerUrl = env.BROKER_URL || undefined;
  if (brokerUrl !== undefined && !isHttpUrl(brokerUrl)) problems.push('BROKER_URL must be an http(s) URL');

  let upstream: (service: string) => string | undefined = () => undefined;
  const rawUrls = env.SLUICE_SERVICE_URLS || undefined;
  const namespace = env.SLUICE_NAMESPACE || undefined;
  if (rawUrls !== undefined) {
    const urls = parseServiceUrls(rawUrls, problems);
    upstream = (service) => urls.get(service);
  } else if (namespace !== undefined) {
    if (!KNATIVE_NAME.test(namespace))
      problems.push(`SLUICE_NAMESPACE="${namespace}" is not a namespace name`);
    // A cluster-local Knative Service answers on Kourier's internal gateway under this host name.
    upstream = (service) => `http://${service}.${namespace}.svc.cluster.local`;
  } else {
    problems.push(
      'set SLUICE_NAMESPACE (on the cluster: services are http://<name>.<namespace>.svc.cluster.local) or SLUICE_SERVICE_URLS (make dev)',
    );
  }
  const rawHops = env.GATEWAY_TRUSTED_HOPS || '0';
  const trustedHops = Number(rawHops);
  if (!Number.isInteger(trustedHops) || trustedHops < 0 || trustedHops > 5)
    problems.push(`GATEWAY_TRUSTED_HOPS="${rawHops}" must be an integer from 0 to 5`);
  if (problems.length > 0) throw new GatewayConfigError(problems);
  return Object.freeze({ routesDir, brokerUrl, upstream, trustedHops });
}

/** What the routes need from the config: every proxied Service has a URL, publish routes a broker. */
export function checkRoutesAgainstConfig(routes: readonly GatewayRoute[], config: GatewayConfig): void {
  const problems: string[] = [];
  for (const route of routes) {
    if (route.kind === ROUTE_KIND.proxy && config.upstream(route.service) === undefined)
      problems.push(
        `${route.file}: ${route.prefix}: no URL for Service ${route.service} in SLUICE_SERVICE_URLS`,
      );
    if (route.kind === ROUTE_KIND.publish && config.brokerUrl === undefined)
      problems.push(`${route.file}: ${route.prefix}: a publish route needs BROKER_URL`);
  }
  if (problems.length > 0) throw new GatewayConfigError(problems);
}

function parseServiceUrls(raw: string, problems: string[]): Map<string, string> {
  const urls = new Map<string, string>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push('SLUICE_SERVICE_URLS must be a JSON object {"<service>": "<url>"}');
    return urls;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push('SLUICE_SERVICE_URLS must be a JSON object {"<service>": "<url>"}');
    return urls;
  }
  for (const [name, url] of Object.entries(parsed)) {
    if (typeof url !== 'string' || !isHttpUrl(url))
      problems.push(`SLUICE_SERVICE_URLS.${name} must be an http(s) URL`);
    else urls.set(name, url.replace(/\/+$/, ''));
  }
  return urls;
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
