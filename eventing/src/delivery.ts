/**
 * Delivery of one event to one subscriber, with the RabbitMQ dispatcher's retry semantics
 * (knative-extensions/eventing-rabbitmq knative-v1.22.1 pkg/dispatcher/dispatcher.go, which sends with
 * cloudevents/sdk-go v2.16.1 `protocol/http` `doWithRetry` and knative.dev/eventing `SelectiveRetry`):
 *
 * - the dispatcher sends with the CloudEvents SDK's retrying HTTP client; `retry` retries after the first
 *   attempt, so at most `retry + 1` attempts;
 * - before retry n (n = 1, 2, …) it waits `backoffDelay × 2^n` (exponential) or `backoffDelay × n`
 *   (linear) — sdk-go `RetryParams.BackoffFor(tries)` called with `retry + 1`. (Core Knative channels
 *   count from 0 through go-retryablehttp: `backoffDelay × 2^0` first. This module follows the RabbitMQ
 *   broker, which is what runs behind our Trigger manifests.);
 * - what is retried is `kncloudevents.SelectiveRetry`: no response (connection error, timeout), 404, 408,
 *   409, 429 and 5xx; every other non-2xx ends delivery at once;
 * - `timeout` bounds each attempt (the dispatcher's http.Client timeout);
 * - `retryAfterMax` (opt-in, as knative's `kncloudevents` computes it): on 429/503 a `Retry-After` header
 *   lengthens the wait to min(Retry-After, retryAfterMax) when that is longer than the backoff. The RabbitMQ
 *   dispatcher itself ignores Retry-After; without retryAfterMax this module does too.
 *
 * Defaults are the dispatcher's and the trigger reconciler's: with a delivery spec, `retry` is 5 when
 * unset; without one, 0. Policy exponential, delay 50 ms, no timeout.
 */
