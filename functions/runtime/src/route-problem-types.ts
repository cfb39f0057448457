/**
 * The problem+json vocabulary of a function's own routes: what `sendProblem` (route-answers.ts) writes and what
 * `problemResponse` (route-openapi.ts) documents, in one place so the two cannot drift. Plain data, no imports:
 * the document side is built when a function starts, and the event path's problems (cloudevent/problem.ts) take
 * their type base from here too.
 */

/**
 * Every problem's `type` is this followed by its slug: a route's, an event's (cloudevent/problem.ts) and the
 * gateway's own (gateway/problem-types.ts).
 */
export const PROBLEM_TYPE_BASE = 'https://sluice.dev/problems/';
/** A problem's `detail` is one sentence, never a dump of the input. */
export const MAX_PROBLEM_DETAIL = 1024;

/** The problem type (last segment) and title of each status a route answers with, unless the call names its own. */
export const ROUTE_PROBLEM_TYPES = {
  400: ['invalid-request', 'Invalid Request'],
  401: ['unauthorized', 'Unauthorized'],
  403: ['forbidden', 'Forbidden'],
  404: ['not-found', 'Not Found'],
  409: ['conflict', 'Conflict'],
  413: ['payload-too-large', 'Content Too Large'],
  415: ['unsupported-media-type', 'Unsupported Media Type'],
  500: ['internal', 'Internal Server Error'],
  503: ['unavailable', 'Service Unavailable'],
} as const satisfies Record<number, readonly [string, string]>;
export type RouteProblemStatus = keyof typeof ROUTE_PROBLEM_TYPES;
