import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerOf, answerProblems, openApiProblems } from '../test/openapi.ts';
import { StoreUnavailableError } from './errors.ts';
import { route, sendProblem } from './route-answers.ts';
import {
  problemResponse,
  problemResponseOfTypes,
  problemSchemas,
  RETRY_AFTER_HEADER,
  schemaComponent,
} from './route-openapi.ts';
import { ROUTE_PROBLEM_TYPES, type RouteProblemStatus } from './route-problem-types.ts';

const STATUSES = Object.keys(ROUTE_PROBLEM_TYPES).map(Number) as RouteProblemStatus[];
const REUSED = ['idempotency-key-reused', 'Idempotency-Key Reused'] as const;

/** A path per status `responseOf` documents, `/problems/<status>`, answering that status. */
const documentOf = (responseOf: (status: number) => Record<string, unknown> | undefined) => ({
  openapi: '3.1.0',
  info: { title: 'problems', version: '1.0.0' },
  paths: Object.fromEntries(
    [...STATUSES, 422].flatMap((status) => {
      const response = responseOf(status);
      return response === undefined
        ? []
        : [[`/problems/${status}`, { get: { responses: { [status]: response } } }]];
    }),
  ),
  components: { schemas: problemSchemas() },
});
const asDocumented = documentOf((status) =>
  status === 422
    ? problemResponse(422, 'The key was used for another order', { kind: REUSED })
    : problemResponse(status as RouteProblemStatus, `The runtime's ${status}`),
);

describe('route-openapi: what a document says the runtime answers', () => {
  let base: string;
  let close: () => void;

  beforeAll(async () => {
    const app = express();
    for (const status of STATUSES)
      app.get(`/problems/${status}`, (_req, res) => {
        // Every 503 of the runtime says when to retry; a handler's own 503 must too (orders-api's does).
        if (status === 503) res.setHeader('retry-after', '1');
        sendProblem(res, status, 'x'.repeat(2000), {
          extensions: { 'invalid-params': [{ name: 'limit', reason: 'an integer' }] },
        });
      });
    // The 503 as a store outage answers it: through `route`, with Retry-After.
    app.get(
      '/outage/503',
      route(
        async () => {
          throw new StoreUnavailableError('down');
        },
        () => {},
      ),
    );
    app.get('/problems/422', (_req, res) => sendProblem(res, 422, 'used', { kind: REUSED }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const read = async (path: string) => answerOf('GET', path, await fetch(`${base}${path}`));

  it('builds a valid OpenAPI 3.1 document', () => {
    expect(openApiProblems(asDocumented)).toEqual([]);
  });

  it("documents each status's answer as sendProblem writes it: type, title, status, capped detail, invalid-params", async () => {
    for (const status of [...STATUSES, 422]) {
      const answer = await read(`/problems/${status}`);
      expect(answerProblems(asDocumented, answer), String(status)).toEqual([]);
    }
  });

  it('says a 503 carries Retry-After, as route() sends it', async () => {
    const outage = await read('/outage/503');
    const at = { ...outage, path: '/problems/503' };
    expect(answerProblems(asDocumented, at)).toEqual([]);
    expect(outage.headers.get('retry-after')).toBe('1');
    const response = problemResponse(503, 'down') as { headers: Record<string, unknown> };
    expect(response.headers).toEqual({ 'Retry-After': RETRY_AFTER_HEADER });
    const without = new Headers(outage.headers);
    without.delete('retry-after');
    expect(answerProblems(asDocumented, { ...at, headers: without })).toEqual([
      'GET /problems/503 → 503: no Retry-After header',
    ]);
  });

  it("fixes the type and title: no status's answer passes in another's words", async () => {
    for (const status of STATUSES) {
      const answer = await read(`/problems/${status}`);
      const body = answer.body as Record<string, unknown>;
      for (const other of STATUSES.filter((s) => s !== status)) {
        const [type, title] = ROUTE_PROBLEM_TYPES[other];
        const asType = { ...answer, body: { ...body, type: `https://sluice.dev/problems/${type}` } };
        const asTitle = { ...answer, body: { ...body, title } };
        expect(answerProblems(asDocumented, asType).join(), `${status} typed as ${other}`).toContain(
          '/type must be equal to constant',
        );
        expect(answerProblems(asDocumented, asTitle).join(), `${status} titled as ${other}`).toContain(
          '/title must be equal to constant',
        );
      }
    }
    const unkinded = documentOf((s) => (s === 422 ? problemResponse(400, 'not its kind') : undefined));
    expect(answerProblems(unkinded, await read('/problems/422')).join()).toContain(
      '/type must be equal to constant',
    );
  });

  it('documents a status answered in other words too (the gateway): any of the types, the title left open', async () => {
    const either = documentOf((s) =>
      s === 503
        ? problemResponseOfTypes(503, 'the function or the gateway', { types: ['unavailable', 'x-y'] })
        : undefined,
    );
    expect(openApiProblems(either)).toEqual([]);
    const answer = await read('/problems/503');
    expect(answerProblems(either, answer)).toEqual([]);
    expect(
      answerProblems(either, {
        ...answer,
        body: { ...(answer.body as object), type: 'https://sluice.dev/problems/x-y', title: 'Other' },
      }),
    ).toEqual([]);
    expect(
      answerProblems(either, {
        ...answer,
        body: { ...(answer.body as object), type: 'https://sluice.dev/problems/z' },
      }).join(),
    ).toContain('must be equal to one of the allowed values');
  });

  it('keeps a problem to its members, and names an extension a hop in front adds', () => {
    const { Problem } = problemSchemas({ extensions: { instance: { type: 'string' } } }) as {
      Problem: { properties: Record<string, unknown>; additionalProperties: boolean };
    };
    expect(Object.keys(Problem.properties)).toEqual([
      'type',
      'title',
      'status',
      'detail',
      'invalid-params',
      'instance',
    ]);
    expect(Problem.additionalProperties).toBe(false);
  });

  it('uses a JSON Schema file as a component, without $schema and $id', () => {
    expect(schemaComponent({ $schema: 's', $id: 'i', type: 'object' })).toEqual({ type: 'object' });
  });
});
