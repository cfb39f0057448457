/**
 * The HTTP server on node:http: health probes at Knative's function-runtime paths, Prometheus
 * metrics, the event endpoint, and optional plain-HTTP routes (express, loaded only when a function
 * declares them). It never exits the process; `main.ts` owns signals and exit codes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROBLEM_CONTENT_TYPE, problemBody, toProblem } from './cloudevent/problem.ts';
import { looksLikeCloudEvent } from './cloudevent/receive.ts';
import { InvalidEventError } from './errors.ts';
import type { HttpAnswer, Invoker } from './invoke.ts';
import { SERVER_KEEP_ALIVE_MS } from './keep-alive.ts';
import type { Metrics } from './ports/metrics.ts';
import { PROBLEM_TYPE_BASE } from './route-problem-types.ts';

export const HEALTH_READINESS_PATH = '/health/readiness';
export const HEALTH_LIVENESS_PATH = '/health/liveness';
export const METRICS_PATH = '/metrics';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface ServerOptions {
  /** The invoker, or a wrapper with the same `invoke` (keep-rejected.ts). */
  readonly invoker: Pick<Invoker, 'invoke'>;
  readonly metrics: Metrics;
  readonly maxBodyBytes: number;
  /** A client must send its request headers within this, else 408 and the connection closes. @default 10 000 */
  readonly headersTimeoutMs?: number;
  /** …and its whole request (headers and body) within this. @default 30 000 */
  readonly requestTimeoutMs?: number;
  /** Readiness: true once the store answers and `init` has run; false again while shutting down. */
  readonly isReady: () => boolean;
  /** Plain HTTP routes (GET APIs); undefined when the function has none. */
  readonly routes?: RequestListener;
}

export interface RuntimeServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, waits for in-flight requests up to the deadline, then closes every socket. */
  drain(timeoutMs: number): Promise<boolean>;
  readonly inFlight: number;
}

class PayloadTooLargeError extends InvalidEventError {}

export function createRuntimeServer(options: ServerOptions): RuntimeServer {
  let inFlight = 0;
  let draining = false;
  let onIdle: (() => void) | undefined;

  const send = (res: ServerResponse, answer: HttpAnswer): void => {
    // The client may have gone while the handler ran; its answer has nowhere to go.
    if (res.destroyed || res.writableEnded) return;
    if (draining) answer.headers.connection = 'close';
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };

  const tooLarge = (res: ServerResponse, limit: number): void => {
    const answer = toProblem(
      new PayloadTooLargeError(
        `request body exceeds the limit of ${limit} bytes (MAX_BODY_BYTES)`,
        [{ name: 'body', reason: 'too large' }],
        413,
      ),
    );
    // Close the connection: the rest of the body is not read, so the socket cannot be reused.
    res.writeHead(413, { 'content-type': PROBLEM_CONTENT_TYPE, connection: 'close' });
    res.end(problemBody(answer.problem));
  };

  /**
   * Counts a request as in flight until its answer is flushed (or its connection lost: 'close' fires
   * once either way) and every extra hold taken on it is released. Returns the release of one hold.
   */
  const track = (res: ServerResponse): { hold(): void; release(): void } => {
    inFlight++;
    let holds = 1;
    const release = (): void => {
      holds--;
      if (holds === 0) done();
    };
    res.on('close', release);
    return {
      hold: () => {
        holds++;
      },
      release,
    };
  };

  const handleEvent = (req: IncomingMessage, res: ServerResponse, started: number): void => {
    // In flight from the first byte until the answer is flushed to the socket AND the handler has
    // settled: drain() must neither cut a body being read nor close the store under a running handler.
    const { hold, release } = track(res);
    const limit = options.maxBodyBytes;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      tooLarge(res, limit);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > limit) {
        aborted = true;
        chunks.length = 0;
        tooLarge(res, limit);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (aborted) return;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      hold();
      // invoke() maps every error to an answer itself; a rejection here is a bug, still answered.
      // rawHeaders: node joins a repeated ce- header with ", "; receive() tells the two apart with them.
      options.invoker
        .invoke(req.headers, body, { rawHeaders: req.rawHeaders })
        .then(answered, (err: unknown) => {
          const answer = toProblem(err);
          send(res, {
            status: answer.status,
            headers: { 'content-type': PROBLEM_CONTENT_TYPE },
            body: problemBody(answer.problem),
          });
          release();
        });
    });
    const answered = (answer: HttpAnswer): void => {
      send(res, answer);
      options.metrics.httpRequest('POST', '/', answer.status, (performance.now() - started) / 1000);
      release();
    };
  };

  const done = (): void => {
    inFlight--;
    if (inFlight === 0 && onIdle !== undefined) onIdle();
  };

  const listener: RequestListener = (req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const path = url.indexOf('?') === -1 ? url : url.slice(0, url.indexOf('?'));
    if (path === HEALTH_READINESS_PATH || path === HEALTH_LIVENESS_PATH) {
      const ok = path === HEALTH_LIVENESS_PATH || (!draining && options.isReady());
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(ok ? '{"status":"ok"}' : `{"status":"${draining ? 'shutting down' : 'starting'}"}`);
      return;
    }
    if (path === METRICS_PATH && req.method === 'GET') {
      options.metrics.scrape().then(
        (text) => {
          res.writeHead(text === undefined ? 404 : 200, {
            'content-type': 'text/plain; version=0.0.4; charset=utf-8',
          });
          res.end(text ?? 'metrics are disabled (OTEL_SDK_DISABLED=true)\n');
        },
        () => {
          res.writeHead(500).end();
        },
      );
      return;
    }
    // A function with routes takes events only at `/`, where a Trigger delivers (its subscriber is the Service):
    // its routes may be public through the gateway, and a CloudEvent POSTed to one of them is a request like any
    // other, never an event that skipped the broker.
    const event = options.routes === undefined || (path === '/' && looksLikeCloudEvent(req.headers));
    if (req.method === 'POST' && event) {
      handleEvent(req, res, started);
      return;
    }
    if (options.routes !== undefined) {
      // Plain routes are requests too: the drain waits for their answers like for events.
      track(res);
      options.routes(req, res);
      return;
    }
    res.writeHead(405, { 'content-type': PROBLEM_CONTENT_TYPE, allow: 'POST' });
    res.end(
      JSON.stringify({
        type: `${PROBLEM_TYPE_BASE}method-not-allowed`,
        title: 'Method Not Allowed',
        status: 405,
        detail:
          'send CloudEvents with POST; health at /health/readiness and /health/liveness, metrics at /metrics',
      }),
    );
  };

  // Slow clients (slowloris, a body trickled in): node:http answers 408 and closes the connection when
  // the headers or the whole request take longer than these; it checks on an interval, made short
  // here so the bound holds within about a second of the timeout.
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server = createServer(
    {
      keepAliveTimeout: SERVER_KEEP_ALIVE_MS,
      headersTimeout,
      requestTimeout: Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout),
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    listener,
  );

  return {
    server,
    get inFlight() {
      return inFlight;
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    drain(timeoutMs) {
      draining = true;
      server.close();
      server.closeIdleConnections();
      return new Promise<boolean>((resolve) => {
        const finish = (clean: boolean): void => {
          clearTimeout(timer);
          onIdle = undefined;
          server.closeAllConnections();
          resolve(clean);
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        if (inFlight === 0) finish(true);
        else onIdle = () => finish(true);
      });
    },
  };
}
