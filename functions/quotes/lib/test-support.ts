/**
 * What the handler tests of users, quotes and search check the same way around their OpenAPI documents (the shared
 * part is lib/openapi.ts): that routes.yaml sends each documented operation to the function with the key, role and
 * rate limit the document gives, and which documented answers are the function's own. What the gateway answers in
 * front of it is documented for clients and answered through the gateway in
 * platform/local/src/run-from-bundle.int.test.ts.
 */
import { join } from 'node:path';
import type { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { parseRouteTable, ROUTE_KIND, repositoryRouteSources } from '../../runtime/src/index.ts';
import {
  type AnswerCheckOptions,
  type AnswerRecorder,
  type DocumentedResponse,
  documentedOperations,
  expectServedDocument,
  type ReadAnswer,
  routeProblems,
} from '../../runtime/test/openapi.ts';
import { RATE_LIMIT, RATE_LIMIT_HEADER_NAMES } from './openapi.ts';

/** Answers read from the function itself: the gateway's rate-limit fields are not on them yet. */
export const FROM_THE_FUNCTION: AnswerCheckOptions = { addedInFront: RATE_LIMIT_HEADER_NAMES };

/** The shared responses only the gateway answers (the function's 500 and 503 are its own too). */
const GATEWAY_ONLY = ['Unauthorized', 'Forbidden', 'RateLimited', 'BadGateway', 'GatewayTimeout'].map(
  (name) => `#/components/responses/${name}`,
);

/**
 * Whether the function answers `response` itself, so its tests must: not what only the gateway answers, and of the
 * document's own route only the 200 (the rest there is the gateway's).
 */
export const answeredByTheFunction = ({ template, status, response }: DocumentedResponse): boolean =>
  !GATEWAY_ONLY.includes(typeof response.$ref === 'string' ? response.$ref : '') &&
  (!template.endsWith('/openapi.json') || status === '200');

const PERIOD_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * routes.yaml routes every operation of `doc` to `service` as it is served, the document without a key or a rate
 * limit, every other operation behind the api-key hook with the role the document asks for and the rate limit it
 * states; `unrouted` paths have no gateway route at all.
 */
export async function expectRoutedAsDocumented(
  service: string,
  doc: Record<string, unknown>,
  unrouted: readonly string[] = [],
): Promise<void> {
  const table = await parseRouteTable(repositoryRouteSources(join(import.meta.dirname, '../..')));
  for (const { method, template: path, operation } of documentedOperations(doc)) {
    const route = table.match(path.replace(/\{\w+\}/g, 'x'));
    if (unrouted.includes(path)) {
      expect(route, `no gateway route leads to ${path}`).toBeUndefined();
      continue;
    }
    expect(route, path).toMatchObject({ kind: ROUTE_KIND.proxy, service, prefixRewrite: undefined });
    if (route?.kind !== ROUTE_KIND.proxy) continue;
    expect(route.methods, `${method} ${path}`).toContain(method);
    if (path.endsWith('/openapi.json')) {
      expect(route.prefix).toBe(path);
      expect(operation.security, path).toEqual([]);
      expect([route.auth, route.rateLimit], path).toEqual([undefined, undefined]);
      continue;
    }
    expect(route.auth, path).toMatchObject({ hook: 'api-key' });
    // The role routes.yaml names for the method (none: any key), in each of the documented ways to send the key.
    const role = ((route.auth?.config.roles ?? {}) as Record<string, string>)[method];
    const documented = (operation.security ?? doc.security) as Record<string, string[]>[];
    expect(
      documented.map((way) => Object.values(way).flat()),
      `${method} ${path}`,
    ).toEqual(documented.map(() => (role === undefined ? [] : [role])));
    const { limit, period, bucket } = (route.rateLimit?.config ?? {}) as {
      limit: number;
      period: string;
      bucket: string;
    };
    const windowSeconds = Number(period.slice(0, -1)) * (PERIOD_SECONDS[period.slice(-1)] ?? Number.NaN);
    expect({ bucket, limit, windowSeconds }, path).toEqual(RATE_LIMIT);
  }
}

/**
 * The tests every quotes API's handler test ends with, around its document: served as openapi.ts writes it, the same
 * operations as the router's routes, routed by routes.yaml as documented, and every status the function answers
 * answered by the tests before. Called last in the file: the coverage test reads what the others answered.
 */
export function describeDocumentChecks(
  service: 'users' | 'quotes' | 'search',
  api: {
    readonly doc: Record<string, unknown>;
    readonly answers: AnswerRecorder;
    readonly call: (method: string, path: string) => Promise<ReadAnswer>;
    readonly router: () => Router;
    /** Documented paths no gateway route leads to. */
    readonly unrouted?: readonly string[];
  },
): void {
  describe(`${service}: OpenAPI 3.1`, () => {
    it('serves the document openapi.ts writes, valid OpenAPI 3.1, without a key', async () => {
      expectServedDocument(await api.call('GET', `/${service}/openapi.json`), api.doc);
    });

    it('documents every route the router has, and no other', () => {
      expect(routeProblems(api.router(), api.doc, { implicitHead: false })).toEqual([]);
    });
  });

  describe(`${service}: behind the gateway (functions/quotes/routes.yaml)`, () => {
    it('routes the document without a key, and each operation with the key, role and rate limit it documents', async () => {
      await expectRoutedAsDocumented(service, api.doc, api.unrouted);
    });
  });

  describe(`${service}: coverage of the document`, () => {
    it('has seen every status the document says the function answers', () => {
      expect(api.answers.unanswered(answeredByTheFunction)).toEqual([]);
    });
  });
}
