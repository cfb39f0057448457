/**
 * What the system's express routes share: a bounded JSON body parser, RFC 9457 problem+json answers (never
 * express's HTML page), async handlers whose store outage answers 503 + Retry-After and whose bug answers 500
 * (logged, not sent), and paging by `_id`.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { StoreUnavailableError } from '../../runtime/src/index.ts';
import type { InvalidParam } from './orders.ts';

/** Bodies are small documents; anything larger is refused before it is read whole. */
export const MAX_JSON_BYTES = 16 * 1024;

export const jsonBody: RequestHandler = express.json({ limit: MAX_JSON_BYTES, strict: false });

export const PROBLEM_TYPES = {
  400: ['invalid-request', 'Invalid Request'],
  404: ['not-found', 'Not Found'],
  413: ['payload-too-large', 'Payload Too Large'],
  415: ['unsupported-media-type', 'Unsupported Media Type'],
  422: ['idempotency-key-reused', 'Idempotency-Key Reused'],
  500: ['internal', 'Internal Server Error'],
  502: ['broker-refused', 'Broker Refused'],
  503: ['unavailable', 'Service Unavailable'],
  504: ['broker-timeout', 'Broker Timeout'],
} as const;
export type ProblemStatus = keyof typeof PROBLEM_TYPES;

export function sendProblem(
  res: Response,
  status: ProblemStatus,
  detail: string,
  invalidParams?: readonly InvalidParam[],
): void {
  const [type, title] = PROBLEM_TYPES[status];
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `https://sluice.dev/problems/${type}`,
        title,
        status,
        detail: detail.slice(0, 1024),
        ...(invalidParams === undefined ? {} : { 'invalid-params': invalidParams.slice(0, 20) }),
      }),
    );
}

type AsyncHandler = (req: Request, res: Response) => Promise<void>;

/** Runs an async handler; a store outage answers 503 + Retry-After, anything else 500 (and is logged). */
export function route(
  handler: AsyncHandler,
  onError: (err: unknown) => void,
): (req: Request, res: Response) => void {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof StoreUnavailableError) {
        res.setHeader('retry-after', '1');
        return sendProblem(res, 503, 'the store is unavailable; retry later');
      }
      onError(err);
      sendProblem(res, 500, 'see the function log');
    });
  };
}

/** express's error middleware for what the body parser refuses (bad JSON, too large). */
export function bodyErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const e = err as { type?: string; status?: number };
  if (e.type === 'entity.too.large') sendProblem(res, 413, `bodies are at most ${MAX_JSON_BYTES} bytes`);
  else if (e.type === 'entity.parse.failed') sendProblem(res, 400, 'the body is not valid JSON');
  else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    sendProblem(res, 400, 'the body could not be read');
  else next(err);
}

/** `true` when the request carries a JSON body; answers 415 otherwise. */
export function requireJson(req: Request, res: Response): boolean {
  if (req.is('application/json')) return true;
  sendProblem(res, 415, 'send Content-Type: application/json');
  return false;
}

export const MAX_PAGE = 100;

/** `?limit` (1..MAX_PAGE, default 20) and `?after` (an id); undefined after a 400 was sent. */
export function page(req: Request, res: Response): { limit: number; after: string | undefined } | undefined {
  const raw = req.query.limit;
  const limit = raw === undefined ? 20 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    sendProblem(res, 400, `limit must be an integer from 1 to ${MAX_PAGE}`, [
      { name: 'limit', reason: `an integer from 1 to ${MAX_PAGE}` },
    ]);
    return undefined;
  }
  const after = req.query.after;
  if (after !== undefined && (typeof after !== 'string' || after.length > 64)) {
    sendProblem(res, 400, 'after must be one id', [
      { name: 'after', reason: 'one id of at most 64 characters' },
    ]);
    return undefined;
  }
  return { limit, after };
}

/** The caller as api-gateway's auth hook names it; `anonymous` on a route without one (the gateway drops a client's own). */
export function principalOf(req: Request): string {
  const p = req.headers['x-sluice-principal'];
  return typeof p === 'string' && p !== '' ? p.slice(0, 128) : 'anonymous';
}
