/**
 * The framework-free core: one HTTP request (headers + body) in, one HTTP answer out. Parsing,
 * validation, the idempotency guard, the handler call, reply shaping and error mapping all happen
 * here, in this order, so the node:http server, the express adapter, the local platform and the
 * benchmarks run exactly the same path.
 */
import { hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { toBinary } from './cloudevent/encode.ts';
import { PROBLEM_CONTENT_TYPE, problemBody, toProblem } from './cloudevent/problem.ts';
import { ATTRIBUTE_NAME, CONTEXT_ATTRIBUTES, receive } from './cloudevent/receive.ts';
import {
  CAUSATION_EXTENSION,
  CAUSATION_FIELD,
  CORRELATION_EXTENSION,
  CORRELATION_FIELD,
  correlationOf,
} from './correlation.ts';
import { InvalidEventError, InvalidReplyError, TransientError } from './errors.ts';
import type { IdempotencyGuard } from './idempotency/idempotency-store.ts';
import { errorFields, type JsonLogger } from './log.ts';
import type { DocumentStore } from './ports/document-store.ts';
import type { ClaimResult, StoredOutcome, StoredReply } from './ports/idempotency-store.ts';
import type { Metrics, Outcome } from './ports/metrics.ts';
import { continueTrace, formatTraceparent, type TraceContext } from './trace.ts';
import type { CloudEvent, Context, ExtensionValue, ReplyEvent, SluiceFunction } from './types.ts';
import type { SchemaSet } from './validate.ts';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface InvokerDeps {
  readonly fn: SluiceFunction;
  readonly schemas: SchemaSet;
  readonly store: DocumentStore;
  readonly guard: IdempotencyGuard;
  readonly log: JsonLogger;
  readonly metrics: Metrics;
  readonly serviceName: string;
  readonly eventSource: string;
  readonly handlerTimeoutMs: number;
}

const EMPTY = Buffer.alloc(0);

/** Deterministic reply id: a redelivered event that runs again emits the same id, so consumers dedupe. */
export function replyId(serviceName: string, source: string, id: string, type: string): string {
  const h = hash('sha256', `${serviceName}\0${source}\0${id}\0${type}`, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? '0', 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class Invoker {
  readonly #deps: InvokerDeps;
  readonly #accepts: ReadonlySet<string>;
  readonly #emits: ReadonlySet<string> | undefined;
  #coldStart = true;
  /** Aborted on shutdown timeout: handlers still running then are told to stop. */
  readonly shutdownSignal = new AbortController();

  constructor(deps: InvokerDeps) {
    this.#deps = deps;
    this.#accepts = new Set(deps.fn.accepts);
    this.#emits = deps.fn.emits === undefined ? undefined : new Set(deps.fn.emits);
  }

  /** handle(), always as a promise. */
  async invoke(headers: IncomingHttpHeaders, body: Buffer): Promise<HttpAnswer> {
    return this.handle(headers, body);
  }

  /**
   * One request in, one answer out. The answer comes back synchronously when nothing on the way is
   * asynchronous (an in-process store and a handler that returns a value, not a promise): then the
   * event costs no promise, no microtask and no timer. Otherwise it is a promise. Never throws.
   */
  handle(headers: IncomingHttpHeaders, body: Buffer): HttpAnswer | Promise<HttpAnswer> {
    const started = performance.now();
    const coldStart = this.#coldStart;
    this.#coldStart = false;
    let event: CloudEvent | undefined;
    let trace: TraceContext | undefined;
    let claim: ClaimResult | Promise<ClaimResult>;
    try {
      event = receive(headers, body).event;
      trace = continueTrace(
        event.extensions.traceparent ?? headers.traceparent,
        event.extensions.tracestate ?? headers.tracestate,
      );
      if (this.#deps.fn.acceptsAny !== true && !this.#accepts.has(event.type)) {
        throw new InvalidEventError(
          `${this.#deps.serviceName} does not accept events of type ${event.type}; it accepts ${[...this.#accepts].join(', ')}`,
          [{ name: 'type', reason: 'not accepted by this function (check the Trigger filter)' }],
          400,
          'unaccepted-type',
        );
      }
      this.#deps.schemas.validate(event);
    } catch (err) {
      return this.#fail(
        err,
        event,
        trace ?? continueTrace(headers.traceparent, headers.tracestate),
        started,
        coldStart,
        undefined,
      );
    }
    if (this.#deps.fn.idempotent === false) return this.#unguarded(event, trace, started, coldStart);
    const guard = this.#deps.guard;
    try {
      claim = guard.claimNow(event.source, event.id) ?? guard.claim(event.source, event.id);
    } catch (err) {
      return this.#fail(err, event, trace, started, coldStart, undefined);
    }
    if (!(claim instanceof Promise)) return this.#claimed(claim, event, trace, started, coldStart);
    const e = event;
    const t = trace;
    return claim.then(
      (c) => this.#claimed(c, e, t, started, coldStart),
      (err: unknown) => this.#fail(err, e, t, started, coldStart, undefined),
    );
  }

  #claimed(
    claim: ClaimResult,
    event: CloudEvent,
    trace: TraceContext,
    started: number,
    coldStart: boolean,
  ): HttpAnswer | Promise<HttpAnswer> {
    let key: string | undefined;
    try {
      if (claim.kind === 'completed') {
        const answer = replay(claim.outcome);
        this.#finish(
          event,
          trace,
          'replayed',
          answer.status,
          started,
          coldStart,
          claim.outcome.reply !== undefined,
        );
        return answer;
      }
      if (claim.kind === 'in-progress') {
        throw new TransientError(
          `event ${event.id} from ${event.source} is being processed by another request`,
          {
            retryAfterSeconds: 1,
          },
        );
      }
      key = claim.key;
      const reply = this.#runHandler(event, trace);
      if (!(reply instanceof Promise))
        return this.#complete(reply, claim.key, event, trace, started, coldStart);
      const k = claim.key;
      return reply.then(
        (r) => this.#complete(r, k, event, trace, started, coldStart),
        (err: unknown) => this.#fail(err, event, trace, started, coldStart, k),
      );
    } catch (err) {
      return this.#fail(err, event, trace, started, coldStart, key);
    }
  }

  /** `idempotent: false`: the handler runs without the guard; nothing is recorded. */
  #unguarded(
    event: CloudEvent,
    trace: TraceContext,
    started: number,
    coldStart: boolean,
  ): HttpAnswer | Promise<HttpAnswer> {
    try {
      const reply = this.#runHandler(event, trace);
      if (!(reply instanceof Promise))
        return this.#complete(reply, undefined, event, trace, started, coldStart);
      return reply.then(
        (r) => this.#complete(r, undefined, event, trace, started, coldStart),
        (err: unknown) => this.#fail(err, event, trace, started, coldStart, undefined),
      );
    } catch (err) {
      return this.#fail(err, event, trace, started, coldStart, undefined);
    }
  }

  /**
   * Shapes the reply, records the outcome under `key` (none when unguarded), answers; a failure on the
   * way is answered by #fail.
   */
  #complete(
    reply: ReplyEvent | undefined,
    key: string | undefined,
    event: CloudEvent,
    trace: TraceContext,
    started: number,
    coldStart: boolean,
  ): HttpAnswer | Promise<HttpAnswer> {
    try {
      const stored = reply === undefined ? undefined : this.#shapeReply(event, reply, trace);
      const outcome: StoredOutcome = stored === undefined ? { status: 204 } : { status: 200, reply: stored };
      if (key === undefined || this.#deps.guard.completeNow(key, outcome)) {
        this.#finish(event, trace, 'success', outcome.status, started, coldStart, stored !== undefined);
        return replay(outcome);
      }
      return this.#deps.guard
        .complete(key, outcome)
        .then(() => {
          this.#finish(event, trace, 'success', outcome.status, started, coldStart, stored !== undefined);
          return replay(outcome);
        })
        .catch((err: unknown) => this.#fail(err, event, trace, started, coldStart, key));
    } catch (err) {
      return this.#fail(err, event, trace, started, coldStart, key);
    }
  }

  /**
   * Calls the handler. A value comes back as is; a promise is raced against the handler timeout and
   * the shutdown signal. The context's AbortSignal (and its timer) is made only if the handler reads it.
   */
  #runHandler(
    event: CloudEvent,
    trace: TraceContext,
  ): ReplyEvent | undefined | Promise<ReplyEvent | undefined> {
    const run = new HandlerRun(this.shutdownSignal.signal, this.#deps.handlerTimeoutMs);
    const log = this.#deps.log;
    let eventLog: Context['log'] | undefined;
    const context: Context = {
      // Made only when the handler logs: the common path writes just the runtime's outcome line.
      get log() {
        eventLog ??= log.child(eventFields(event, trace));
        return eventLog;
      },
      store: this.#deps.store,
      functionName: this.#deps.serviceName,
      get signal() {
        return run.signal();
      },
      traceId: trace.traceId,
    };
    let result: ReturnType<SluiceFunction['handle']>;
    try {
      result = this.#deps.fn.handle(event, context);
    } catch (err) {
      run.end();
      throw err;
    }
    if (!(result instanceof Promise)) {
      run.end();
      return result;
    }
    return run.race(result);
  }

  #shapeReply(event: CloudEvent, reply: ReplyEvent, trace: TraceContext): StoredReply {
    if (typeof reply !== 'object' || reply === null || typeof reply.type !== 'string' || reply.type === '') {
      throw new InvalidReplyError('handler returned something that is not a reply event ({ type, data? })');
    }
    if (this.#emits !== undefined && !this.#emits.has(reply.type)) {
      throw new InvalidReplyError(`handler replied with type ${reply.type}, which is not listed in emits`);
    }
    // The reply is the next function's input: hold it to its schema here, where the bug is.
    const invalid = this.#deps.schemas.check(reply.type, reply.data);
    if (invalid.length > 0) {
      throw new InvalidReplyError(
        `reply of type ${reply.type} does not match its schema: ${invalid.map((p) => `${p.name} ${p.reason}`).join('; ')}`,
      );
    }
    const extensions: Record<string, ExtensionValue> = {};
    for (const [name, value] of Object.entries(reply.extensions ?? {})) {
      if (!ATTRIBUTE_NAME.test(name) || CONTEXT_ATTRIBUTES.has(name) || name === 'data')
        throw new InvalidReplyError(`invalid reply extension name "${name}"`);
      extensions[name] = value;
    }
    extensions.traceparent = formatTraceparent(trace);
    if (trace.tracestate !== undefined) extensions.tracestate = trace.tracestate;
    // Correlation: the id of the event that caused this reply, and the id that started the chain.
    extensions[CAUSATION_EXTENSION] = event.id;
    extensions[CORRELATION_EXTENSION] = correlationOf(event);
    const stored: Record<string, unknown> = {
      id: replyId(this.#deps.serviceName, event.source, event.id, reply.type),
      source: this.#deps.eventSource,
      type: reply.type,
      time: new Date().toISOString(),
      extensions,
    };
    if (reply.subject !== undefined) stored.subject = reply.subject;
    if (reply.data !== undefined) {
      stored.datacontenttype = 'application/json';
      stored.data = JSON.stringify(reply.data);
    }
    return stored as unknown as StoredReply;
  }

  #fail(
    err: unknown,
    event: CloudEvent | undefined,
    trace: TraceContext,
    started: number,
    coldStart: boolean,
    key: string | undefined,
  ): HttpAnswer | Promise<HttpAnswer> {
    const answer = toProblem(err);
    const body = problemBody(answer.problem);
    if (key !== undefined) {
      const guard = this.#deps.guard;
      let pending: Promise<void> | undefined;
      try {
        if (answer.outcome === 'rejected') {
          // A permanent rejection is an outcome: a redelivery answers the same without running again.
          const outcome: StoredOutcome = { status: answer.status, problem: body.toString('utf8') };
          if (!guard.completeNow(key, outcome)) pending = guard.complete(key, outcome);
        } else if (!(err instanceof HandlerTimeoutError)) {
          // Failed and retriable: give the key back. A timed-out handler may still be running, so its
          // claim is kept until the lock expires instead.
          if (!guard.releaseNow(key)) pending = guard.release(key);
        }
      } catch (storeErr) {
        this.#deps.log.error('could not update the idempotency record', errorFields(storeErr));
      }
      if (pending !== undefined) {
        return pending.then(
          () => this.#failed(err, answer, body, event, trace, started, coldStart),
          (storeErr: unknown) => {
            this.#deps.log.error('could not update the idempotency record', errorFields(storeErr));
            return this.#failed(err, answer, body, event, trace, started, coldStart);
          },
        );
      }
    }
    return this.#failed(err, answer, body, event, trace, started, coldStart);
  }

  /** Logs and counts a failed invocation; the problem+json answer. */
  #failed(
    err: unknown,
    answer: ReturnType<typeof toProblem>,
    body: Buffer,
    event: CloudEvent | undefined,
    trace: TraceContext,
    started: number,
    coldStart: boolean,
  ): HttpAnswer {
    const level = answer.outcome === 'error' ? 'error' : answer.outcome === 'transient' ? 'warn' : 'info';
    const fields = eventFields(event, trace);
    fields['event.kind'] = 'event';
    fields['event.outcome'] = 'failure';
    fields['event.duration'] = Math.round((performance.now() - started) * 1e6);
    fields['event.reason'] = answer.reason;
    fields['faas.coldstart'] = coldStart;
    fields['http.response.status_code'] = answer.status;
    fields['sluice.outcome'] = answer.outcome;
    if (answer.outcome === 'error' || answer.outcome === 'transient') Object.assign(fields, errorFields(err));
    else fields['error.message'] = answer.problem.detail;
    this.#deps.log.log(level, `event ${answer.outcome}: ${answer.problem.detail}`, fields);
    this.#deps.metrics.invocation({
      eventType: event?.type ?? 'unknown',
      outcome: answer.outcome,
      durationSeconds: (performance.now() - started) / 1000,
      coldStart,
      reason: answer.reason,
      replied: false,
    });
    return {
      status: answer.status,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...answer.headers },
      body,
    };
  }

  #finish(
    event: CloudEvent,
    trace: TraceContext,
    outcome: Outcome,
    status: number,
    started: number,
    coldStart: boolean,
    replied: boolean,
  ): void {
    const durationSeconds = (performance.now() - started) / 1000;
    if (this.#deps.log.enabled('info')) {
      // Added to one object in the order of the former spread: the same line, one allocation less.
      const fields = eventFields(event, trace);
      fields['event.kind'] = 'event';
      fields['event.outcome'] = 'success';
      fields['event.duration'] = Math.round(durationSeconds * 1e9);
      fields['faas.coldstart'] = coldStart;
      fields['http.response.status_code'] = status;
      fields['sluice.outcome'] = outcome;
      this.#deps.log.info(
        outcome === 'replayed' ? 'event replayed from idempotency record' : 'event processed',
        fields,
      );
    }
    this.#deps.metrics.invocation({ eventType: event.type, outcome, durationSeconds, coldStart, replied });
  }
}

