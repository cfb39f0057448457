/**
 * The contract between a function and the runtime. A function folder's `handler.ts` exports
 * `accepts` and `handle`; everything else is optional. User code never touches HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Router } from 'express';
import type { DocumentStore } from './ports/document-store.ts';

export type ExtensionValue = string | number | boolean;

/**
 * A CloudEvent as received: validated, immutable, extensions kept apart from core attributes. `T` is the
 * data's type, `K` the event's `type` (a literal in a typed handler, so a union of events narrows on it).
 */
export interface CloudEvent<T = unknown, K extends string = string> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: K;
  readonly subject?: string;
  readonly time?: string;
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  /**
   * The data as the function reads it: JSON parsed (also when no datacontenttype is given and the bytes
   * are JSON), text as a string, anything else the bytes. JSON numbers are JavaScript numbers: integers
   * beyond 2^53 are rounded here; read `dataBytes` for the exact value.
   */
  readonly data: T;
  /**
   * The data exactly as it travelled, absent when there is none: the binary-mode body, the structured-mode
   * `data` member's JSON text as written (large integers, `1.10`, key order and escapes kept), or
   * `data_base64` decoded. Located on first read, so it costs nothing when unused. Not copied by a spread
   * (`{ ...event, data: other }` is a new event, written from its `data`). For large integers:
   * `JSON.parse(Buffer.from(event.dataBytes).toString(), (_k, v, { source }) => …)` (docs/runtime.md).
   */
  readonly dataBytes?: Uint8Array;
  readonly extensions: Readonly<Record<string, ExtensionValue>>;
}

/** What a handler returns to emit a new event; the runtime fills id, source, time and tracing. */
export interface ReplyEvent<T = unknown, K extends string = string> {
  readonly type: K;
  readonly data?: T;
  readonly subject?: string;
  readonly extensions?: Readonly<Record<string, ExtensionValue>>;
}

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Whether a line at `level` would be written: lets a hot path skip building one that would not. */
  enabled?(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
}

/** Per-invocation context handed to `handle`. */
export interface Context {
  readonly log: Logger;
  /** The function's own data, in the same store as the idempotency records. */
  readonly store: DocumentStore;
  /** `faas.name`: the Knative Service name (`K_SERVICE`). */
  readonly functionName: string;
  /** Aborted when the invocation times out or the process is shutting down. */
  readonly signal: AbortSignal;
  readonly traceId: string;
}

export interface InitContext {
  readonly log: Logger;
  readonly store: DocumentStore;
  readonly functionName: string;
}

/**
 * CloudEvent type → the type of its data: what a function's `events.gen.ts` declares as `Events`, generated
 * from its `schemas/<type>.json` (`make types`, docs/write-a-function.md). The default knows no type: every
 * event's data is `unknown`.
 */
export type EventTypes = Readonly<Record<string, unknown>>;

/**
 * One event of the types `A`, as a union discriminated by `type`: `if (event.type === 'x')` narrows
 * `event.data` to `M['x']`. Sound because the runtime admits only `accepts` and validates each event's data
 * against its schema before the handler runs (invoke/admit.ts).
 */
export type EventOf<M extends object, A extends keyof M & string> = {
  readonly [K in A]: CloudEvent<M[K], K>;
}[A];

/** A reply of one of the types `E`, its `data` checked against that type's schema-derived type. */
export type ReplyOf<M extends object, E extends keyof M & string> = {
  readonly [K in E]: ReplyEvent<M[K], K>;
}[E];

/**
 * What `handle` is. Untyped (`Handler`): any event, any reply. Typed (`Handler<Events, A, E>`, usually
 * through the `Handle` helper of the function's `events.gen.ts`): events of the accepted types `A` with
 * their data typed, and replies of the emitted types `E` only (`never`: the handler replies nothing).
 */
export type Handler<
  M extends object = EventTypes,
  A extends keyof M & string = keyof M & string,
  E extends keyof M & string = keyof M & string,
> = (
  event: EventOf<M, A>,
  context: Context,
) => Promise<ReplyOf<M, E> | undefined> | ReplyOf<M, E> | undefined;

/**
 * The shape of a function module (`functions/<system>/<name>/handler.ts`). The type parameters are those of
 * `Handler`; the runtime loads every module as the untyped default (the types are erased at run time).
 */
export interface SluiceFunction<
  M extends object = EventTypes,
  A extends keyof M & string = keyof M & string,
  E extends keyof M & string = keyof M & string,
> {
  /** CloudEvent types this function accepts; each needs `schemas/<type>.json`. */
  readonly accepts: readonly A[];
  /**
   * Accept events of every type, unvalidated (no `accepts` check; a type without a schema is not
   * validated). For sinks that store whatever they receive, such as functions/platform/dead-letter-sink.
   */
  readonly acceptsAny?: boolean;
  /**
   * `false` runs the handler without the idempotency guard (source + id): for a handler that must see
   * the same event again (a dead letter replayed and dead-lettered once more) and dedupes by itself.
   * @default true
   */
  readonly idempotent?: boolean;
  /** CloudEvent types this function may reply with; each needs `schemas/<type>.json`. */
  readonly emits?: readonly E[];
  readonly handle: Handler<M, A, E>;
  /** Runs once before the function is ready (create indexes, warm caches). */
  readonly init?: (context: InitContext) => Promise<void>;
  /** Runs once on SIGTERM after in-flight events have finished. */
  readonly shutdown?: () => Promise<void>;
  /** Plain HTTP routes (read APIs) mounted beside the event endpoint; express is loaded only if set. */
  readonly routes?: (router: Router, context: InitContext) => void;
}

/** Answers one plain HTTP request; it may stream (write as data arrives, honour backpressure). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What a plain HTTP function records per request: OTel `http.server.request.duration`. */
export interface HttpRequestMetrics {
  /** `route` is the matched route (`http.route`), never the raw path, so its values stay few. */
  request(method: string, route: string, status: number, durationSeconds: number): void;
}

export interface ServeContext {
  readonly log: Logger;
  /** `faas.name`: the Knative Service name (`K_SERVICE`). */
  readonly functionName: string;
  readonly metrics: HttpRequestMetrics;
  /** Aborted on SIGTERM: end long-lived responses (streams) so the drain can finish. */
  readonly signal: AbortSignal;
}

/**
 * A plain HTTP function (knative/func's `http` kind beside `cloudevent`): `handler.ts` exports `serve`
 * instead of `accepts`/`handle`. The runtime still owns the port, configuration, health probes,
 * metrics and the drain on SIGTERM; every other request goes to the handler `serve` returns. No event
 * endpoint, no store, no idempotency guard: for the platform's API gateway and the like.
 */
export interface HttpFunction {
  /** Runs once before the function is ready; throwing stops the start (a bad route table, say). */
  readonly serve: (context: ServeContext) => HttpHandler | Promise<HttpHandler>;
  /** Runs once on SIGTERM after in-flight requests have finished. */
  readonly shutdown?: () => Promise<void>;
}
