/**
 * Broker ingress: HTTP POST of one CloudEvent (binary or structured mode, read by the runtime's
 * `receiveVerbatim`: attribute values as sent, data as the exact bytes, a repeated `ce-*` header refused), answered 202 Accepted with an empty body only once the backend has durably
 * accepted it (RabbitMQ publisher confirm), as eventing-rabbitmq knative-v1.22.1 cmd/ingress does. An
 * event no Trigger matches is accepted and dropped by the exchange, as there.
 *
 * | request                         | answer |
 * |---------------------------------|--------|
 * | valid event, confirmed          | 202    |
 * | not a CloudEvent / invalid      | 400 (413 too large, 415 batch/unknown format) |
 * | other path                      | 404    |
 * | other method                    | 405    |
 * | backend did not confirm         | 500 (upstream's status; senders retry 5xx) |
 * | headers/body too slow           | 408, connection closed (upstream has no such bound) |
 *
 * `problems: false` (upstream): bare statuses with empty bodies, path `/` only, an HTTP `traceparent`
 * kept as the message's trace headers (trace-context.ts). `problems: true` (sluice): RFC 9457
 * problem+json bodies and the `/<namespace>/<broker>` path too. Both log why an event was refused.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudEvent, Logger } from '../../functions/runtime/src/index.ts';
import {
  InvalidEventError,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  type Problem,
  problemBody,
  receiveVerbatim,
  SERVER_KEEP_ALIVE_MS,
  toProblem,
} from '../../functions/runtime/src/index.ts';
import { eventLogFields } from './broker.ts';
import { traceAtIngress } from './trace-context.ts';

export interface IngressOptions {
  /** Prometheus text served at GET /metrics (the dispatchers' scaling). */
  readonly metrics?: () => string | Promise<string>;
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  readonly namespace: string;
  readonly brokerName: string;
  readonly publish: (event: CloudEvent) => Promise<void>;
  readonly log: Logger;
  /** @default 4 MiB */
  readonly maxBodyBytes?: number;
  /** problem+json refusals and the `/<ns>/<broker>` path (sluice); bare statuses and `/` (upstream). @default true */
  readonly problems?: boolean;
  /** Keep an HTTP `traceparent`/`tracestate` under the event's trace extensions (upstream). @default false */
  readonly httpTraceContext?: boolean;
  /** A slow client must have sent its headers within this. @default 10 000 */
  readonly headersTimeoutMs?: number;
  /** … and its whole request (headers and body). @default 30 000 */
  readonly requestTimeoutMs?: number;
}

/** What the ingress answered a POST: its status, headers and body (empty for 202 and upstream's bare statuses). */
export interface IngressAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface Ingress {
  readonly url: string;
  readonly port: number;
  /**
   * The answer a POST of `headers` (lower-case names, header strings) and `body` to `/` gets, without the
   * HTTP: the same parse, checks, log lines and durable publish. The broker's dispatchers send their replies
   * through it when the reply URL is this ingress (upstream's dispatcher POSTs them to BROKER_INGRESS_URL, a
   * loopback round trip here). Rejects, as a refused connection would fail, once the ingress is closed.
   */
  post(headers: Readonly<Record<string, string>>, body: Buffer): Promise<IngressAnswer>;
  close(): Promise<void>;
}

/** The ingress was closed: what a POST to it meets (the HTTP path: a refused connection). */
export class IngressClosedError extends Error {
  override name = 'IngressClosedError';
}

