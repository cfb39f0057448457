/**
 * Every answer the gateway makes itself is RFC 9457 problem+json: a `type` per reason, the status, a
 * `detail` a person can act on, the request's path as `instance`, and the request id so a report can
 * be matched with the access log line.
 */
import type { ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE } from '../../runtime/src/index.ts';

/** The reasons the gateway answers for, and their status. */
export const GATEWAY_PROBLEM = {
  invalidPath: { status: 400, title: 'Bad Request' },
  invalidJson: { status: 400, title: 'Bad Request' },
  invalidIdempotencyKey: { status: 400, title: 'Bad Request' },
  eventNotAccepted: { status: 400, title: 'Bad Request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  noRoute: { status: 404, title: 'Not Found' },
  methodNotAllowed: { status: 405, title: 'Method Not Allowed' },
  requestTimeout: { status: 408, title: 'Request Timeout' },
  payloadTooLarge: { status: 413, title: 'Content Too Large' },
  unsupportedMediaType: { status: 415, title: 'Unsupported Media Type' },
  rateLimited: { status: 429, title: 'Too Many Requests' },
  upstreamFailed: { status: 502, title: 'Bad Gateway' },
  brokerRefused: { status: 502, title: 'Bad Gateway' },
  upstreamUnavailable: { status: 503, title: 'Service Unavailable' },
  brokerUnavailable: { status: 503, title: 'Service Unavailable' },
  hookUnavailable: { status: 503, title: 'Service Unavailable' },
  upstreamTimeout: { status: 504, title: 'Gateway Timeout' },
  brokerTimeout: { status: 504, title: 'Gateway Timeout' },
} as const;
export type GatewayProblem = keyof typeof GATEWAY_PROBLEM;

/** camelCase reason → the problem type's last segment: upstreamTimeout → upstream-timeout. */
const slug = (reason: string): string => reason.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface ProblemOptions {
  readonly requestId: string;
  readonly path: string;
  readonly route?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Sends the problem and returns its status. When the response has already started (a stream cut
 * half-way), nothing can be said any more: the connection is closed so the client sees the cut.
 */
export function sendProblem(
  res: ServerResponse,
  reason: GatewayProblem,
  detail: string,
  options: ProblemOptions,
): number {
  const { status, title } = GATEWAY_PROBLEM[reason];
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return status;
  }
  const body = JSON.stringify({
    type: `https://sluice.dev/problems/${slug(reason)}`,
    title,
    status,
    detail,
    instance: options.path,
    'request-id': options.requestId,
    ...(options.route === undefined ? {} : { route: options.route }),
  });
  res.writeHead(status, {
    ...options.headers,
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
  return status;
}
