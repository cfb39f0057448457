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
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { HEADER_ENCODING, receiveVerbatim, toBinary } from '../../functions/runtime/src/index.ts';
import { type CallbackEntry, CallbackList } from './in-flight.ts';
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
   * one per trigger). @default one shared unbounded pool
   */
  readonly pool?: ConnectionPool;
  /** Extra request headers (the upstream dispatcher's `traceparent`/`tracestate`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Injected for tests. @default setTimeout-based, aborted by `signal` */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called when an answer claims to carry a CloudEvent that is not valid (it is then ignored). */
  readonly onInvalidReply?: (message: string) => void;
  /**
   * Answers the POST in process instead of over HTTP: the broker's own ingress (Ingress#post), where
   * upstream's dispatcher POSTs replies. Retries, backoff, the timeout and the abort apply as to HTTP; a
   * rejection is "no answer", as a refused connection. Requests whose extra `headers` HTTP would alter
   * (control characters, whitespace at either end) still go over HTTP.
   */
  readonly local?: LocalEndpoint;
}

/** An in-process HTTP endpoint: the answer a POST of these headers (lower-case) and body gets. */
export type LocalEndpoint = (
  headers: Readonly<Record<string, string>>,
  body: Buffer,
) => Promise<{
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}>;

export class DeliveryAbortedError extends Error {
  override name = 'DeliveryAbortedError';
}

/** Per abort signal: what to call when it aborts (one listener per signal, see `whenAborted`). */
const abortWatchers = new WeakMap<AbortSignal, CallbackList>();

/**
 * Calls `f` once when `signal` aborts, until `unwatchAbort` with the entry returned. Every delivery in flight
 * watches the broker's one signal, and node's EventTarget removes a listener by walking the signal's list:
 * with a few hundred deliveries in flight, `removeEventListener` was ~8 % of the broker's CPU. Here: one
 * listener per signal, and a CallbackList rather than a Set (in-flight.ts: a Set's churn promoted every
 * delivery in flight).
 */
function whenAborted(signal: AbortSignal, f: () => void): CallbackEntry {
  let watchers = abortWatchers.get(signal);
  if (watchers === undefined) {
    const all = new CallbackList();
    watchers = all;
    abortWatchers.set(signal, all);
    signal.addEventListener(
      'abort',
      () => {
        for (const g of all.takeAll()) g();
      },
      { once: true },
    );
  }
  return watchers.add(f);
}

function unwatchAbort(signal: AbortSignal, entry: CallbackEntry | undefined): void {
  if (entry !== undefined) abortWatchers.get(signal)?.remove(entry);
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DeliveryAbortedError('delivery aborted'));
    const timer = setTimeout(() => {
      if (signal !== undefined) unwatchAbort(signal, watch);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new DeliveryAbortedError('delivery aborted'));
    };
    const watch = signal === undefined ? undefined : whenAborted(signal, onAbort);
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
  const requestHeaders = isEmpty(options.headers)
    ? message.headers
    : { ...options.headers, ...message.headers };
  const local = options.local !== undefined && sentAsIs(options.headers) ? options.local : undefined;
  const attempts: AttemptRecord[] = [];
  let waited = 0;
  for (let retry = 0; ; retry++) {
    if (options.signal?.aborted) throw new DeliveryAbortedError('delivery aborted');
    let status = -1;
    let body: Buffer = EMPTY;
    let error = '';
    let headers: Readonly<Record<string, string>> = {};
    const started = performance.now();
    try {
      const answer =
        local === undefined
          ? await post(url, requestHeaders, message.body, config.timeoutMs, options)
          : await postLocal(local, requestHeaders, message.body, config.timeoutMs, options.signal);
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
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** Set when the answer's head came but its body did not arrive whole. */
  readonly bodyError?: Error;
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * A keep-alive connection pool for `deliver`: at most `connections` per origin (undefined = unbounded),
 * queued beyond that. undici's own head and body timeouts (300 s by default) are off: `timeoutMs` bounds
 * an attempt, and without it nothing does, as the dispatcher's http.Client without a timeout.
 */
export class ConnectionPool {
  #pool: Dispatcher;
  #connections: number | undefined;
  /** Pools replaced by `resize`, finishing the requests they hold. */
  readonly #retiring = new Set<Dispatcher>();

  constructor(connections?: number) {
    this.#connections = connections;
    this.#pool = ConnectionPool.#create(connections);
  }

  static #create(connections: number | undefined): Dispatcher {
    return new Agent({ connections: connections ?? null, headersTimeout: 0, bodyTimeout: 0 });
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#pool.dispatch(options, handler);
  }

  /**
   * undici sizes a pool once: a new size is a new pool for the attempts from now on (a retry included),
   * and the old one closes once the requests it holds have ended.
   */
  resize(connections: number | undefined): void {
    if (connections === this.#connections) return;
    const old = this.#pool;
    this.#connections = connections;
    this.#pool = ConnectionPool.#create(connections);
    this.#retiring.add(old);
    old
      .close()
      .catch(() => {})
      .finally(() => this.#retiring.delete(old));
  }

  /** Cuts every connection and fails the requests in progress (the broker's abort). */
  async destroy(): Promise<void> {
    await Promise.all([this.#pool, ...this.#retiring].map((p) => p.destroy().catch(() => {})));
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is matched
const ALTERED_BY_HTTP = /[\x00-\x08\x0a-\x1f\x7f]|^[ \t]|[ \t]$/;

/**
 * Whether extra headers reach a node:http server as written. The `ce-*` and content-type values come from
 * `toBinary`'s raw encoding, which never writes what HTTP would change; the trace headers are copied.
 */
function sentAsIs(headers: Readonly<Record<string, string>> | undefined): boolean {
  for (const name in headers) {
    const value = headers[name] as string;
    if (name !== name.toLowerCase() || ALTERED_BY_HTTP.test(value)) return false;
  }
  return true;
}

/** One attempt through a LocalEndpoint, bounded by the same timeout and abort as an HTTP attempt. */
function postLocal(
  local: LocalEndpoint,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<Answer> {
  if (timeoutMs === undefined && signal === undefined) return local(headers, body);
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== undefined) unwatchAbort(signal, watch);
      return true;
    };
    const onAbort = (): void => {
      if (settle()) reject(new DeliveryAbortedError('delivery aborted'));
    };
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            if (settle()) reject(new TimeoutError(`timeout after ${timeoutMs} ms`));
          }, timeoutMs);
    let watch: CallbackEntry | undefined;
    if (signal?.aborted) return onAbort();
    if (signal !== undefined) watch = whenAborted(signal, onAbort);
    local(headers, body).then(
      (answer) => {
        if (settle()) resolve(answer);
      },
      (err: unknown) => {
        if (settle()) reject(err as Error);
      },
    );
  });
}

let defaultPool: ConnectionPool | undefined;

/** Where a POST goes, as undici's dispatch takes it. */
interface Target {
  readonly origin: string;
  readonly path: string;
}

/**
 * The targets parsed so far: a broker posts to a handful of URLs (its subscribers, its ingress, its
 * dead-letter sinks) and would otherwise parse the same one into a new URL object for every attempt.
 * Bounded: a caller posting to ever new URLs only empties it now and then.
 */
const targets = new Map<string, Target>();
const MAX_TARGETS = 1024;

function targetOf(url: string): Target {
  let target = targets.get(url);
  if (target === undefined) {
    const parsed = new URL(url);
    target = { origin: parsed.origin, path: parsed.pathname + parsed.search };
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(url, target);
  }
  return target;
}

function isEmpty(headers: Readonly<Record<string, string>> | undefined): boolean {
  for (const _ in headers) return false;
  return true;
}

/**
 * One POST through undici's dispatcher API, neither `fetch` (its Request/Headers objects, web streams and
 * two abort signals per attempt were ~30 % of the broker's CPU) nor node:http (a ClientRequest, an
 * OutgoingMessage and header objects per attempt; docs/performance.md). One timer bounds the whole
 * attempt (head and body), as the dispatcher's http.Client timeout does.
 */
function post(
  url: string,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
  timeoutMs: number | undefined,
  options: DeliverOptions,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = targetOf(url);
    defaultPool ??= new ConnectionPool();
    const pool = options.pool ?? defaultPool;
    new PostHandler(resolve, reject, timeoutMs, options.signal).send(pool, target, headers, body);
  });
}