export async function startIngress(options: IngressOptions): Promise<Ingress> {
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const problems = options.problems ?? true;
  const clusterPath = `/${options.namespace}/${options.brokerName}`;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout);
  const send = (
    res: ServerResponse,
    status: number,
    p: Problem,
    headers: Record<string, string> = {},
  ): void => {
    if (problems)
      res.writeHead(status, { 'content-type': PROBLEM_CONTENT_TYPE, ...headers }).end(problemBody(p));
    else res.writeHead(status, headers).end();
  };
  /** `send`'s answer as data, for `post`. */
  const answerOf = (refusal: Refusal): IngressAnswer =>
    problems
      ? {
          status: refusal.status,
          headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...refusal.headers },
          body: Buffer.from(problemBody(refusal.problem)),
        }
      : { status: refusal.status, headers: { ...refusal.headers }, body: EMPTY };
  // Slow clients (a header or body trickling in) are cut off at a bound: node answers 408 and closes.
  const server: Server = createServer(
    {
      // As the runtime's servers: a publisher's kept-alive connection outlives a pause in its traffic (node's
      // default, 5 s, closed them under load bursts, and a POST raced the close: ingress-client.ts).
      keepAliveTimeout: SERVER_KEEP_ALIVE_MS,
      headersTimeout,
      requestTimeout,
      // How often node checks those deadlines (its default, 30 s, would make short bounds meaningless).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      void handle(req, res).catch((err: unknown) => failed(res, err));
    },
  );

  function failed(res: ServerResponse, err: unknown): void {
    options.log.error(`broker ingress failed: ${String(err)}`);
    if (!res.headersSent)
      send(res, 500, problem(500, 'Internal Error', 'internal', 'the broker ingress failed'));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const query = problems ? url.indexOf('?') : -1;
    const path = query === -1 ? url : url.slice(0, query);
    if (
      req.method === 'GET' &&
      (path === '/health/readiness' || path === '/health/liveness' || path === '/healthz')
    ) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (req.method === 'GET' && path === '/metrics' && options.metrics !== undefined) {
      let text: string;
      try {
        text = await options.metrics();
      } catch (err) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${String(err)}`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
      return;
    }
    if (path !== '/' && !(problems && (path === clusterPath || path === `${clusterPath}/`))) {
      req.resume();
      send(
        res,
        404,
        problem(
          404,
          'Not Found',
          'not-found',
          `POST events to /${problems ? ` or ${clusterPath}` : ''}`,
          path,
        ),
      );
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      send(
        res,
        405,
        problem(405, 'Method Not Allowed', 'method-not-allowed', 'the broker accepts POST only', path),
        {
          allow: 'POST',
        },
      );
      return;
    }
    // The body through 'data'/'end' callbacks: an async iterator over the request costs an iterator, an
    // end-of-stream watcher and a promise per chunk (docs/performance.md, "The broker's garbage").
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBody) {
        refused = true;
        chunks.length = 0;
        const answer = toProblem(new InvalidEventError(`event larger than ${maxBody} bytes`, [], 413), path);
        send(res, answer.status, answer.problem, { connection: 'close' });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    // A request cut before its end gets no answer (its socket is gone) and publishes nothing.
    req.on('error', () => {});
    req.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      admit(req.headers, body, path, req.rawHeaders).then(
        (refusal) => {
          if (refusal === undefined) res.writeHead(202).end();
          else send(res, refusal.status, refusal.problem, refusal.headers);
        },
        (err: unknown) => failed(res, err),
      );
    });
  }

  /** An event's POST once its body is read: undefined when published (202), else the refusal to answer. */
  async function admit(
    headers: IncomingHttpHeaders,
    body: Buffer,
    path: string,
    rawHeaders: readonly string[] | undefined,
  ): Promise<Refusal | undefined> {
    let event: CloudEvent;
    try {
      // As eventing-rabbitmq's ingress (sdk-go binding.ToEvent): values as sent, data as the exact bytes.
      event = receiveVerbatim(headers, body, rawHeaders === undefined ? undefined : { rawHeaders }).event;
      if (options.httpTraceContext === true) event = traceAtIngress(event, headers);
    } catch (err) {
      const answer = toProblem(err, path);
      if (answer.status >= 500) throw err;
      options.log.info(`broker ingress refused an event: ${answer.problem.detail}`, {
        'event.action': 'ingress-refused',
        'http.response.status_code': answer.status,
      });
      return { status: answer.status, problem: answer.problem };
    }
    try {
      await options.publish(event);
    } catch (err) {
      options.log.warn(
        `broker ingress could not durably accept ${event.type} ${event.id}: ${(err as Error).message}`,
        { ...eventLogFields(event), 'event.action': 'ingress-failed' },
      );
      return {
        status: 500,
        problem: problem(
          500,
          'Broker Unavailable',
          'broker-unavailable',
          `the event was not accepted: ${(err as Error).message}`,
          path,
        ),
      };
    }
    return undefined;
  }

  let closed = false;
  /** `handle`'s answer to a POST to `/` whose body has been read, as data (Ingress#post). */
  async function post(headers: Readonly<Record<string, string>>, body: Buffer): Promise<IngressAnswer> {
    if (closed) throw new IngressClosedError('the broker ingress is closed');
    if (body.length > maxBody) {
      const answer = toProblem(new InvalidEventError(`event larger than ${maxBody} bytes`, [], 413), '/');
      return answerOf({ status: answer.status, problem: answer.problem, headers: { connection: 'close' } });
    }
    try {
      const refusal = await admit(headers, body, '/', undefined);
      return refusal === undefined ? ACCEPTED : answerOf(refusal);
    } catch (err) {
      options.log.error(`broker ingress failed: ${String(err)}`);
      return answerOf({
        status: 500,
        problem: problem(500, 'Internal Error', 'internal', 'the broker ingress failed'),
      });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host === undefined || options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}/`,
    port,
    post,
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

interface Refusal {
  readonly status: number;
  readonly problem: Problem;
  readonly headers?: Record<string, string>;
}

const EMPTY = Buffer.alloc(0);
const ACCEPTED: IngressAnswer = Object.freeze({ status: 202, headers: Object.freeze({}), body: EMPTY });

function problem(status: number, title: string, type: string, detail: string, instance?: string): Problem {
  return {
    type: `${PROBLEM_TYPE_BASE}${type}`,
    title,
    status,
    detail,
    ...(instance === undefined ? {} : { instance }),
  };
}
