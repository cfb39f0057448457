/**
 * Delivery of one event to one subscriber, with the RabbitMQ dispatcher's retry semantics
 * (knative-extensions/eventing-rabbitmq pkg/dispatcher/dispatcher.go, v0.49.1):
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
import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { receive, toBinary } from '../../functions/runtime/src/index.ts';
import { BACKOFF_POLICY, type BackoffPolicy, type DeliverySpec } from './manifests.ts';
import { withRawData } from './wire.ts';

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
  /** HTTP status, or -1 when there was no response. */
  readonly status: number;
  /** Milliseconds waited before this attempt (0 for the first). */
  readonly waitedMs: number;
}

export type DeliveryResult =
  | {
      readonly ok: true;
      readonly status: number;
      readonly reply: CloudEvent | undefined;
      readonly attempts: readonly AttemptRecord[];
    }
  | {
      readonly ok: false;
      /** Last HTTP status, or -1 for no response / timeout (the dispatcher's `getStatus`). */
      readonly status: number;
      readonly body: Buffer;
      readonly error: string;
      readonly attempts: readonly AttemptRecord[];
    };

export interface DeliverOptions {
  readonly signal?: AbortSignal;
  /** Injected for tests. @default setTimeout-based, aborted by `signal` */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called when a 2xx carries something that is not a valid CloudEvent (it is then ignored). */
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
 * A 2xx answer carrying a CloudEvent is returned as `reply` (the dispatcher publishes it back).
 * Throws DeliveryAbortedError only when `signal` aborts (shutdown): the message is then not acked.
 */
export async function deliver(
  url: string,
  event: CloudEvent,
  config: Readonly<DeliveryConfig>,
  options: DeliverOptions = {},
): Promise<DeliveryResult> {
  const sleep = options.sleep ?? defaultSleep;
  const message = toBinary(event);
  const attempts: AttemptRecord[] = [];
  let waited = 0;
  for (let retry = 0; ; retry++) {
    if (options.signal?.aborted) throw new DeliveryAbortedError('delivery aborted');
    let status = -1;
    let body: Buffer = Buffer.alloc(0);
    let error = '';
    let retryAfter: string | null = null;
    let headers: IncomingHttpHeaders = {};
    try {
      const signals = [
        ...(config.timeoutMs === undefined ? [] : [AbortSignal.timeout(config.timeoutMs)]),
        ...(options.signal === undefined ? [] : [options.signal]),
      ];
      const res = await fetch(url, {
        method: 'POST',
        headers: message.headers,
        body: message.body,
        ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
      });
      status = res.status;
      body = Buffer.from(await res.arrayBuffer());
      retryAfter = res.headers.get('retry-after');
      headers = Object.fromEntries(res.headers.entries());
      error = `HTTP ${status}`;
    } catch (err) {
      if (options.signal?.aborted) throw new DeliveryAbortedError('delivery aborted');
      const e = err as Error & { cause?: Error };
      error =
        e.name === 'TimeoutError' ? `timeout after ${config.timeoutMs} ms` : (e.cause?.message ?? e.message);
    }
    attempts.push({ status, waitedMs: waited });
    if (status >= 200 && status < 300) {
      return { ok: true, status, reply: parseReply(headers, body, options), attempts };
    }
    if (!isRetriable(status) || retry >= config.retry) {
      return { ok: false, status, body, error, attempts };
    }
    const backoff = backoffMs(config.backoffPolicy, config.backoffDelayMs, retry + 1);
    waited = Math.max(backoff, retryAfterMs(status, retryAfter, config.retryAfterMaxMs));
    await sleep(waited, options.signal);
  }
}

function parseReply(
  headers: IncomingHttpHeaders,
  body: Buffer,
  options: DeliverOptions,
): CloudEvent | undefined {
  const ct = headers['content-type'] ?? '';
  if (headers['ce-specversion'] === undefined && !ct.startsWith('application/cloudevents')) return undefined;
  try {
    const received = receive(headers, body);
    return withRawData(received.event, received.mode === 'binary' ? body : undefined);
  } catch (err) {
    options.onInvalidReply?.((err as Error).message);
    return undefined;
  }
}
