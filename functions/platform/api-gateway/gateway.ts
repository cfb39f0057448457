/**
 * The gateway's request flow, framework-free (node:http req/res in, nothing buffered):
 *
 *   request id + trace → target check → route (longest prefix) → method → auth hook → rate-limit hook
 *   → proxy to the cluster-local Service, or publish to the broker → metrics + one access log line
 *
 * Every answer the gateway makes itself is problem+json (problem.ts); answers from upstreams pass
 * through untouched but for hop-by-hop headers and the request id.
 */
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  CLIENT_IDLE_SOCKET_MS,
  continueTrace,
  formatTraceparent,
  type GatewayRoute,
  type HttpHandler,
  type HttpRequestMetrics,
  type Logger,
  looksLikeCloudEvent,
  RATE_LIMIT_KEY,
  ROUTE_KIND,
  type RouteTable,
} from '../../runtime/src/index.ts';
import {
  clientAddressOf,
  parseTarget,
  REQUEST_ID_HEADER,
  requestIdOf,
  upstreamRequestHeaders,
} from './headers.ts';
import { ANONYMOUS, type HookRequest, type Principal, type RateLimitQuota, type RouteHooks } from './hook.ts';
import { type GatewayProblem, sendProblem } from './problem.ts';
import { CLIENT_CLOSED, type ProxyOutcome, proxy } from './proxy.ts';
import { publish } from './publish.ts';

export interface GatewayOptions {
  readonly table: RouteTable;
  readonly hooks: ReadonlyMap<GatewayRoute, RouteHooks>;
  /** Base URL of a Knative Service (no trailing slash). */
  readonly upstream: (service: string) => string | undefined;
  readonly brokerUrl: string | undefined;
  readonly trustedHops: number;
  readonly log: Logger;
  readonly metrics: HttpRequestMetrics;
  /** Aborted on shutdown: streams are ended so the drain completes. */
  readonly shutdown: AbortSignal;
}

export interface Gateway {
  readonly handle: HttpHandler;
  /** Closes the upstream connection pool. */
  close(): void;
}

/** `http.route` when no route matched: OTel leaves the attribute out, an empty label is the same. */
const NO_ROUTE = '';