import { type Agent, globalAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { HEADER_ENCODING, receiveVerbatim, toBinary } from '../../functions/runtime/src/index.ts';
import { BACKOFF_POLICY, type BackoffPolicy, type DeliverySpec } from './manifests.ts';

export interface DeliveryConfig {
  readonly retry: number;
  readonly backoffPolicy: BackoffPolicy;
  readonly backoffDelayMs: number;
  /** Per attempt; undefined = no timeout. */
  readonly timeoutMs: number | undefined;
  /** undefined = Retry-After ignored (the default). */
  readonly retryAfterMaxMs: number | undefined;
}

/** knative.dev/eventing-rabbitmq cmd/dispatcher defaults (BACKOFF_DELAY=50ms, TIMEOUT=0). */
export const DISPATCHER_DEFAULTS = {
  retryWithSpec: 5,
  backoffDelayMs: 50,
} as const;

/** The dispatcher configuration a delivery spec (the Trigger's, else the Broker's) produces. */
export function deliveryConfig(spec: DeliverySpec | undefined): Readonly<DeliveryConfig> {
  return Object.freeze({
    retry: spec === undefined ? 0 : (spec.retry ?? DISPATCHER_DEFAULTS.retryWithSpec),
    backoffPolicy: spec?.backoffPolicy ?? BACKOFF_POLICY.exponential,
    backoffDelayMs: spec?.backoffDelayMs ?? DISPATCHER_DEFAULTS.backoffDelayMs,
    timeoutMs: spec?.timeoutMs,
    retryAfterMaxMs: spec?.retryAfterMaxMs,
  });
}

/** Wait before retry number `retry` (1-based), as sdk-go `RetryParams.BackoffFor`. */
export function backoffMs(policy: BackoffPolicy, delayMs: number, retry: number): number {
  return policy === BACKOFF_POLICY.linear ? delayMs * retry : delayMs * 2 ** retry;
}

/** `kncloudevents.SelectiveRetry`; `undefined` is "no response" (connection error or timeout). */
export function isRetriable(status: number | undefined): boolean {
  if (status === undefined || status === -1) return true;
  return status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;
}

/** Retry-After (delta-seconds or HTTP-date) capped at `maxMs`, as kncloudevents `retryAfterDuration`. */
export function retryAfterMs(
  status: number | undefined,
  header: string | null | undefined,
  maxMs: number | undefined,
  now: number = Date.now(),
): number {
  if (maxMs === undefined || maxMs <= 0 || (status !== 429 && status !== 503) || !header) return 0;
  let ms: number;
  if (/^\d+$/.test(header.trim())) ms = Number(header.trim()) * 1000;
  else {
    const at = Date.parse(header);
    if (Number.isNaN(at)) return 0;
    ms = at - now;
  }
  return ms <= 0 ? 0 : Math.min(ms, maxMs);
}

export const KNATIVE_ERROR = {
  dest: 'knativeerrordest',
  code: 'knativeerrorcode',
  data: 'knativeerrordata',
} as const;
const ERROR_DATA_MAX = 1024;

/**
 * `knativeerrordata` as knative's dispatcher computes it: the response body without control
 * characters, base64-encoded, cut to 1024 characters.
 */
export function knativeErrorData(body: Uint8Array): string {
  const clean = Buffer.from(body.filter((b) => !(b < 0x20 || b === 0x7f)));
  return clean.toString('base64').slice(0, ERROR_DATA_MAX);
}

/** The event with `time` set to now when it has none: sdk-go's `DefaultTimeToNowIfNotSet`, per send. */
export function withSendTime(event: CloudEvent, now: Date = new Date()): CloudEvent {
  if (event.time !== undefined) return event;
  return Object.freeze({ ...event, time: now.toISOString() });
}

/** The event as it goes to the dead-letter sink: the original plus the knativeerror* extensions. */
export function withErrorExtensions(
  event: CloudEvent,
  dest: string,
  code: number,
  data: string | undefined,
): CloudEvent {
  const extensions: Record<string, string | number | boolean> = {
    ...event.extensions,
    [KNATIVE_ERROR.dest]: dest,
    [KNATIVE_ERROR.code]: code,
  };
  if (data !== undefined && data !== '') extensions[KNATIVE_ERROR.data] = data;
  else delete extensions[KNATIVE_ERROR.data];
  return Object.freeze({ ...event, extensions: Object.freeze(extensions) });
}

export interface AttemptRecord {
  /** HTTP status, or -1 when there was no (complete) answer. */
  readonly status: number;
  /** Milliseconds waited before this attempt (0 for the first). */
  readonly waitedMs: number;
  /** Milliseconds from the request to the end of the answer (or the failure): the subscriber's latency. */
  readonly durationMs: number;
}

/** The final answer of a delivery, after its retries. */
export interface DeliveryResult {
  /** Last HTTP status, or -1 for no answer, a timeout or a body that could not be read (`getStatus`). */
  readonly status: number;
  /** The final answer was 2xx. */
  readonly ok: boolean;
  /**
   * A CloudEvent the final answer carried (binary or structured), whatever its status: upstream takes
   * one from a 400 as readily as from a 200; the dispatcher decides whether it is a reply.
   */
  readonly reply: CloudEvent | undefined;
  readonly body: Buffer;
  /** Response headers of the final answer, lower-case. */
  readonly headers: Readonly<Record<string, string>>;
  /** `HTTP <status>` or what went wrong without an answer. */
  readonly error: string;
  readonly attempts: readonly AttemptRecord[];
}

export interface DeliverOptions {
  readonly signal?: AbortSignal;
  /**
   * The keep-alive connection pool to send through, sized to the trigger's parallelism (the broker keeps
   * one per subscriber). @default node:http's global agent (keep-alive, unbounded)
   */
  readonly agent?: Agent;
  /** Extra request headers (the upstream dispatcher's `traceparent`/`tracestate`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Injected for tests. @default setTimeout-based, aborted by `signal` */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called when an answer claims to carry a CloudEvent that is not valid (it is then ignored). */
  readonly onInvalidReply?: (message: string) => void;
}

export class DeliveryAbortedError extends Error {
  override name = 'DeliveryAbortedError';
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DeliveryAbortedError('delivery aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new DeliveryAbortedError('delivery aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Sends `event` in binary mode to `url` until it is accepted, refused for good, or retries run out.
 * The answer's CloudEvent, if any, is returned as `reply` for the dispatcher to decide about.
 * A 2xx whose body cannot be read to its end counts as no answer (-1, retried): the reply it carried
 * would otherwise be lost behind a success (upstream counts it as success).
 * Throws DeliveryAbortedError only when `signal` aborts (shutdown): the message is then not acked.
 */
export async function deliver(
  url: string,
  event: CloudEvent,
  config: Readonly<DeliveryConfig>,
  options: DeliverOptions = {},
): Promise<DeliveryResult> {
  const sleep = options.sleep ?? defaultSleep;
  // Header values as eventing-rabbitmq's dispatcher writes them: UTF-8 bytes, no percent-encoding.
  const message = toBinary(event, { headerEncoding: HEADER_ENCODING.raw });
  const requestHeaders = { ...options.headers, ...message.headers };
  const attempts: AttemptRecord[] = [];
  let waited = 0;
  for (let retry = 0; ; retry++) {
    if (options.signal?.aborted) throw new DeliveryAbortedError('delivery aborted');
    let status = -1;
    let body: Buffer = Buffer.alloc(0);
    let error = '';
    let headers: Record<string, string> = {};
    const started = performance.now();
    try {
      const answer = await post(url, requestHeaders, message.body, config.timeoutMs, options);
      headers = answer.headers;
      if (answer.bodyError === undefined) {
        body = answer.body;
        status = answer.status;
        error = `HTTP ${status}`;
      } else {
        error = `HTTP ${answer.status}, body unreadable: ${describeFailure(answer.bodyError, config)}`;
      }
    } catch (err) {
      if (options.signal?.aborted) throw new DeliveryAbortedError('delivery aborted');
      error = describeFailure(err, config);
    }
    attempts.push({
      status,
      waitedMs: waited,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    });
    if (status >= 200 && status < 300) {
      return { ok: true, status, reply: parseReply(headers, body, options), body, headers, error, attempts };
    }
    if (!isRetriable(status) || retry >= config.retry) {
      const reply = status === -1 ? undefined : parseReply(headers, body, options);
      return { ok: false, status, reply, body, headers, error, attempts };
    }
    const backoff = backoffMs(config.backoffPolicy, config.backoffDelayMs, retry + 1);
    waited = Math.max(backoff, retryAfterMs(status, headers['retry-after'], config.retryAfterMaxMs));
    await sleep(waited, options.signal);
  }
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** Set when the answer's head came but its body did not arrive whole. */
  readonly bodyError?: Error;
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * One POST on node:http through a keep-alive agent, not `fetch`: undici's Request/Headers objects, web
 * streams and two abort signals per attempt were ~30 % of the broker's CPU (docs/performance.md). One
 * timer bounds the whole attempt (head and body), as the dispatcher's http.Client timeout does.
 */
function post(
  url: string,
  headers: Readonly<Record<string, string>>,
  body: Uint8Array,
  timeoutMs: number | undefined,
  options: DeliverOptions,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const signal = options.signal;
    const done = (): void => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    // Once the head has come, a failure is the body's: the answer is there, its body is not.
    let head: { status: number; headers: Record<string, string> } | undefined;
    const fail = (err: Error): void => {
      if (settled) return;
      done();
      if (head === undefined) reject(err);
      else resolve({ ...head, body: Buffer.alloc(0), bodyError: err });
    };
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': body.byteLength },
        ...(target.protocol === 'https:' ? {} : { agent: options.agent ?? globalAgent }),
      },
      (res) => {
        const status = res.statusCode ?? -1;
        const answerHeaders = flatHeaders(res.headers);
        head = { status, headers: answerHeaders };
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => {
          if (settled) return;
          done();
          resolve({
            status,
            headers: answerHeaders,
            body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
          });
        });
        res.once('error', fail);
        res.once('aborted', () => fail(new Error('connection closed before the body ended')));
      },
    );
    const onAbort = (): void => {
      req.destroy(new DeliveryAbortedError('delivery aborted'));
    };
    if (signal !== undefined) {
      if (signal.aborted) {
        req.destroy();
        fail(new DeliveryAbortedError('delivery aborted'));
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
    }
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => req.destroy(new TimeoutError(`timeout after ${timeoutMs} ms`)), timeoutMs);
    }
    req.once('error', fail);
    req.end(body);
  });
}

/** Response headers as fetch's `Headers` shows them: one string per name, repeated values joined. */
function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function describeFailure(err: unknown, config: Readonly<DeliveryConfig>): string {
  const e = err as Error & { cause?: Error };
  return e.name === 'TimeoutError' ? `timeout after ${config.timeoutMs} ms` : (e.cause?.message ?? e.message);
}

function parseReply(
  headers: IncomingHttpHeaders,
  body: Buffer,
  options: DeliverOptions,
): CloudEvent | undefined {
  const ct = headers['content-type'] ?? '';
  if (headers['ce-specversion'] === undefined && !ct.startsWith('application/cloudevents')) return undefined;
  try {
    return receiveVerbatim(headers, body).event;
  } catch (err) {
    options.onInvalidReply?.((err as Error).message);
    return undefined;
  }
}
