/** RFC 9457 problem+json answers for the system's express routes. */
import type { Response } from 'express';

export const PROBLEM_TYPES = {
  400: 'invalid-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  503: 'unavailable',
} as const;

const TITLES: Readonly<Record<keyof typeof PROBLEM_TYPES, string>> = {
  400: 'Invalid Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  503: 'Service Unavailable',
};

export function sendProblem(
  res: Response,
  status: keyof typeof PROBLEM_TYPES,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `https://sluice.dev/problems/${PROBLEM_TYPES[status]}`,
        title: TITLES[status],
        status,
        detail: detail.slice(0, 1024),
        ...extra,
      }),
    );
}
