/**
 * A publish route: the request body becomes the data of a CloudEvent of the route's type and source,
 * posted in binary mode to the broker's ingress. 202 only once the broker answered 2xx, which it does
 * after the durable accept (RabbitMQ publisher confirm) — so a 202 from the gateway means the event is
 * stored, and anything else means the client must retry.
 *
 * Exactly once in effect across client retries: with an `Idempotency-Key` header (IETF
 * draft-ietf-httpapi-idempotency-key-header), the event id is derived from the caller and the key, so
 * a retried POST is the same event (source + id) and the consuming function's idempotency record
 * absorbs it. Without a key every POST is a new event.
 *
 * | what happened                                     | answer |
 * |---------------------------------------------------|--------|
 * | accepted by the broker                            | 202 {id, type, source} |
 * | Content-Type not in the route's contentTypes      | 415    |
 * | body above maxBodyBytes                           | 413    |
 * | body is not JSON (JSON media types)               | 400    |
 * | body not received within the route's timeout      | 408    |
 * | the broker refuses the event (400/415)            | 502    |
 * | broker unreachable or 5xx                         | 503 + Retry-After (a connection cut mid-POST: maybe stored) |
 * | no broker answer within the route's timeout       | 504 (unknown: retry with the same key) |
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
import {
  encodeHeaderValue,
  type PublishRoute,
  postToIngress,
  storedByBroker,
} from '../../runtime/src/index.ts';
import { mediaTypeOf, REQUEST_ID_HEADER } from './headers.ts';
import type { Principal } from './hook.ts';
import type { GatewayProblem } from './problem.ts';
import type { ProxyOutcome } from './proxy.ts';

export interface PublishExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: PublishRoute;
  readonly brokerUrl: string;
  /** The gateway's keep-alive pool (the proxy routes' too). */
  readonly agent: Agent;
  readonly requestId: string;
  readonly traceparent: string;
  readonly principal: Principal;
  readonly problem: (reason: GatewayProblem, detail: string, headers?: Record<string, string>) => number;
}

