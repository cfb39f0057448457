/**
 * What a function's own HTTP routes (express `routes`, or `serve`) share across systems: RFC 9457 problem+json
 * answers with one vocabulary of problem types, a bounded JSON body parser and its refusals, async handlers whose
 * store outage answers 503 + Retry-After and whose bug answers 500 (logged, not sent), and the query (`?limit` and
 * the rest), read whole before one 400 names every parameter at fault (`QueryReader`).
 * Events get their problems from cloudevent/problem.ts; the gateway answers its own (api-gateway/problem.ts).
 */
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import { PROBLEM_CONTENT_TYPE } from './cloudevent/problem.ts';
import { type InvalidParam, StoreUnavailableError } from './errors.ts';
import { Limits } from './limits.ts';
import { errorFields } from './log.ts';
import {
  MAX_PROBLEM_DETAIL,
  PROBLEM_TYPE_BASE,
  ROUTE_PROBLEM_TYPES,
  type RouteProblemStatus,
} from './route-problem-types.ts';
import type { InitContext, SluiceFunction } from './types.ts';

export interface RouteProblemOptions {
  /** Type and title when the status alone does not say it (e.g. 422 `idempotency-key-reused`). */
  readonly kind?: readonly [type: string, title: string];
  /** Extension members (RFC 9457 §3.2), e.g. `invalid-params`. */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** At most Limits.problems of them, as for events: an answer's size does not grow with how wrong the input was. */
function boundedParams(params: unknown): { 'invalid-params'?: unknown } {
  return Array.isArray(params) && params.length > Limits.problems
    ? { 'invalid-params': params.slice(0, Limits.problems) }
    : {};
}

/** Answers `status` with a problem+json body: `type`, `title`, `status`, `detail` (capped), then extensions. */
export function sendProblem(
  res: Response,
  status: number,
  detail: string,
  options: RouteProblemOptions = {},
): void {
  const [type, title] =
    options.kind ?? ROUTE_PROBLEM_TYPES[status as RouteProblemStatus] ?? ROUTE_PROBLEM_TYPES[500];
  res
    .status(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(
      JSON.stringify({
        type: `${PROBLEM_TYPE_BASE}${type}`,
        title,
        status,
        detail: detail.slice(0, MAX_PROBLEM_DETAIL),
        ...options.extensions,
        ...boundedParams(options.extensions?.['invalid-params']),
      }),
    );
}

/** express's JSON parser, bounded: a larger body is refused before it is read whole (see `bodyErrors`). */
export function jsonBody(options: { readonly limitBytes: number; readonly strict: boolean }): RequestHandler {
  return express.json({ limit: options.limitBytes, strict: options.strict });
}

/**
 * express error middleware for what `jsonBody` refuses: 413 too large, 400 not JSON or unreadable. Anything else
 * (the router's refusal of a path that is not percent-encoding carries no `type`) goes on to `routeFallbacks`.
 */
export function bodyErrors(limitBytes: number) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') sendProblem(res, 413, `bodies are at most ${limitBytes} bytes`);
    else if (e.type === 'entity.parse.failed') sendProblem(res, 400, 'the body is not valid JSON');
    else if (e.type !== undefined && typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      sendProblem(res, 400, 'the body could not be read');
    else next(err);
  };
}

/** The route that serves an API's OpenAPI document: serialized once, when the routes are defined. */
export function openApiRoute(document: object): (req: Request, res: Response) => void {
  const text = JSON.stringify(document);
  return (_req, res) => {
    res.type('application/json').send(text);
  };
}

/** `true` when the request carries a JSON body; answers 415 otherwise. */
export function requireJson(req: Request, res: Response): boolean {
  if (req.is('application/json')) return true;
  sendProblem(res, 415, 'send Content-Type: application/json');
  return false;
}

/**
 * What a route that failed without answering gets: a store outage 503 + Retry-After, anything else 500 "see the
 * function log" (the error goes to `onError`, never into the answer); an answer already started is cut.
 */
function answerFailure(err: unknown, res: Response, onError: (err: unknown) => void): void {
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
  sendProblem(res, 500, 'see the function log');
}

/**
 * Behind every function's routes (runtime.ts): what no route answered is a 404 problem, and what a route threw or
 * rejected without answering (Express 5 passes a rejected promise on) is answered as `route` would — never Express's
 * own HTML page, which outside production carries the stack trace. A body parser's or the router's refusal keeps
 * its 4xx.
 */
export function routeFallbacks(onError: (err: unknown) => void) {
  const notFound = (req: Request, res: Response): void =>
    sendProblem(res, 404, `nothing at ${req.method} ${req.path.slice(0, 200)}`);
  const failed = (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const { status, type } = err as { status?: unknown; type?: unknown };
    if (!res.headersSent && typeof status === 'number' && status >= 400 && status < 500) {
      const known = status === 413 || status === 415 ? status : 400;
      const detail =
        status === 413
          ? 'the body is too large'
          : type === undefined
            ? 'the path could not be decoded'
            : 'the request could not be read';
      sendProblem(res, known, detail);
      return;
    }
    answerFailure(err, res, onError);
  };
  return [notFound, failed] as const;
}

/**
 * A function's routes as the runtime serves them (runtime.ts), and as their tests do (test/routes-server.ts): the
 * Router `define` fills, then `routeFallbacks` behind it.
 */
export function routesApp(
  define: NonNullable<SluiceFunction['routes']>,
  context: InitContext,
): { readonly app: Express; readonly router: Router } {
  const app = express();
  app.disable('x-powered-by');
  const router = express.Router();
  define(router, context);
  app.use(router);
  const [notFound, failed] = routeFallbacks((err) =>
    context.log.error('a route failed without answering', errorFields(err)),
  );
  app.use(notFound);
  app.use(failed);
  return { app, router };
}

/** Runs an async handler: a store outage answers 503 + Retry-After, anything else 500 (and goes to `onError`). */
export function route(
  handler: (req: Request, res: Response) => Promise<void>,
  onError: (err: unknown) => void,
): (req: Request, res: Response) => void {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => answerFailure(err, res, onError));
  };
}