/** The answer to one POST, as undici's handler callbacks deliver it. */
class PostHandler implements Dispatcher.DispatchHandler {
  readonly #resolve: (answer: Answer) => void;
  readonly #reject: (err: Error) => void;
  readonly #signal: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** Why the attempt was cut before undici started it (it is then aborted as it starts). */
  #cut: Error | undefined;
  #settled = false;
  // Once the head has come, a failure is the body's: the answer is there, its body is not.
  #status = -1;
  #headers: Record<string, string> | undefined;
  #chunks: Buffer[] = [];
  #watch: CallbackEntry | undefined;

  constructor(
    resolve: (answer: Answer) => void,
    reject: (err: Error) => void,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    if (timeoutMs !== undefined) {
      this.#timer = setTimeout(
        () => this.#abort(new TimeoutError(`timeout after ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
  }

  send(pool: ConnectionPool, target: Target, headers: Readonly<Record<string, string>>, body: Buffer): void {
    const signal = this.#signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#fail(new DeliveryAbortedError('delivery aborted'));
        return;
      }
      this.#watch = whenAborted(signal, this.#onAbort);
    }
    pool.dispatch({ origin: target.origin, path: target.path, method: 'POST', headers, body }, this);
  }

  readonly #onAbort = (): void => this.#abort(new DeliveryAbortedError('delivery aborted'));

  #abort(err: Error): void {
    if (this.#controller !== undefined) this.#controller.abort(err);
    else {
      // Still queued for a connection: settle now, drop it when undici starts it.
      this.#cut = err;
      this.#fail(err);
    }
  }

  #done(): void {
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#signal !== undefined) unwatchAbort(this.#signal, this.#watch);
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#done();
    if (this.#headers === undefined) this.#reject(err);
    else this.#resolve({ status: this.#status, headers: this.#headers, body: EMPTY, bodyError: err });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#cut !== undefined) controller.abort(this.#cut);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: ParsedHeaders): void {
    this.#status = status;
    this.#headers = flatHeaders(headers);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    this.#done();
    const chunks = this.#chunks;
    this.#resolve({
      status: this.#status,
      headers: this.#headers ?? {},
      body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
    });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    // Our own cuts (timeout, abort) keep their reason; anything else after the head is the connection's.
    const own = err instanceof TimeoutError || err instanceof DeliveryAbortedError;
    this.#fail(
      own || this.#headers === undefined ? err : new Error('connection closed before the body ended'),
    );
  }
}

const EMPTY = Buffer.alloc(0);

/** undici's parsed response headers: lower-case names, repeated ones as arrays. */
type ParsedHeaders = Record<string, string | string[] | undefined>;

/**
 * Response headers as fetch's `Headers` shows them: one string per name, repeated values joined. In place:
 * undici parses a fresh object per answer.
 */
function flatHeaders(headers: ParsedHeaders): Record<string, string> {
  for (const name in headers) {
    const value = headers[name];
    if (Array.isArray(value)) headers[name] = value.join(', ');
  }
  return headers as Record<string, string>;
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
