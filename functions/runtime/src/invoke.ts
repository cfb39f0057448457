/**
 * The framework-free core: one HTTP request (headers + body) in, one HTTP answer out. Parsing,
 * validation, the idempotency guard, the handler call, reply shaping and error mapping all happen
 * here, in this order, so the node:http server, the express adapter, the local platform and the
 * benchmarks run exactly the same path.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { toBinary } from './cloudevent/encode.ts';
import { PROBLEM_CONTENT_TYPE, problemBody, toProblem } from './cloudevent/problem.ts';
import { receive } from './cloudevent/receive.ts';
import { InvalidEventError, InvalidReplyError, TransientError } from './errors.ts';
import type { IdempotencyGuard } from './idempotency/idempotency-store.ts';
import { errorFields, type JsonLogger } from './log.ts';
import type { DocumentStore } from './ports/document-store.ts';
import type { StoredOutcome, StoredReply } from './ports/idempotency-store.ts';
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

const EXTENSION_NAME = /^[a-z0-9]+$/;
const RESERVED = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
]);
const EMPTY = Buffer.alloc(0);

/** Deterministic reply id: a redelivered event that runs again emits the same id, so consumers dedupe. */
export function replyId(serviceName: string, source: string, id: string, type: string): string {
  const h = createHash('sha256').update(`${serviceName}\0${source}\0${id}\0${type}`).digest('hex');
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

  async invoke(headers: IncomingHttpHeaders, body: Buffer): Promise<HttpAnswer> {
    const started = performance.now();
    const coldStart = this.#coldStart;
    this.#coldStart = false;
    let event: CloudEvent | undefined;
    let trace: TraceContext | undefined;
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

    let key: string | undefined;
    try {
      if (this.#deps.fn.idempotent === false) {
        const reply = await this.#runHandler(event, trace);
        const stored = reply === undefined ? undefined : this.#shapeReply(event, reply, trace);
        const outcome: StoredOutcome = stored === undefined ? { status: 204 } : { status: 200, reply: stored };
        this.#finish(event, trace, 'success', outcome.status, started, coldStart, stored !== undefined);
        return replay(outcome);
      }
      const claim = await this.#deps.guard.claim(event.source, event.id);
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
      const reply = await this.#runHandler(event, trace);
      const stored = reply === undefined ? undefined : this.#shapeReply(event, reply, trace);
      const outcome: StoredOutcome = stored === undefined ? { status: 204 } : { status: 200, reply: stored };
      await this.#deps.guard.complete(key, outcome);
      this.#finish(event, trace, 'success', outcome.status, started, coldStart, stored !== undefined);
      return replay(outcome);
    } catch (err) {
      return this.#fail(err, event, trace, started, coldStart, key);
    }
  }

  async #runHandler(event: CloudEvent, trace: TraceContext): Promise<ReplyEvent | undefined> {
    const timeout = AbortSignal.timeout(this.#deps.handlerTimeoutMs);
    const signal = AbortSignal.any([timeout, this.shutdownSignal.signal]);
    const context: Context = {
      log: this.#deps.log,
      store: this.#deps.store,
      functionName: this.#deps.serviceName,
      signal,
      traceId: trace.traceId,
    };
    const result = this.#deps.fn.handle(event, context);
    if (!(result instanceof Promise)) return result;
    return await new Promise<ReplyEvent | undefined>((resolve, reject) => {
      const onAbort = (): void =>
        reject(new HandlerTimeoutError(`handler did not finish within ${this.#deps.handlerTimeoutMs} ms`));
      signal.addEventListener('abort', onAbort, { once: true });
      result.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
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
      if (!EXTENSION_NAME.test(name) || RESERVED.has(name))
        throw new InvalidReplyError(`invalid reply extension name "${name}"`);
      extensions[name] = value;
    }
    extensions.traceparent = formatTraceparent(trace);
    if (trace.tracestate !== undefined) extensions.tracestate = trace.tracestate;
    // Correlation: the id of the event that caused this reply, and the id that started the chain.
    extensions.causationid = event.id;
    extensions.correlationid = event.extensions.correlationid ?? event.id;
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

  async #fail(
    err: unknown,
    event: CloudEvent | undefined,
    trace: TraceContext,
    started: number,
    coldStart: boolean,
    key: string | undefined,
  ): Promise<HttpAnswer> {
    const answer = toProblem(err);
    const body = problemBody(answer.problem);
    if (key !== undefined) {
      try {
        if (answer.outcome === 'rejected') {
          // A permanent rejection is an outcome: a redelivery answers the same without running again.
          await this.#deps.guard.complete(key, { status: answer.status, problem: body.toString('utf8') });
        } else if (!(err instanceof HandlerTimeoutError)) {
          // Failed and retriable: give the key back. A timed-out handler may still be running, so its
          // claim is kept until the lock expires instead.
          await this.#deps.guard.release(key);
        }
      } catch (storeErr) {
        this.#deps.log.error('could not update the idempotency record', errorFields(storeErr));
      }
    }
    const level = answer.outcome === 'error' ? 'error' : answer.outcome === 'transient' ? 'warn' : 'info';
    const fields: Record<string, unknown> = {
      ...eventFields(event, trace),
      'event.kind': 'event',
      'event.outcome': 'failure',
      'event.duration': Math.round((performance.now() - started) * 1e6),
      'event.reason': answer.reason,
      'faas.coldstart': coldStart,
      'http.response.status_code': answer.status,
      'sluice.outcome': answer.outcome,
    };
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
      this.#deps.log.info(
        outcome === 'replayed' ? 'event replayed from idempotency record' : 'event processed',
        {
          ...eventFields(event, trace),
          'event.kind': 'event',
          'event.outcome': 'success',
          'event.duration': Math.round(durationSeconds * 1e9),
          'faas.coldstart': coldStart,
          'http.response.status_code': status,
          'sluice.outcome': outcome,
        },
      );
    }
    this.#deps.metrics.invocation({ eventType: event.type, outcome, durationSeconds, coldStart, replied });
  }
}

class HandlerTimeoutError extends TransientError {
  override name = 'HandlerTimeoutError';
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
