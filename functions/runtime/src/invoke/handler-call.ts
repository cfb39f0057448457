/**
 * Step 4, handle: calls the function's `handle` with its context, bounded by the handler timeout and
 * the shutdown signal. The context's AbortSignal (and its timer) is made only if the handler reads it.
 */
import { TransientError } from '../errors.ts';
import type { JsonLogger } from '../log.ts';
import type { DocumentStore } from '../ports/document-store.ts';
import type { TraceContext } from '../trace.ts';
import type { CloudEvent, Context, ReplyEvent, SluiceFunction } from '../types.ts';
import { eventFields } from './report.ts';

/** The handler ran out of time (or the process is shutting down); it may still be running. */
export class HandlerTimeoutError extends TransientError {
  override name = 'HandlerTimeoutError';
}

export interface HandlerCallOptions {
  readonly fn: SluiceFunction;
  readonly store: DocumentStore;
  readonly log: JsonLogger;
  readonly serviceName: string;
  readonly timeoutMs: number;
  /** Aborted on shutdown timeout: handlers still running then are told to stop. */
  readonly shutdown: AbortSignal;
}

/**
 * Runs the handler for one event. Returns its reply (or undefined) as it returned it, a value or a
 * promise, throws or rejects with what it threw, or rejects with HandlerTimeoutError when it outlives its
 * timeout or the shutdown. Not `async`: a handler that returns a value costs no promise here.
 */
export function callHandler(
  options: HandlerCallOptions,
  event: CloudEvent,
  trace: TraceContext,
): ReplyEvent | undefined | Promise<ReplyEvent | undefined> {
  const context = new HandlerContext(options, event, trace, performance.now());
  let result: ReturnType<SluiceFunction['handle']>;
  try {
    result = options.fn.handle(event, context);
  } catch (err) {
    HandlerContext.end(context);
    throw err;
  }
  if (!(result instanceof Promise)) {
    HandlerContext.end(context);
    return result;
  }
  return HandlerContext.runOf(context).race(result);
}

/**
 * The handler's `context`. A class, not an object literal with `get log()` / `get signal()`: a literal
 * with accessors makes V8 define them per object (a runtime call, a new map whose descriptors point at
 * that event's closures), and those old-space maps kept every event's objects alive through the young
 * generation's collections until the next full one (docs/performance.md, "Fifth pass").
 */
class HandlerContext implements Context {
  readonly store: DocumentStore;
  readonly functionName: string;
  readonly traceId: string;
  readonly #options: HandlerCallOptions;
  readonly #event: CloudEvent;
  readonly #trace: TraceContext;
  /** When the handler was called (`performance.now()`): its timeout counts from there. */
  readonly #started: number;
  #log: Context['log'] | undefined;
  /** Made only when needed: when the handler reads `context.signal` or returns a promise. */
  #run: HandlerRun | undefined;

  constructor(options: HandlerCallOptions, event: CloudEvent, trace: TraceContext, started: number) {
    this.store = options.store;
    this.functionName = options.serviceName;
    this.traceId = trace.traceId;
    this.#options = options;
    this.#event = event;
    this.#trace = trace;
    this.#started = started;
  }

  /** Made only when the handler logs: the common path writes just the runtime's outcome line. */
  get log(): Context['log'] {
    this.#log ??= this.#options.log.child(eventFields(this.#event, this.#trace));
    return this.#log;
  }

  get signal(): AbortSignal {
    return HandlerContext.runOf(this).signal();
  }

  static runOf(context: HandlerContext): HandlerRun {
    context.#run ??= new HandlerRun(context.#options.shutdown, context.#options.timeoutMs, context.#started);
    return context.#run;
  }

  /** The handler has settled (or thrown): no timer, no listener left behind. */
  static end(context: HandlerContext): void {
    context.#run?.end();
  }
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
  /** When the handler was called (`performance.now()`): the timeout counts from there. */
  readonly #started: number;
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reject: ((err: Error) => void) | undefined;
  #ended = false;

  constructor(shutdown: AbortSignal, timeoutMs: number, started: number) {
    this.#shutdown = shutdown;
    this.#timeoutMs = timeoutMs;
    this.#started = started;
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
