import { capText, Limits } from './limits.ts';

/**
 * Every error the runtime understands. The HTTP status each one maps to (and so whether Knative's
 * dispatcher retries it) is decided in one place: `cloudevent/problem.ts`.
 */

export class SluiceError extends Error {
  override name = 'SluiceError';
}

/** One problem found in an incoming event: which attribute or schema path, and what is wrong. */
export interface InvalidParam {
  readonly name: string;
  readonly reason: string;
}

/** The request is not a valid CloudEvent, or its data fails its schema. Never retried (400). */
export class InvalidEventError extends SluiceError {
  override name = 'InvalidEventError';
  readonly status: 400 | 413 | 415;
  readonly invalidParams: readonly InvalidParam[];
  /** Short machine-readable reason for logs and metrics: `invalid-event`, `schema`, `unaccepted-type`, … */
  readonly reason: string;
  constructor(
    message: string,
    invalidParams: readonly InvalidParam[] = [],
    status: 400 | 413 | 415 = 400,
    reason = status === 400
      ? 'invalid-event'
      : status === 413
        ? 'payload-too-large'
        : 'unsupported-media-type',
  ) {
    // Bounded here, where untrusted input becomes a report: a megabyte of bad attribute names must not
    // become a megabyte of answer or log (limits.ts).
    super(capText(message, Limits.detail));
    this.invalidParams = capParams(invalidParams);
    this.status = status;
    this.reason = reason;
  }
}

/** The first Limits.problems problems, each cut to size, and one "and N more" entry for the rest. */
export function capParams(params: readonly InvalidParam[]): readonly InvalidParam[] {
  const shown = params.slice(0, Limits.problems).map((p) => ({
    name: capText(p.name, Limits.problemName),
    reason: capText(p.reason, Limits.problemReason),
  }));
  const more = params.length - shown.length;
  if (more > 0) shown.push({ name: '…', reason: `and ${more} more problem${more === 1 ? '' : 's'}` });
  return shown;
}

/** Business rule says this event can never succeed. Never retried (422); goes to the dead-letter sink. */
export class PermanentError extends SluiceError {
  override name = 'PermanentError';
  /** Machine-readable reason, e.g. `insufficient-funds`; becomes the problem `type` suffix. */
  readonly reason: string;
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** A fault that may pass (store down, timeout). Retried by the broker (503 + Retry-After). */
export class TransientError extends SluiceError {
  override name = 'TransientError';
  /** Seconds the sender should wait before retrying; sent as `Retry-After`. */
  readonly retryAfterSeconds: number;
  constructor(message: string, options?: ErrorOptions & { retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 1;
  }
}

/** The same event (source + id) is being processed right now by another request. Retried (503). */
export class EventInProgressError extends TransientError {
  override name = 'EventInProgressError';
}

/** The handler produced something that is not a valid reply: a bug in the function. 500, retried. */
export class InvalidReplyError extends SluiceError {
  override name = 'InvalidReplyError';
}

/** Environment variables are missing or malformed. Thrown at start-up with every problem listed. */
export class ConfigError extends SluiceError {
  override name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** A function folder cannot be loaded: missing handler, schema that does not compile, … */
export class FunctionLoadError extends SluiceError {
  override name = 'FunctionLoadError';
}

/** A unique key already exists in the store (MongoDB error 11000). */
export class DuplicateKeyError extends SluiceError {
  override name = 'DuplicateKeyError';
}

/** The store cannot be reached; mapped to a transient failure. */
export class StoreUnavailableError extends TransientError {
  override name = 'StoreUnavailableError';
}

/** The API gateway's route table is invalid: every problem found, each naming its file. */
export class RouteTableError extends SluiceError {
  override name = 'RouteTableError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid gateway route table:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}
