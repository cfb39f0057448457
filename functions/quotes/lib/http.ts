/**
 * What the system's express routes add to the runtime's route answers (route-answers.ts: problem+json, the
 * bounded JSON body, async handlers, paging): the body limit and one-value query parameters.
 */
import type { Request, RequestHandler, Response } from 'express';
import {
  jsonBody as boundedJsonBody,
  bodyErrors as refusedBodies,
  sendProblem,
} from '../../runtime/src/index.ts';

/** Bodies are small documents; anything larger is refused before it is read whole. */
export const MAX_JSON_BYTES = 16 * 1024;

export const jsonBody: RequestHandler = boundedJsonBody({ limitBytes: MAX_JSON_BYTES, strict: true });
export const bodyErrors = refusedBodies(MAX_JSON_BYTES);

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
