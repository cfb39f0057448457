/**
 * The stable local URL of one Knative Service (what `http://<svc>.<ns>.svc` is on the cluster). Each
 * request asks the scaler for room on an instance — held meanwhile, like the activator — and is
 * proxied to it. Failures answer what the cluster's data path would, so a broker retries: 503 when no
 * instance could take it, 502 when the instance died under it, 504 after timeoutSeconds.
 *
 * Slow clients (a connection that trickles its headers or body, holding a socket and an instance slot)
 * get node:http's 408 and a closed connection after `headersTimeoutMs` / `requestTimeoutMs`, as Kourier's
 * Envoy and queue-proxy bound them on the cluster.
 */
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CLIENT_IDLE_SOCKET_MS,
  type Logger,
  PROBLEM_TYPE_BASE,
  SERVER_KEEP_ALIVE_MS,
} from '../../../functions/runtime/src/index.ts';
import { type Lease, ServiceUnavailableError } from './scaler.ts';

export interface Activator {
  readonly name: string;
  acquire(signal?: AbortSignal): Promise<Lease>;
}

export interface RouterOptions {
  readonly activator: Activator;
  readonly log: Logger;
  /** Revision timeout: the instance must answer within it. */
  readonly timeoutMs: number;
  /** @default 0 (allocated) */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** The request headers must arrive within this. @default 10 000 */
  readonly headersTimeoutMs?: number;
  /** The whole request (headers and body) must arrive within this. @default 60 000 */
  readonly requestTimeoutMs?: number;
}

export const ROUTER_DEFAULTS = { headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 } as const;
/** How often node:http checks those deadlines (its default, 30 s, is too coarse for a 10 s limit). */
const CONNECTIONS_CHECK_MS = 1_000;

export interface ServiceRouter {
  readonly url: string;
  readonly port: number;
  /** Stops accepting; in-flight requests get `graceMs` to finish. */
  close(graceMs?: number): Promise<void>;
}

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
] as const;

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers };
  for (const h of HOP_BY_HOP) delete out[h];
  return out;
}

function problem(res: ServerResponse, status: number, title: string, detail: string, service: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (status === 503) headers['retry-after'] = '1';
  res.writeHead(status, headers);
  res.end(
    JSON.stringify({
      type: `${PROBLEM_TYPE_BASE}${title.toLowerCase().replaceAll(' ', '-')}`,
      title,
      status,
      detail,
      'faas.name': service,
    }),
  );
}

export async function startRouter(options: RouterOptions): Promise<ServiceRouter> {
  const { activator, log, timeoutMs } = options;
  const name = activator.name;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    timeout: CLIENT_IDLE_SOCKET_MS,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    let lease: Lease;
    try {
      lease = await activator.acquire(gone.signal);
    } catch (err) {
      const message = err instanceof ServiceUnavailableError ? err.message : String(err);
      if (!gone.signal.aborted) problem(res, 503, 'Service Unavailable', message, name);
      req.resume();
      return;
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      lease.release();
    };
    const upstream = request(lease.instance.url + (req.url ?? '/'), {
      method: req.method ?? 'GET',
      headers: forwardable(req.headers),
      agent,
    });
    const timer = setTimeout(() => {
      problem(
        res,
        504,
        'Gateway Timeout',
        `${name} did not answer within ${timeoutMs} ms (timeoutSeconds)`,
        name,
      );
      upstream.destroy();
      release();
    }, timeoutMs);
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
      answer.pipe(res);
      answer.on('end', release);
      answer.on('error', () => {
        res.destroy();
        release();
      });
      answer.on('close', release);
    });
    upstream.on('error', (err) => {
      if (!released) {
        log.warn(`${name}: instance ${lease.instance.id} failed the request: ${err.message}`, {
          'event.action': 'proxy-error',
          'faas.name': name,
          'sluice.instance.id': lease.instance.id,
          'error.message': err.message,
        });
        problem(
          res,
          502,
          'Bad Gateway',
          `instance ${lease.instance.id} of ${name} failed: ${err.message}`,
          name,
        );
      }
      release();
    });
    gone.signal.addEventListener('abort', () => {
      upstream.destroy();
      release();
    });
    req.pipe(upstream);
  };

  const server = createServer(
    {
      keepAliveTimeout: SERVER_KEEP_ALIVE_MS,
      headersTimeout: options.headersTimeoutMs ?? ROUTER_DEFAULTS.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? ROUTER_DEFAULTS.requestTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    (req, res) => {
      void handle(req, res);
    },
  );
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: (graceMs = 5_000) =>
      new Promise<void>((done) => {
        // Stop accepting, let in-flight requests finish within the grace period, then cut the rest.
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          agent.destroy();
          done();
        });
        server.closeIdleConnections();
      }),
  };
}