export function createGateway(options: GatewayOptions): Gateway {
  const { table, log } = options;
  // Keep-alive to the upstreams (Kourier's internal gateway on the cluster, routers under make dev); idle sockets
  // are let go before the upstream closes them (keep-alive.ts).
  const agent = new Agent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    timeout: CLIENT_IDLE_SOCKET_MS,
  });

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const requestId = requestIdOf(req.headers);
    const trace = continueTrace(req.headers.traceparent, req.headers.tracestate);
    const traceparent = formatTraceparent(trace);
    const clientAddress = clientAddressOf(req, options.trustedHops);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const target = parseTarget(req.url);
    const path = target.ok ? target.path : (req.url ?? '');
    let route: GatewayRoute | undefined;
    let principal: Principal = ANONYMOUS;

    const problem = (reason: GatewayProblem, detail: string, headers?: Record<string, string>): number =>
      sendProblem(res, reason, detail, {
        requestId,
        path,
        route: route?.prefix,
        ...(headers === undefined ? {} : { headers }),
      });

    const outcome = await (async (): Promise<ProxyOutcome> => {
      if (!target.ok) {
        req.resume();
        return { status: problem('invalidPath', target.reason), error: 'invalid path' };
      }
      route = table.match(target.path);
      if (route === undefined) {
        req.resume();
        return { status: problem('noRoute', `no route for ${target.path}`), error: 'no route' };
      }
      const allowed = route.kind === ROUTE_KIND.proxy ? route.methods : ['POST'];
      if (route.kind === ROUTE_KIND.publish && target.path !== route.prefix) {
        req.resume();
        return {
          status: problem('noRoute', `events are published at ${route.prefix} itself`),
          error: 'no route',
        };
      }
      if (!allowed.includes(method)) {
        req.resume();
        const status = problem('methodNotAllowed', `${route.prefix} takes ${allowed.join(', ')}`, {
          allow: allowed.join(', '),
        });
        return { status, error: 'method not allowed' };
      }
      // A function behind a proxy route also takes events from its Triggers; a CloudEvent sent through the gateway
      // would reach its event handler from outside, past the broker (a forged order.billed, say). Events enter
      // through publish routes, which make their own.
      if (route.kind === ROUTE_KIND.proxy && looksLikeCloudEvent(req.headers)) {
        req.resume();
        const status = problem(
          'eventNotAccepted',
          `${route.prefix} is an HTTP API, not an event endpoint: send CloudEvents through the broker (a publish route)`,
        );
        return { status, error: 'CloudEvent on a proxy route' };
      }
      const hooks = options.hooks.get(route);
      const info: HookRequest = {
        method,
        path: target.path,
        headers: req.headers,
        clientAddress,
        requestId,
        route,
      };
      if (hooks?.auth !== undefined) {
        let result: Awaited<ReturnType<typeof hooks.auth.authenticate>>;
        try {
          result = await hooks.auth.authenticate(info);
        } catch (err) {
          req.resume();
          log.error(`auth hook ${route.auth?.hook} failed: ${(err as Error).message}`, {
            'event.action': 'hook-failed',
            'http.request.id': requestId,
          });
          return {
            status: problem('hookUnavailable', 'authentication is unavailable; retry later'),
            error: 'auth hook failed',
          };
        }
        if (!result.ok) {
          req.resume();
          const status = problem(
            result.status === 401 ? 'unauthorized' : 'forbidden',
            result.detail,
            result.challenge === undefined ? undefined : { 'www-authenticate': result.challenge },
          );
          return { status, error: result.status === 401 ? 'unauthenticated' : 'forbidden' };
        }
        principal = result.principal;
      }
      if (hooks?.rateLimit !== undefined) {
        const key = hooks.rateLimitKey === RATE_LIMIT_KEY.principal ? principal.id : clientAddress;
        let result: Awaited<ReturnType<typeof hooks.rateLimit.take>>;
        try {
          result = await hooks.rateLimit.take(key, info);
        } catch (err) {
          req.resume();
          log.error(`rate-limit hook ${route.rateLimit?.hook} failed: ${(err as Error).message}`, {
            'event.action': 'hook-failed',
            'http.request.id': requestId,
          });
          return {
            status: problem('hookUnavailable', 'rate limiting is unavailable; retry later'),
            error: 'rate-limit hook failed',
          };
        }
        if (result.quota !== undefined) setRateLimitHeaders(res, result.quota);
        if (!result.allowed) {
          req.resume();
          const seconds = Math.max(1, Math.ceil(result.retryAfterSeconds));
          const status = problem(
            'rateLimited',
            `the rate limit of ${route.prefix} is reached; retry in ${seconds} s`,
            {
              'retry-after': String(seconds),
            },
          );
          return { status, error: 'rate limited' };
        }
      }
      if (route.kind === ROUTE_KIND.publish) {
        return publish({
          req,
          res,
          route,
          brokerUrl: options.brokerUrl as string, // checked at start (config.ts)
          agent,
          requestId,
          traceparent,
          principal,
          problem,
        });
      }
      const base = options.upstream(route.service) as string; // checked at start (config.ts)
      return proxy({
        req,
        res,
        route,
        // Concatenated, never resolved: a path can never change the upstream's host.
        target: new URL(
          `${base}${upstreamPath(route.prefix, route.prefixRewrite, target.path)}${target.query}`,
        ),
        headers: upstreamRequestHeaders(req, {
          requestId,
          traceparent,
          clientAddress,
          principal: principal === ANONYMOUS ? undefined : principal.id,
          forwardAuthorization: route.auth === undefined || route.auth.forwardAuthorization,
        }),
        requestId,
        agent,
        shutdown: options.shutdown,
        problem,
      });
    })();

    const seconds = (performance.now() - started) / 1000;
    const routeLabel = route?.prefix ?? NO_ROUTE;
    options.metrics.request(method, routeLabel, outcome.status, seconds);
    const failed = outcome.status >= 500 || outcome.status === CLIENT_CLOSED;
    const fields = {
      'event.action': 'http-request',
      'event.outcome': outcome.status < 400 ? 'success' : 'failure',
      'event.duration': Math.round(seconds * 1e9),
      'http.request.method': method,
      'http.request.id': requestId,
      'http.response.status_code': outcome.status,
      'url.path': path.slice(0, 512),
      'client.address': clientAddress,
      'trace.id': trace.traceId,
      'span.id': trace.spanId,
      ...(route === undefined ? {} : { 'http.route': route.prefix }),
      ...(route?.kind === ROUTE_KIND.proxy ? { 'service.target.name': route.service } : {}),
      ...(principal === ANONYMOUS ? {} : { 'user.id': principal.id }),
      ...(outcome.error === undefined ? {} : { 'error.message': outcome.error }),
    };
    if (failed) log.warn(`${method} ${routeLabel || path.slice(0, 120)} → ${outcome.status}`, fields);
    else log.info(`${method} ${routeLabel || path.slice(0, 120)} → ${outcome.status}`, fields);
  };

  return {
    handle: (req, res) => {
      serve(req, res).catch((err: unknown) => {
        // A bug: answer if still possible, never leave the request hanging.
        log.error(`gateway failed: ${(err as Error).stack ?? String(err)}`, {
          'event.action': 'gateway-error',
        });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    },
    close: () => agent.destroy(),
  };
}

/**
 * The quota on every answer of a limited route, in two forms: the current draft's structured fields
 * (draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy: "quotes";q=10;w=60` and
 * `RateLimit: "quotes";r=3;t=42`), and the `RateLimit-Limit/-Remaining/-Reset` triple of its earlier
 * revisions (-06), which most clients and libraries still read.
 */
export function setRateLimitHeaders(res: ServerResponse, quota: RateLimitQuota): void {
  const name = JSON.stringify(quota.policy.replace(/[^\x20-\x7e]|["\\]/g, '_'));
  const remaining = Math.max(0, Math.floor(quota.remaining));
  const reset = Math.max(0, Math.ceil(quota.resetSeconds));
  res.setHeader('ratelimit-policy', `${name};q=${quota.limit};w=${quota.windowSeconds}`);
  res.setHeader('ratelimit', `${name};r=${remaining};t=${reset}`);
  res.setHeader('ratelimit-limit', String(quota.limit));
  res.setHeader('ratelimit-remaining', String(remaining));
  res.setHeader('ratelimit-reset', String(reset));
}

/** The upstream path: the route's prefix replaced by its prefixRewrite (if any), the rest kept. */
export function upstreamPath(prefix: string, rewrite: string | undefined, path: string): string {
  if (rewrite === undefined) return path;
  const rest = path.slice(prefix.length);
  const joined = rewrite.endsWith('/') && rest.startsWith('/') ? rewrite + rest.slice(1) : rewrite + rest;
  return joined === '' ? '/' : joined;
}
