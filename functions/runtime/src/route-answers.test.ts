import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from './errors.ts';
import {
  bodyErrors,
  DEFAULT_PAGE,
  jsonBody,
  MAX_PAGE,
  QueryReader,
  requireJson,
  route,
  sendProblem,
} from './route-answers.ts';

describe('route answers', () => {
  const errors: unknown[] = [];
  let base: string;
  let close: () => void;

  beforeAll(async () => {
    const app = express();
    app.post('/things', jsonBody({ limitBytes: 64, strict: true }), (req, res) => {
      if (requireJson(req, res)) res.status(201).json(req.body);
    });
    app.get('/page', (req, res) => {
      const query = new QueryReader(req);
      const limit = query.limit(DEFAULT_PAGE, MAX_PAGE);
      if (!query.refused(res)) res.json({ limit });
    });
    app.get('/query', (req, res) => {
      const query = new QueryReader(req);
      const limit = query.limit(20, 50);
      const name = query.string('name', { max: 5 });
      const code = query.string('code', { pattern: /^[a-z]+$/, reason: 'lowercase letters' });
      if (code === 'no') query.invalid('code', 'not no');
      if (!query.refused(res, 'bad query')) res.json({ limit, name: name ?? null, code: code ?? null });
    });
    app.get('/reused', (_req, res) =>
      sendProblem(res, 422, 'x'.repeat(5000), {
        kind: ['idempotency-key-reused', 'Idempotency-Key Reused'],
        extensions: { 'invalid-params': [{ name: 'Idempotency-Key', reason: 'used for another order' }] },
      }),
    );
    app.get('/many', (_req, res) =>
      sendProblem(res, 400, 'everything is wrong', {
        extensions: {
          'invalid-params': Array.from({ length: 500 }, (_, i) => ({ name: `f${i}`, reason: 'bad' })),
        },
      }),
    );
    app.get(
      '/down',
      route(
        async () => {
          throw new StoreUnavailableError('no primary');
        },
        (err) => errors.push(err),
      ),
    );
    app.get(
      '/bug',
      route(
        async () => {
          throw new Error('secret internals');
        },
        (err) => errors.push(err),
      ),
    );
    app.use(bodyErrors(64));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const post = (body: string, type = 'application/json') =>
    fetch(`${base}/things`, { method: 'POST', headers: { 'content-type': type }, body });

  it('answers problem+json with the status type and title, a capped detail, then the extensions', async () => {
    const res = await fetch(`${base}/reused`);
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['type', 'title', 'status', 'detail', 'invalid-params']);
    expect(body).toMatchObject({
      type: 'https://sluice.dev/problems/idempotency-key-reused',
      title: 'Idempotency-Key Reused',
      status: 422,
    });
    expect((body.detail as string).length).toBe(1024);
  });

  it('names at most 20 invalid params, however many the handler found', async () => {
    const body = (await (await fetch(`${base}/many`)).json()) as { 'invalid-params': { name: string }[] };
    expect(body['invalid-params'].map((p) => p.name)).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`));
  });

  it('refuses a body that is not JSON, too large, or of another type, each with its reason', async () => {
    expect(await (await post('{"a":')).json()).toMatchObject({
      status: 400,
      detail: 'the body is not valid JSON',
    });
    const large = await post(JSON.stringify({ a: 'x'.repeat(100) }));
    expect(await large.json()).toMatchObject({
      status: 413,
      type: 'https://sluice.dev/problems/payload-too-large',
      detail: 'bodies are at most 64 bytes',
    });
    const text = await post('a=1', 'text/plain');
    expect(await text.json()).toMatchObject({ status: 415, detail: 'send Content-Type: application/json' });
    expect((await post('{"a":1}')).status).toBe(201);
  });

  it('answers a store outage 503 + Retry-After and a bug 500 without its message, which goes to onError', async () => {
    const down = await fetch(`${base}/down`);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    const bug = await fetch(`${base}/bug`);
    expect(bug.status).toBe(500);
    expect(await bug.text()).not.toContain('secret internals');
    expect(errors.map((e) => (e as Error).message)).toEqual(['secret internals']);
  });

  it('reads ?limit from 1 to 100 (20 when absent) and names the parameter when it is not', async () => {
    expect(await (await fetch(`${base}/page`)).json()).toEqual({ limit: 20 });
    expect(await (await fetch(`${base}/page?limit=100`)).json()).toEqual({ limit: 100 });
    const bad = await fetch(`${base}/page?limit=0`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ 'invalid-params': [{ name: 'limit' }] });
    // Digits only: what Number() would also read as a count is not a limit as written.
    for (const raw of ['1e1', '0x10', '%205', '5.0', '101', '']) {
      expect((await fetch(`${base}/page?limit=${raw}`)).status, raw).toBe(400);
    }
    expect((await fetch(`${base}/page?limit=5&limit=6`)).status).toBe(400);
  });

  it('reads a whole query, then answers one 400 naming every parameter at fault, in the order read', async () => {
    expect(await (await fetch(`${base}/query?name=ada&code=x&limit=7`)).json()).toEqual({
      limit: 7,
      name: 'ada',
      code: 'x',
    });
    expect(await (await fetch(`${base}/query`)).json()).toEqual({ limit: 20, name: null, code: null });
    const bad = await fetch(`${base}/query?code=X&name=abcdef&limit=51`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      status: 400,
      detail: 'bad query',
      'invalid-params': [
        { name: 'limit', reason: 'an integer from 1 to 50' },
        { name: 'name', reason: 'at most 5 characters' },
        { name: 'code', reason: 'lowercase letters' },
      ],
    });
    const noted = await fetch(`${base}/query?code=no`);
    expect(await noted.json()).toMatchObject({ 'invalid-params': [{ name: 'code', reason: 'not no' }] });
  });
});

describe('QueryReader', () => {
  const reader = (query: Record<string, unknown>) => new QueryReader({ query } as unknown as Request);

  describe('string', () => {
    it('reads a parameter given once as written, and one not given as undefined', () => {
      const query = reader({ q: ' a b ' });
      expect(query.string('q', { max: 5 })).toBe(' a b ');
      expect(query.string('other', { max: 1, pattern: /^x$/ })).toBeUndefined();
      expect(query.problems).toEqual([]);
    });

    it('refuses a repeated parameter, whatever its values', () => {
      const query = reader({ q: ['a', 'b'] });
      expect(query.string('q')).toBeUndefined();
      expect(query.problems).toEqual([{ name: 'q', reason: 'given more than once' }]);
    });

    it('refuses a value longer than max or not matching pattern, with the reason given or its own', () => {
      const query = reader({ a: 'abc', b: 'abc', c: 'abc' });
      expect(query.string('a', { max: 2 })).toBeUndefined();
      expect(query.string('b', { pattern: /^\d+$/ })).toBeUndefined();
      expect(query.string('c', { max: 3, pattern: /^c/, reason: 'starts with c' })).toBeUndefined();
      expect(query.problems).toEqual([
        { name: 'a', reason: 'at most 2 characters' },
        { name: 'b', reason: 'matching /^\\d+$/' },
        { name: 'c', reason: 'starts with c' },
      ]);
    });
  });

  describe('limit', () => {
    it('reads ?limit as parseLimit does: the fallback when absent', () => {
      expect(reader({}).limit(20, 100)).toBe(20);
      expect(reader({ limit: '100' }).limit(20, 100)).toBe(100);
    });

    it('notes a limit out of range, not digits, or repeated, and answers the fallback', () => {
      for (const limit of ['0', '101', '1e1', ' 5', ['5', '6']]) {
        const query = reader({ limit });
        expect(query.limit(20, 100), String(limit)).toBe(20);
        expect(
          query.problems.map((p) => p.name),
          String(limit),
        ).toEqual(['limit']);
      }
    });
  });

  describe('refused', () => {
    it('sends nothing and answers false when nothing is at fault', () => {
      const query = reader({ limit: '5' });
      query.limit(20, 100);
      expect(query.refused({} as never)).toBe(false);
    });
  });
});