const IDEMPOTENCY_KEY = 'idempotency-key';
/** Connection errors before any byte of the event reached a broker. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export async function publish(x: PublishExchange): Promise<ProxyOutcome> {
  const { req, route } = x;
  const media = mediaTypeOf(req.headers['content-type']);
  if (!route.contentTypes.includes(media)) {
    req.resume();
    const status = x.problem(
      'unsupportedMediaType',
      `send the body as ${route.contentTypes.join(' or ')} (got ${media || 'no Content-Type'})`,
    );
    return { status, error: 'unsupported media type' };
  }
  const key = idempotencyKey(req.headers[IDEMPOTENCY_KEY]);
  if (key === null) {
    req.resume();
    const status = x.problem(
      'invalidIdempotencyKey',
      'Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID is best)',
    );
    return { status, error: 'invalid idempotency key' };
  }
  const deadline = performance.now() + route.timeoutMs;
  const body = await readBody(req, route, deadline);
  if (body.kind === 'too-large') {
    const status = x.problem(
      'payloadTooLarge',
      `the request body exceeds ${route.maxBodyBytes} bytes (the route's maxBodyBytes)`,
      { connection: 'close' },
    );
    return { status, error: 'request body too large' };
  }
  if (body.kind === 'timeout') {
    const status = x.problem(
      'requestTimeout',
      `the request body did not arrive within ${route.timeoutMs} ms`,
      {
        connection: 'close',
      },
    );
    return { status, error: 'request body too slow' };
  }
  if (body.kind === 'gone') return { status: 499, error: 'client closed the connection' };
  if (media === 'application/json' || media.endsWith('+json')) {
    try {
      JSON.parse(body.data.toString('utf8'));
    } catch (err) {
      const status = x.problem(
        'invalidJson',
        `the body is not JSON: ${(err as Error).message.slice(0, 200)}`,
      );
      return { status, error: 'invalid JSON' };
    }
  }

  const id = key === undefined ? randomUUID() : derivedId(x.principal, key);
  const headers: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-source': encodeHeaderValue(route.eventSource),
    'ce-type': encodeHeaderValue(route.eventType),
    'ce-time': new Date().toISOString(),
    // The distributed-tracing extension: the consuming function continues this trace.
    'ce-traceparent': x.traceparent,
    'content-type': req.headers['content-type'] ?? media,
    traceparent: x.traceparent,
    [REQUEST_ID_HEADER]: x.requestId,
  };
  const answer = await postToIngress(
    x.brokerUrl,
    { headers, body: body.data },
    { timeoutMs: Math.max(1, Math.ceil(deadline - performance.now())), agent: x.agent },
  );
  if (answer.kind === 'timeout') {
    const status = x.problem(
      'brokerTimeout',
      `the broker did not answer within ${route.timeoutMs} ms; the event may or may not be stored: retry with the same Idempotency-Key`,
    );
    return { status, error: 'broker timeout' };
  }
  if (answer.kind === 'unreachable') {
    // Refused or not found: the event never left. Cut after it was sent: the broker may have stored it.
    const stored = NEVER_SENT.has(answer.cause)
      ? 'nothing was stored'
      : 'the event may or may not be stored: retry with the same Idempotency-Key';
    const status = x.problem(
      'brokerUnavailable',
      `the broker is not reachable (${answer.cause}); ${stored}`,
      {
        'retry-after': '1',
      },
    );
    return { status, error: `broker unreachable: ${answer.cause}` };
  }
  if (storedByBroker(answer)) {
    const accepted = JSON.stringify({ id, type: route.eventType, source: route.eventSource });
    x.res.writeHead(202, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(accepted),
      [REQUEST_ID_HEADER]: x.requestId,
    });
    x.res.end(accepted);
    return { status: 202 };
  }
  const said = brokerDetail(answer.text);
  if (answer.status === 413) {
    const status = x.problem('payloadTooLarge', `the broker refused the event as too large: ${said}`);
    return { status, error: 'broker: too large' };
  }
  if (answer.status >= 500) {
    const status = x.problem(
      'brokerUnavailable',
      `the broker did not store the event (${answer.status}: ${said}); retry`,
      { 'retry-after': '1' },
    );
    return { status, error: `broker ${answer.status}` };
  }
  const status = x.problem('brokerRefused', `the broker refused the event (${answer.status}: ${said})`);
  return { status, error: `broker ${answer.status}` };
}

type Body =
  | { readonly kind: 'ok'; readonly data: Buffer }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'gone' };

/** The whole body, within the byte limit and the deadline; stops reading as soon as either is passed. */
function readBody(req: IncomingMessage, route: PublishRoute, deadline: number): Promise<Body> {
  const declared = Number(req.headers['content-length']);
  if (declared > route.maxBodyBytes) return Promise.resolve({ kind: 'too-large' });
  return new Promise<Body>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const settle = (body: Body): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      if (body.kind !== 'ok') req.pause();
      resolve(body);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > route.maxBodyBytes) settle({ kind: 'too-large' });
      else chunks.push(chunk);
    };
    const timer = setTimeout(() => settle({ kind: 'timeout' }), Math.max(1, deadline - performance.now()));
    req.on('data', onData);
    req.once('end', () => settle({ kind: 'ok', data: Buffer.concat(chunks, size) }));
    req.once('close', () => settle({ kind: 'gone' }));
  });
}

/** The header's value (a bare token or an RFC 8941 string), undefined when absent, null when unusable. */
export function idempotencyKey(raw: string | string[] | undefined): string | undefined | null {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') return null;
  const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  return /^[\x20-\x7e]{1,255}$/.test(value) ? value : null;
}

/** Same caller + same key → same event id; different callers never share one. */
export function derivedId(principal: Principal, key: string): string {
  return `ik-${createHash('sha256').update(`${principal.id}\n${key}`).digest('base64url').slice(0, 32)}`;
}

function brokerDetail(text: string): string {
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail.slice(0, 300);
  } catch {
    // not problem+json: fall through to the raw text
  }
  return text.slice(0, 300) || 'no detail';
}
