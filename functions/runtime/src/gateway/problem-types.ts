/**
 * The problem+json vocabulary of the API gateway's own answers: each reason's status, title and type, and the kind
 * of route it can come on. The gateway writes it (functions/platform/api-gateway/problem.ts); the OpenAPI documents
 * of the APIs behind the gateway name the same types (functions/quotes/lib/openapi.ts), and a system may not import
 * the gateway, so the words live here, once. Plain data, like route-problem-types.ts (whose PROBLEM_TYPE_BASE the
 * slugs go below): its one import is a type, gone at run time.
 */
import type { RouteKind } from './route-table.ts';

export interface GatewayProblemType {
  readonly status: number;
  readonly title: string;
  /** The problem type's last segment, below PROBLEM_TYPE_BASE: the reason in kebab case. */
  readonly slug: string;
  /** Where the gateway answers it: before or on any route (`any`), or only on routes of one kind. */
  readonly on: 'any' | RouteKind;
}

/** Every reason the gateway answers for itself. */
export const GATEWAY_PROBLEM_TYPES = {
  invalidPath: { status: 400, title: 'Bad Request', slug: 'invalid-path', on: 'any' },
  invalidJson: { status: 400, title: 'Bad Request', slug: 'invalid-json', on: 'publish' },
  invalidIdempotencyKey: {
    status: 400,
    title: 'Bad Request',
    slug: 'invalid-idempotency-key',
    on: 'publish',
  },
  eventNotAccepted: { status: 400, title: 'Bad Request', slug: 'event-not-accepted', on: 'proxy' },
  unauthorized: { status: 401, title: 'Unauthorized', slug: 'unauthorized', on: 'any' },
  forbidden: { status: 403, title: 'Forbidden', slug: 'forbidden', on: 'any' },
  noRoute: { status: 404, title: 'Not Found', slug: 'no-route', on: 'any' },
  methodNotAllowed: { status: 405, title: 'Method Not Allowed', slug: 'method-not-allowed', on: 'any' },
  requestTimeout: { status: 408, title: 'Request Timeout', slug: 'request-timeout', on: 'any' },
  payloadTooLarge: { status: 413, title: 'Content Too Large', slug: 'payload-too-large', on: 'any' },
  unsupportedMediaType: {
    status: 415,
    title: 'Unsupported Media Type',
    slug: 'unsupported-media-type',
    on: 'publish',
  },
  rateLimited: { status: 429, title: 'Too Many Requests', slug: 'rate-limited', on: 'any' },
  upstreamFailed: { status: 502, title: 'Bad Gateway', slug: 'upstream-failed', on: 'proxy' },
  brokerRefused: { status: 502, title: 'Bad Gateway', slug: 'broker-refused', on: 'publish' },
  upstreamUnavailable: {
    status: 503,
    title: 'Service Unavailable',
    slug: 'upstream-unavailable',
    on: 'proxy',
  },
  brokerUnavailable: {
    status: 503,
    title: 'Service Unavailable',
    slug: 'broker-unavailable',
    on: 'publish',
  },
  hookUnavailable: { status: 503, title: 'Service Unavailable', slug: 'hook-unavailable', on: 'any' },
  upstreamTimeout: { status: 504, title: 'Gateway Timeout', slug: 'upstream-timeout', on: 'proxy' },
  brokerTimeout: { status: 504, title: 'Gateway Timeout', slug: 'broker-timeout', on: 'publish' },
} as const satisfies Record<string, GatewayProblemType>;
export type GatewayProblem = keyof typeof GATEWAY_PROBLEM_TYPES;

/**
 * The slugs the gateway may answer `status` with on a route of `kind`, in the table's order: what a document of an
 * API behind the gateway lists for that status.
 */
export function gatewayProblemSlugs(status: number, kind: RouteKind): string[] {
  return Object.values(GATEWAY_PROBLEM_TYPES)
    .filter((p: GatewayProblemType) => p.status === status && (p.on === 'any' || p.on === kind))
    .map((p) => p.slug);
}
