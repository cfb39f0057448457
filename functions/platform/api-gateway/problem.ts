/**
 * Every answer the gateway makes itself is RFC 9457 problem+json: a `type` per reason, the status, a
 * `detail` a person can act on, the request's path as `instance`, and the request id so a report can
 * be matched with the access log line. The reasons, their status, title and type are the runtime's
 * GATEWAY_PROBLEM_TYPES (functions/runtime/src/gateway/problem-types.ts), which the documents of the
 * APIs behind the gateway read too.
 */
import type { ServerResponse } from 'node:http';
import {
  GATEWAY_PROBLEM_TYPES,
  type GatewayProblem,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
} from '../../runtime/src/index.ts';

export type { GatewayProblem };

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
  const { status, title, slug } = GATEWAY_PROBLEM_TYPES[reason];
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return status;
  }
  const body = JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${slug}`,
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
