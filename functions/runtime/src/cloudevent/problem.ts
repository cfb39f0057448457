/**
 * Errors to HTTP answers, in one place. The status decides what Knative's dispatcher does
 * (knative.dev/eventing pkg/kncloudevents `SelectiveRetry`, also used by eventing-rabbitmq): it retries
 * on no response, 404, 408, 409, 429 and 5xx, and dead-letters every other status at once. So
 * permanent failures must answer a 4xx outside that list, and transient ones a 5xx.
 *
 * | error                 | status | broker does            |
 * |-----------------------|--------|------------------------|
 * | InvalidEventError     | 400/413/415 | dead-letter, no retry |
 * | PermanentError        | 422    | dead-letter, no retry  |
 * | TransientError        | 503 + Retry-After | retry with backoff |
 * | EventInProgressError  | 503 + Retry-After | retry with backoff |
 * | anything else         | 500    | retry with backoff     |
 *
 * Bodies are RFC 9457 problem details (`application/problem+json`).
 */
import { InvalidEventError, PermanentError, TransientError } from '../errors.ts';
import { capText, Limits } from '../limits.ts';
import { PROBLEM_TYPE_BASE } from '../route-problem-types.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly [extension: string]: unknown;
}

export interface ProblemAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly problem: Problem;
  /** `invalid`, `rejected`, `transient` or `error`: the outcome label for logs and metrics. */
  readonly outcome: 'invalid' | 'rejected' | 'transient' | 'error';
  /** Short machine-readable reason for metrics (`schema`, `insufficient-funds`, …). */
  readonly reason: string;
}

const TITLES: Record<number, string> = {
  400: 'Invalid CloudEvent',
  413: 'Content Too Large', // RFC 9110's name for 413 ("Payload Too Large" before it)
  415: 'Unsupported Media Type',
  422: 'Event Rejected',
  500: 'Internal Error',
  503: 'Temporarily Unavailable',
};

export function toProblem(err: unknown, instance?: string): ProblemAnswer {
  const base = instance === undefined ? {} : { instance };
  if (err instanceof InvalidEventError) {
    return {
      status: err.status,
      headers: {},
      outcome: 'invalid',
      reason: err.reason,
      problem: {
        type: `${PROBLEM_TYPE_BASE}${err.reason}`,
        title: TITLES[err.status] ?? 'Invalid CloudEvent',
        status: err.status,
        detail: err.message,
        ...base,
        'invalid-params': err.invalidParams,
      },
    };
  }
  if (err instanceof PermanentError) {
    return {
      status: 422,
      headers: {},
      outcome: 'rejected',
      reason: err.reason,
      problem: {
        type: `${PROBLEM_TYPE_BASE}${err.reason}`,
        title: TITLES[422] as string,
        status: 422,
        detail: capText(err.message, Limits.detail),
        ...base,
      },
    };
  }
  if (err instanceof TransientError) {
    return {
      status: 503,
      headers: { 'retry-after': String(err.retryAfterSeconds) },
      outcome: 'transient',
      reason: err.name,
      problem: {
        type: `${PROBLEM_TYPE_BASE}transient`,
        title: TITLES[503] as string,
        status: 503,
        detail: capText(err.message, Limits.detail),
        ...base,
      },
    };
  }
  return {
    status: 500,
    headers: {},
    outcome: 'error',
    reason: err instanceof Error ? err.name : 'unknown',
    // The message of an unexpected error may leak internals; it goes to the log, not the reply.
    problem: {
      type: `${PROBLEM_TYPE_BASE}internal`,
      title: TITLES[500] as string,
      status: 500,
      detail: 'the function failed; see its log',
      ...base,
    },
  };
}

/**
 * The problem as JSON, never over Limits.responseBytes: fields are capped where they are made, and
 * should escaping still blow them up (control characters take six bytes each), problems are dropped
 * from the end, then the detail is cut, until the body fits.
 */
export function problemBody(problem: Problem): Buffer {
  let body = Buffer.from(JSON.stringify(problem));
  if (body.length <= Limits.responseBytes) return body;
  const params = (problem['invalid-params'] as readonly unknown[] | undefined) ?? [];
  let shrunk: Problem = { ...problem, detail: capText(problem.detail, 256) };
  if (params.length === 0) return Buffer.from(JSON.stringify(shrunk));
  for (let keep = params.length; ; keep = Math.floor(keep / 2)) {
    const dropped = params.length - keep;
    shrunk = {
      ...shrunk,
      'invalid-params': [
        ...params.slice(0, keep),
        ...(dropped > 0 ? [{ name: '…', reason: `${dropped} more not shown` }] : []),
      ],
    };
    body = Buffer.from(JSON.stringify(shrunk));
    if (body.length <= Limits.responseBytes || keep === 0) return body;
  }
}
