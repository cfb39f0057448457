/**
 * A proxy route: the request streams to the upstream Service and the answer streams back, chunk by
 * chunk with backpressure (`pipe`), never buffered — a server-sent event reaches the client as soon as
 * the upstream writes it. Failures before the answer starts are problem+json:
 *
 * | what happened                                         | answer |
 * |-------------------------------------------------------|--------|
 * | body above the route's maxBodyBytes                   | 413, connection closed |
 * | no answer within the route's timeout, body incomplete | 408 (the client is slow) |
 * | no answer within the route's timeout                  | 504    |
 * | connection refused / name not found / unreachable     | 503 + Retry-After |
 * | connection reset or closed before an answer           | 502    |
 *
 * A GET, HEAD or OPTIONS without a body whose kept-alive socket the upstream closed just as it was reused goes
 * once more on a new socket, before any of those.
 *
 * Once the answer has started nothing can be said any more: a broken or idle (route idleTimeout)
 * stream is cut, and the client sees an incomplete response. On shutdown, streams of server-sent
 * events are ended cleanly (EventSource reconnects to another instance); other requests finish.
 */
import {
  type Agent,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import { closedOnReuse, type ProxyRoute } from '../../runtime/src/index.ts';
import { clientResponseHeaders, mediaTypeOf } from './headers.ts';
import type { GatewayProblem } from './problem.ts';

export interface ProxyExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: ProxyRoute;
  readonly target: URL;
  readonly headers: OutgoingHttpHeaders;
  readonly requestId: string;
  readonly agent: Agent;
  /** Aborted when the gateway shuts down. */
  readonly shutdown: AbortSignal;
  readonly problem: (reason: GatewayProblem, detail: string, headers?: Record<string, string>) => number;
}

export interface ProxyOutcome {
  /** The status the client got; 499 when it went away first (no status was sent). */
  readonly status: number;
  readonly error?: string;
}

/** Status recorded when the client closed the connection before an answer (nginx's convention). */
export const CLIENT_CLOSED = 499;

/** Connection errors that mean "nothing is there to take the request": try again later. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** RFC 9110 §9.2.1: requests that change nothing, which may be sent twice. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** RFC 9112 §6.3: a request has a body only when it says so. */
const hasBody = (req: IncomingMessage): boolean =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

export function proxy(x: ProxyExchange): Promise<ProxyOutcome> {
  const { req, res, route } = x;
  if (Number(req.headers['content-length']) > route.maxBodyBytes) {
    // The body is never read, so the connection cannot be reused.
    const status = x.problem('payloadTooLarge', tooLarge(route), { connection: 'close' });
    return Promise.resolve({ status, error: 'request body too large' });
  }
  return new Promise<ProxyOutcome>((resolve) => {
    let settled = false;
    let responded = false;
    let bodyDone = false;
    let streaming = false;
    let closing = false;
    let answerStream: IncomingMessage | undefined;
    const finish = (outcome: ProxyOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      x.shutdown.removeEventListener('abort', onShutdown);
      resolve(outcome);
    };

    const method = req.method ?? 'GET';
    const replayable = SAFE_METHODS.has(method) && !hasBody(req);
    const timer = setTimeout(() => {
      if (responded || settled) return;
      upstream.destroy();
      if (!bodyDone) {
        const status = x.problem(
          'requestTimeout',
          `the request body did not arrive within ${route.timeoutMs} ms`,
          { connection: 'close' },
        );
        finish({ status, error: 'request body too slow' });
        return;
      }
      const status = x.problem(
        'upstreamTimeout',
        `${route.service} did not start answering within ${route.timeoutMs} ms (the route's timeout)`,
      );
      finish({ status, error: 'upstream timeout' });
    }, route.timeoutMs);

    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= route.maxBodyBytes || settled) return;
      req.unpipe(upstream);
      upstream.destroy();
      const status = x.problem('payloadTooLarge', tooLarge(route), { connection: 'close' });
      finish({ status, error: 'request body too large' });
    });
    req.on('end', () => {
      bodyDone = true;
    });

    const onResponse = (answer: IncomingMessage): void => {
      responded = true;
      answerStream = answer;
      clearTimeout(timer);
      if (settled) {
        answer.destroy();
        return;
      }
      const status = answer.statusCode ?? 502;
      streaming = mediaTypeOf(answer.headers['content-type']) === 'text/event-stream';
      res.writeHead(status, clientResponseHeaders(answer.headers, x.requestId));
      // Headers go out now, not with the first body chunk: a client waiting on a stream sees it open.
      res.flushHeaders();
      upstream.setTimeout(route.idleTimeoutMs, () => {
        upstream.destroy();
        res.destroy();
        finish({ status, error: `stream idle for ${route.idleTimeoutMs} ms (the route's idleTimeout)` });
      });
      answer.on('aborted', () => {
        if (closing) return;
        res.destroy();
        finish({ status, error: 'upstream broke off its answer' });
      });
      answer.pipe(res);
    };

    const onError = (attempt: ClientRequest, err: NodeJS.ErrnoException): void => {
      if (settled || closing || attempt !== upstream) return;
      // A kept-alive socket the upstream closed as it was reused (its idle timeout, raced): nothing was answered,
      // and a request without a body that changes nothing can go again on another socket (node's `reusedSocket`).
      if (replayable && !retried && !responded && closedOnReuse(attempt, err)) {
        retried = true;
        upstream = open();
        upstream.end();
        return;
      }
      if (responded) {
        res.destroy();
        finish({ status: res.statusCode, error: `upstream failed mid-answer: ${err.message}` });
        return;
      }
      const code = err.code ?? err.message;
      if (UNREACHABLE.has(code)) {
        const status = x.problem('upstreamUnavailable', `${route.service} is not reachable (${code})`, {
          'retry-after': '1',
        });
        finish({ status, error: code });
        return;
      }
      const status = x.problem('upstreamFailed', `${route.service} failed before answering (${code})`);
      finish({ status, error: code });
    };

    const open = (): ClientRequest => {
      const attempt = request(x.target, { method, headers: x.headers, agent: x.agent });
      attempt.on('response', onResponse);
      attempt.on('error', (err: NodeJS.ErrnoException) => onError(attempt, err));
      return attempt;
    };
    let retried = false;
    let upstream = open();
    if (replayable) {
      req.resume();
      upstream.end();
    } else req.pipe(upstream);

    res.on('finish', () => finish({ status: res.statusCode }));
    res.on('close', () => {
      if (res.writableFinished || settled) return;
      upstream.destroy();
      finish({ status: CLIENT_CLOSED, error: 'client closed the connection' });
    });

    const onShutdown = (): void => {
      if (!responded || !streaming || settled) return;
      closing = true;
      answerStream?.unpipe(res);
      upstream.destroy();
      res.end();
    };
    x.shutdown.addEventListener('abort', onShutdown, { once: true });
  });
}

function tooLarge(route: ProxyRoute): string {
  return `the request body exceeds ${route.maxBodyBytes} bytes (the route's maxBodyBytes)`;
}
