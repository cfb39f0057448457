/**
 * The framework-free core: one HTTP request (headers + body) in, one HTTP answer out. It runs the
 * steps below in this order; each step is its own module, so the node:http server, the local
 * platform and the benchmarks run exactly the same path.
 *
 *   1. decode     cloudevent/receive.ts     headers + body → CloudEvent (strict binding), trace context
 *   2. validate   invoke/admit.ts           accepted type, data against the type's schema
 *   3. guard      idempotency/              claim (source, id): run, replay the record, or "in progress"
 *   4. handle     invoke/handler-call.ts    the function's handler, with its timeout and signal
 *   5. encode     invoke/reply.ts, answer.ts  reply → recorded outcome → binary-mode HTTP answer
 *
 * Every failure on the way is mapped once (cloudevent/problem.ts) and reported once (invoke/report.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { problemBody, toProblem } from './cloudevent/problem.ts';
import { type ReceiveOptions, receive } from './cloudevent/receive.ts';
import { EventInProgressError } from './errors.ts';
import { ClaimLostError, type IdempotencyGuard } from './idempotency/idempotency-store.ts';
import { type Admit, admission } from './invoke/admit.ts';
import { answerOf, type HttpAnswer, problemAnswer } from './invoke/answer.ts';
import { callHandler, type HandlerCallOptions, HandlerTimeoutError } from './invoke/handler-call.ts';
import { type ReplyShaper, replyShaper } from './invoke/reply.ts';
import { type Invocation, Reporter } from './invoke/report.ts';
import type { JsonLogger } from './log.ts';
import type { DocumentStore } from './ports/document-store.ts';
import type { Claim, StoredOutcome } from './ports/idempotency-store.ts';
import type { Metrics } from './ports/metrics.ts';
import type { SchemaSet } from './schema-set.ts';
import { continueTrace, type TraceContext } from './trace.ts';
import type { CloudEvent, SluiceFunction } from './types.ts';

export type { HttpAnswer } from './invoke/answer.ts';
export { replyId } from './invoke/reply.ts';

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

/** An event that passed steps 1 and 2. */
interface Admitted extends Invocation {
  readonly event: CloudEvent;
}

export class Invoker {
  readonly #guard: IdempotencyGuard | undefined;
  readonly #admit: Admit;
  readonly #shape: ReplyShaper;
  readonly #handler: HandlerCallOptions;
  readonly #report: Reporter;
  #coldStart = true;
  /** Aborted on shutdown timeout: handlers still running then are told to stop. */
  readonly shutdownSignal = new AbortController();

  constructor(deps: InvokerDeps) {
    // `idempotent: false`: the handler runs without the guard and nothing is recorded.
    this.#guard = deps.fn.idempotent === false ? undefined : deps.guard;
    this.#admit = admission(deps.fn, deps.schemas, deps.serviceName);
    this.#shape = replyShaper({
      schemas: deps.schemas,
      serviceName: deps.serviceName,
      eventSource: deps.eventSource,
      emits: deps.fn.emits,
    });
    this.#handler = {
      fn: deps.fn,
      store: deps.store,
      log: deps.log,
      serviceName: deps.serviceName,
      timeoutMs: deps.handlerTimeoutMs,
      shutdown: this.shutdownSignal.signal,
    };
    this.#report = new Reporter(deps.log, deps.metrics);
  }

  /** One request in, one answer out. Never rejects: every error becomes a problem+json answer. */
  async invoke(headers: IncomingHttpHeaders, body: Buffer, options?: ReceiveOptions): Promise<HttpAnswer> {
    const started = performance.now();
    const coldStart = this.#coldStart;
    this.#coldStart = false;
    let event: CloudEvent | undefined;
    let trace: TraceContext | undefined;
    try {
      event = receive(headers, body, options).event;
      trace = continueTrace(
        event.extensions.traceparent ?? headers.traceparent,
        event.extensions.tracestate ?? headers.tracestate,
      );
      this.#admit(event);
    } catch (err) {
      trace ??= continueTrace(headers.traceparent, headers.tracestate);
      return this.#failed({ event, trace, started, coldStart }, err);
    }
    const inv: Admitted = { event, trace, started, coldStart };
    if (this.#guard === undefined) return this.#run(inv, undefined);
    let claim: Awaited<ReturnType<IdempotencyGuard['claim']>>;
    try {
      claim = await this.#guard.claim(event.source, event.id);
    } catch (err) {
      return this.#failed(inv, err);
    }
    if (claim.kind === 'completed') {
      this.#report.succeeded(inv, 'replayed', claim.outcome.status, claim.outcome.reply);
      return answerOf(claim.outcome);
    }
    if (claim.kind !== 'claimed') {
      const why =
        claim.kind === 'expired'
          ? 'has an expired idempotency record that is about to be removed'
          : 'is being processed by another request';
      return this.#failed(
        inv,
        new EventInProgressError(`event ${event.id} from ${event.source} ${why}`, { retryAfterSeconds: 1 }),
      );
    }
    return this.#run(inv, claim);
  }

  /** Steps 4 and 5 under `claim` (none when unguarded): handle, record, answer. */
  async #run(inv: Admitted, claim: Claim | undefined): Promise<HttpAnswer> {
    let outcome: StoredOutcome;
    try {
      const reply = await callHandler(this.#handler, inv.event, inv.trace);
      outcome =
        reply === undefined
          ? { status: 204 }
          : { status: 200, reply: this.#shape(inv.event, reply, inv.trace) };
      if (claim !== undefined) await this.#guard?.complete(claim, outcome);
    } catch (err) {
      return this.#failed(inv, err, claim);
    }
    this.#report.succeeded(inv, 'success', outcome.status, outcome.reply);
    return answerOf(outcome);
  }

  /**
   * Maps the error to its answer and reports it. Under a claim, a permanent rejection is recorded as
   * the event's outcome (a redelivery replays it); any other failure gives the claim back so the retry
   * runs again, except a timed-out handler, which may still be running and keeps its claim until the
   * lock passes. A claim that was taken over meanwhile records nothing: the newer claim's outcome
   * stands, and this request answers 503 so the retry replays it.
   */
  async #failed(inv: Invocation, err: unknown, claim?: Claim): Promise<HttpAnswer> {
    let cause = err;
    let answer = toProblem(cause);
    let body = problemBody(answer.problem);
    const guard = this.#guard;
    if (claim !== undefined && guard !== undefined) {
      try {
        if (answer.outcome === 'rejected') {
          await guard.complete(claim, { status: answer.status, problem: body.toString('utf8') });
        } else if (!(err instanceof HandlerTimeoutError || err instanceof ClaimLostError)) {
          await guard.release(claim);
        }
      } catch (storeErr) {
        if (storeErr instanceof ClaimLostError) {
          cause = storeErr;
          answer = toProblem(cause);
          body = problemBody(answer.problem);
        } else {
          this.#report.storeFailed('could not update the idempotency record', storeErr);
        }
      }
    }
    this.#report.failed(inv, cause, answer);
    return problemAnswer(answer, body);
  }
}