export const MAX_PAGE = 100;
/** A page's size when there is no `?limit` (`QueryReader.limit(DEFAULT_PAGE, MAX_PAGE)`). */
export const DEFAULT_PAGE = 20;

/**
 * A `?limit` as written: absent is `fallback`; decimal digits from 1 to `max` are the number; anything else (`1e2`,
 * `0x10`, ` 5`, a repeated parameter, which `Number` would take or turn into something) is undefined.
 */
export function parseLimit(raw: unknown, fallback: number, max: number): number | undefined {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) return undefined;
  const limit = Number(raw);
  return limit >= 1 && limit <= max ? limit : undefined;
}

/** How `QueryReader.string` checks a value; `reason` is what `invalid-params` says when it fails. */
export interface QueryStringOptions {
  /** At most this many characters. */
  readonly max?: number;
  readonly pattern?: RegExp;
  readonly reason?: string;
}

/**
 * A route's query, read parameter by parameter: each reader notes what is wrong instead of answering, and
 * `refused` answers one 400 whose `invalid-params` names every parameter at fault. A parameter is given once: a
 * repeated one is at fault ("given more than once") and reads as absent. Checks only a route has (a cursor, a
 * date-time) stay in the route, which notes its findings with `invalid`.
 */
export class QueryReader {
  readonly #query: Request['query'];
  readonly #problems: InvalidParam[] = [];

  constructor(req: Request) {
    this.#query = req.query;
  }

  /** What is at fault so far, in the order read. */
  get problems(): readonly InvalidParam[] {
    return this.#problems;
  }

  /** Notes a problem the route found in `name`'s value. */
  invalid(name: string, reason: string): void {
    this.#problems.push({ name, reason });
  }

  /** `name` as written, undefined when absent or at fault (too long, not matching `pattern`, repeated). */
  string(name: string, options: QueryStringOptions = {}): string | undefined {
    const value = this.#query[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      this.invalid(name, 'given more than once');
      return undefined;
    }
    const { max, pattern } = options;
    if ((max === undefined || value.length <= max) && (pattern === undefined || pattern.test(value)))
      return value;
    this.invalid(
      name,
      options.reason ?? (max === undefined ? `matching ${pattern}` : `at most ${max} characters`),
    );
    return undefined;
  }

  /** `?limit` as `parseLimit` reads it: `fallback` when absent, and when at fault (then noted). */
  limit(fallback: number, max: number): number {
    const raw = this.string('limit');
    const limit = parseLimit(raw, fallback, max);
    if (limit !== undefined) return limit;
    this.invalid('limit', `an integer from 1 to ${max}`);
    return fallback;
  }

  /** `true` once a 400 was sent naming every parameter at fault; `false` (nothing sent) when there is none. */
  refused(res: Response, detail = 'the query is not valid'): boolean {
    if (this.#problems.length === 0) return false;
    sendProblem(res, 400, detail, { extensions: { 'invalid-params': this.#problems } });
    return true;
  }
}
