/**
 * What the system's express routes share: a bounded JSON body parser, async handlers whose failures end
 * as problem+json (503 for a store that is down, 500 for a bug, never express's HTML page), and paging.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { StoreUnavailableError } from '../../runtime/src/index.ts';
import { sendProblem } from './problem.ts';

/** Bodies are small documents; anything larger is refused before it is read whole. */
export const MAX_JSON_BYTES = 16 * 1024;

export const jsonBody: RequestHandler = express.json({ limit: MAX_JSON_BYTES, strict: true });

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
        sendProblem(res, 503, 'the store is unavailable; retry later');
        return;
      }
      onError(err);
      res
        .status(500)
        .type('application/problem+json')
        .send(
          JSON.stringify({
            type: 'https://sluice.dev/problems/internal',
            title: 'Internal Server Error',
            status: 500,
          }),
        );
    });
  };
}

/** express's error middleware for what the body parser refuses (bad JSON, too large, wrong type). */
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

/** `?limit` (1..MAX_PAGE, default 20); undefined after a 400 was sent. */
export function pageLimit(req: Request, res: Response): number | undefined {
  const raw = req.query.limit;
  const limit = raw === undefined ? 20 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    sendProblem(res, 400, `limit must be an integer from 1 to ${MAX_PAGE}`);
    return undefined;
  }
  return limit;
}

/** A single string query parameter of at most `max` characters, or undefined (400 sent when malformed). */
export function queryString(
  req: Request,
  res: Response,
  name: string,
  max: number,
): { ok: true; value: string | undefined } | { ok: false } {
  const raw = req.query[name];
  if (raw === undefined) return { ok: true, value: undefined };
  if (typeof raw !== 'string' || raw.length > max) {
    sendProblem(res, 400, `${name} must be one value of at most ${max} characters`);
    return { ok: false };
  }
  return { ok: true, value: raw };
}
