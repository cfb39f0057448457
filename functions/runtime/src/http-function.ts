/**
 * Runs a plain HTTP function (types.ts `HttpFunction`): the same process contract as an event function
 * (PORT, K_SERVICE, health probes at Knative's paths, /metrics, drain on SIGTERM), but every request
 * other than the probes and metrics goes to the handler the function's `serve` returns. Kept apart from
 * server.ts, whose event path has its own body limit and in-flight rules.
 *
 * Slow clients: node:http answers 408 and closes the connection when the headers take longer than
 * REQUEST_HEADERS_TIMEOUT_SECONDS or the whole request longer than REQUEST_TIMEOUT_SECONDS (the event
 * server's limits too), checked every second. METRICS_PORT moves /metrics to a port of its own, so a public function's route never
 * exposes it (Prometheus scrapes the pod directly, see docs/deploy.md "Metrics").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROBLEM_CONTENT_TYPE } from './cloudevent/problem.ts';
import type { RuntimeConfig } from './config.ts';
import { SERVER_KEEP_ALIVE_MS } from './keep-alive.ts';
import type { JsonLogger } from './log.ts';
import type { Metrics } from './ports/metrics.ts';
import { PROBLEM_TYPE_BASE } from './route-problem-types.ts';
import { HEALTH_LIVENESS_PATH, HEALTH_READINESS_PATH, METRICS_PATH } from './server.ts';
import type { HttpFunction, HttpHandler } from './types.ts';

export interface HttpFunctionServer {
  readonly port: number;
  /** The metrics port when METRICS_PORT is set. */
  readonly metricsPort: number | undefined;
  /** Not ready, abort the serve signal, finish in-flight requests (bounded), run `shutdown`. */
  stop(): Promise<void>;
}

/** How often node:http checks the header and request deadlines (its default, 30 s, is too coarse). */
const CONNECTIONS_CHECK_MS = 1_000;

export async function startHttpFunction(
  config: Readonly<RuntimeConfig>,
  fn: HttpFunction,
  log: JsonLogger,
  metrics: Metrics,
  processStart: number,
): Promise<HttpFunctionServer> {
  const stopping = new AbortController();
  let handler: HttpHandler | undefined;
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const separateMetrics = config.metricsPort !== undefined;

  const scrape = (res: ServerResponse): void => {
    metrics.scrape().then(
      (text) => {
        res.writeHead(text === undefined ? 404 : 200, {
          'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        });
        res.end(text ?? 'metrics are disabled (OTEL_SDK_DISABLED=true)\n');
      },
      () => res.writeHead(500).end(),
    );
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === HEALTH_READINESS_PATH || path === HEALTH_LIVENESS_PATH) {
      const ok = path === HEALTH_LIVENESS_PATH || (!draining && handler !== undefined);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(ok ? '{"status":"ok"}' : `{"status":"${draining ? 'shutting down' : 'starting'}"}`);
      return;
    }
    if (path === METRICS_PATH && req.method === 'GET' && !separateMetrics) {
      scrape(res);
      return;
    }
    if (handler === undefined || draining) {
      req.resume();
      res.writeHead(503, { 'content-type': PROBLEM_CONTENT_TYPE, 'retry-after': '1', connection: 'close' });
      res.end(
        JSON.stringify({
          type: `${PROBLEM_TYPE_BASE}not-ready`,
          title: 'Service Unavailable',
          status: 503,
          detail: draining ? `${config.serviceName} is shutting down` : `${config.serviceName} is starting`,
        }),
      );
      return;
    }
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    });
    handler(req, res);
  };

  const server = createServer(
    {
      keepAliveTimeout: SERVER_KEEP_ALIVE_MS,
      headersTimeout: config.requestHeadersTimeoutSeconds * 1000,
      requestTimeout: config.requestTimeoutSeconds * 1000,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    listener,
  );
  const port = await listen(server, config.port, config.host);
  let metricsServer: Server | undefined;
  let metricsPort: number | undefined;
  if (config.metricsPort !== undefined) {
    metricsServer = createServer((req, res) => {
      if (req.method === 'GET' && (req.url ?? '/').split('?')[0] === METRICS_PATH) scrape(res);
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
    });
    metricsPort = await listen(metricsServer, config.metricsPort, config.host);
  }

  // Listen first, then serve(): Knative probes readiness and holds traffic until it passes.
  try {
    // serve() makes the function's own OpenTelemetry instruments (the gateway's hooks do): they need the global
    // MeterProvider, which the SDK sets once loaded (telemetry.ts); made before, they would be no-ops for good.
    await metrics.ready?.();
    handler = await fn.serve({
      log,
      functionName: config.serviceName,
      metrics: {
        request: (method, route, status, seconds) => metrics.httpRequest(method, route, status, seconds),
      },
      signal: stopping.signal,
    });
  } catch (err) {
    server.close();
    metricsServer?.close();
    throw err;
  }
  const startupSeconds = (Date.now() - processStart) / 1000;
  metrics.coldStart(startupSeconds);
  log.info('function ready', {
    'event.action': 'start',
    'faas.name': config.serviceName,
    'faas.coldstart': true,
    'faas.trigger': 'http',
    'url.port': port,
    ...(metricsPort === undefined ? {} : { 'sluice.metrics_port': metricsPort }),
    'sluice.startup_seconds': startupSeconds,
  });

  return {
    port,
    metricsPort,
    async stop() {
      draining = true;
      stopping.abort();
      server.close();
      server.closeIdleConnections();
      const clean = await new Promise<boolean>((resolve) => {
        const finish = (ok: boolean): void => {
          clearTimeout(timer);
          onIdle = undefined;
          server.closeAllConnections();
          resolve(ok);
        };
        const timer = setTimeout(() => finish(false), config.shutdownTimeoutSeconds * 1000);
        if (inFlight === 0) finish(true);
        else onIdle = () => finish(true);
      });
      if (!clean) log.warn(`shutdown: requests still open after ${config.shutdownTimeoutSeconds}s were cut`);
      try {
        await fn.shutdown?.();
      } finally {
        metricsServer?.closeAllConnections();
        metricsServer?.close();
        await metrics.shutdown();
        log.info('function stopped', { 'event.action': 'stop', 'faas.name': config.serviceName });
        log.flush();
      }
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
