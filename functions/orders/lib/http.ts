/**
 * What the system's express routes add to the runtime's route answers (route-answers.ts: problem+json, the
 * bounded JSON body, async handlers, paging): the problems only orders has (an Idempotency-Key reused, the
 * broker refusing or timing out), `invalid-params` on every refusal, paging by `_id`, the caller's principal.
 */
import type { Request, RequestHandler, Response } from 'express';
import {
  jsonBody as boundedJsonBody,
  DEFAULT_PAGE,
  MAX_PAGE,
  type QueryReader,
  bodyErrors as refusedBodies,
  sendProblem as sendRouteProblem,
} from '../../runtime/src/index.ts';
import type { InvalidParam } from './orders.ts';

/** Bodies are small documents; anything larger is refused before it is read whole. */
export const MAX_JSON_BYTES = 16 * 1024;

export const jsonBody: RequestHandler = boundedJsonBody({ limitBytes: MAX_JSON_BYTES, strict: false });
export const bodyErrors = refusedBodies(MAX_JSON_BYTES);

/** The statuses orders answers with whose meaning the status alone does not give (its documents say them too). */
export const ORDER_PROBLEMS = {
  422: ['idempotency-key-reused', 'Idempotency-Key Reused'],
  502: ['broker-refused', 'Broker Refused'],
  504: ['broker-timeout', 'Broker Timeout'],
} as const;

export type ProblemStatus = 400 | 404 | 413 | 415 | 422 | 500 | 502 | 503 | 504;

export function sendProblem(
  res: Response,
  status: ProblemStatus,
  detail: string,
  invalidParams?: readonly InvalidParam[],
): void {
  sendRouteProblem(res, status, detail, {
    ...(status in ORDER_PROBLEMS ? { kind: ORDER_PROBLEMS[status as keyof typeof ORDER_PROBLEMS] } : {}),
    ...(invalidParams === undefined ? {} : { extensions: { 'invalid-params': invalidParams } }),
  });
}

/** `?limit` (1..MAX_PAGE, default DEFAULT_PAGE) and `?after` (an id); what is at fault is noted in `query`. */
export function page(query: QueryReader): { limit: number; after: string | undefined } {
  return {
    limit: query.limit(DEFAULT_PAGE, MAX_PAGE),
    after: query.string('after', { max: 64, reason: 'one id of at most 64 characters' }),
  };
}

/** The caller as api-gateway's auth hook names it; `anonymous` on a route without one (the gateway drops a client's own). */
export function principalOf(req: Request): string {
  const p = req.headers['x-sluice-principal'];
  return typeof p === 'string' && p !== '' ? p.slice(0, 128) : 'anonymous';
}