class HandlerTimeoutError extends TransientError {
  override name = 'HandlerTimeoutError';
}

/**
 * One handler call's timeout and AbortSignal, made lazily: a handler that returns a value and never
 * reads `context.signal` (the common case) costs no AbortController, no timer and no listener. The
 * signal aborts when the handler times out (a TimeoutError, as AbortSignal.timeout) or the process
 * shuts down (the shutdown reason); the timer counts from the handler's start.
 */
class HandlerRun {
  readonly #shutdown: AbortSignal;
  readonly #timeoutMs: number;
  readonly #started = performance.now();
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reject: ((err: Error) => void) | undefined;
  #ended = false;

  constructor(shutdown: AbortSignal, timeoutMs: number) {
    this.#shutdown = shutdown;
    this.#timeoutMs = timeoutMs;
  }

  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#shutdown.aborted) this.#controller.abort(this.#shutdown.reason);
      else this.#arm();
    }
    return this.#controller.signal;
  }

  /** The handler's promise, rejected with HandlerTimeoutError on timeout or shutdown. */
  race<T>(result: Promise<T>): Promise<T> {
    // Shutdown already begun: like an already-aborted AbortSignal.any, nothing more will fire.
    if (this.#shutdown.aborted) {
      this.end();
      return result;
    }
    this.#arm();
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      result.then(
        (value) => {
          this.end();
          resolve(value);
        },
        (err: unknown) => {
          this.end();
          reject(err);
        },
      );
    });
  }

  /** The handler has settled: no timer, no listener left behind. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#shutdown.removeEventListener('abort', this.#onShutdown);
    }
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#ended) return;
    const left = Math.max(0, this.#timeoutMs - (performance.now() - this.#started));
    this.#timer = setTimeout(this.#onTimeout, left);
    this.#timer.unref();
    this.#shutdown.addEventListener('abort', this.#onShutdown, { once: true });
  }

  readonly #onTimeout = (): void => {
    this.#abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  };

  readonly #onShutdown = (): void => {
    this.#abort(this.#shutdown.reason);
  };

  #abort(reason: unknown): void {
    this.#controller?.abort(reason);
    this.#reject?.(new HandlerTimeoutError(`handler did not finish within ${this.#timeoutMs} ms`));
    this.end();
  }
}

function eventFields(event: CloudEvent | undefined, trace: TraceContext): Record<string, unknown> {
  const fields: Record<string, unknown> = { 'trace.id': trace.traceId, 'span.id': trace.spanId };
  if (event !== undefined) {
    fields['event.id'] = event.id;
    fields['event.action'] = event.type;
    fields['cloudevents.event_id'] = event.id;
    fields['cloudevents.event_type'] = event.type;
    fields['cloudevents.event_source'] = event.source;
    if (event.subject !== undefined) fields['cloudevents.event_subject'] = event.subject;
    // Lineage: joins one flow's lines across steps even where the trace context is lost (correlation.ts).
    fields[CORRELATION_FIELD] = correlationOf(event);
    const causation = event.extensions[CAUSATION_EXTENSION];
    if (causation !== undefined) fields[CAUSATION_FIELD] = causation;
  }
  return fields;
}

/** Recorded outcome → HTTP answer; the same bytes on first run and on every replay. */
function replay(outcome: StoredOutcome): HttpAnswer {
  if (outcome.reply !== undefined) {
    const r = outcome.reply;
    const event: Record<string, unknown> = {
      specversion: '1.0',
      id: r.id,
      source: r.source,
      type: r.type,
      time: r.time,
      extensions: r.extensions,
    };
    if (r.subject !== undefined) event.subject = r.subject;
    const message = toBinary(event as unknown as CloudEvent);
    const headers = message.headers;
    if (r.data !== undefined) headers['content-type'] = r.datacontenttype ?? 'application/json';
    return { status: outcome.status, headers, body: r.data === undefined ? EMPTY : Buffer.from(r.data) };
  }
  if (outcome.problem !== undefined) {
    return {
      status: outcome.status,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
      body: Buffer.from(outcome.problem),
    };
  }
  return { status: outcome.status, headers: {}, body: EMPTY };
}
