import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../platform/test-servers/ports.ts';
import {
  postBinary,
  postStructured,
  REPO,
  rawRequest,
  readExample,
  type StartedFunction,
  startInProcess,
  waitFor,
} from '../test/support.ts';
import { MemoryDocumentStore } from './adapters/memory/memory-document-store.ts';
import type { CloudEvent } from './types.ts';

const HELLO = join(REPO, 'functions/demo/hello');
const LIMIT = 4096;
const REQUESTED = readExample(join(HELLO, 'examples/dev.sluice.hello.requested.v1.json'));
const CE = {
  'ce-specversion': '1.0',
  'ce-id': 'srv-1',
  'ce-source': '/tests/server',
  'ce-type': 'dev.sluice.hello.requested.v1',
  'content-type': 'application/json',
};
const DATA = JSON.stringify({ name: 'Grace' });

let n = 0;
const unique = (): string => `srv-${process.pid}-${++n}`;

describe('runtime server over HTTP', () => {
  let fn: StartedFunction;

  beforeAll(async () => {
    fn = await startInProcess(HELLO, { MAX_BODY_BYTES: String(LIMIT) }, { store: new MemoryDocumentStore() });
  });
  afterAll(async () => {
    await fn?.running.stop();
  });

  const post = (headers: Record<string, string>, body: string | Buffer): Promise<Response> =>
    fetch(fn.url, { method: 'POST', headers, body });

  it('processes a binary-mode event and replies in binary mode', async () => {
    const res = await postBinary(fn.url, { ...REQUESTED, id: unique() });
    expect(res.status).toBe(200);
    expect(res.headers.get('ce-type')).toBe('dev.sluice.hello.greeted.v1');
    expect(res.headers.get('ce-source')).toBe('/sluice/functions/hello');
    expect(await res.json()).toEqual({ greeting: 'Hello, Ada!', timesGreeted: expect.any(Number) });
  });

  it('processes a structured-mode event', async () => {
    const res = await postStructured(fn.url, { ...REQUESTED, id: unique() });
    expect(res.status).toBe(200);
    expect(res.headers.get('ce-subject')).toBe('Ada');
  });

  describe('every bad input gets its status and a problem+json body, and the server stays up', () => {
    const cases: [string, Record<string, string>, string, number, string][] = [
      ['no ce- headers', { 'content-type': 'application/json' }, DATA, 400, 'specversion'],
      ['a missing id', { ...CE, 'ce-id': '' }, DATA, 400, 'id'],
      ['a wrong specversion', { ...CE, 'ce-specversion': '0.3' }, DATA, 400, 'specversion'],
      ['an impossible time', { ...CE, 'ce-time': '2026-02-30T00:00:00Z' }, DATA, 400, 'time'],
      [
        'ce-datacontenttype in binary mode',
        { ...CE, 'ce-datacontenttype': 'application/json' },
        DATA,
        400,
        'datacontenttype',
      ],
      ['a body that is not JSON', CE, '{"name":', 400, 'data'],
      ['data that fails the schema', CE, JSON.stringify({ name: '' }), 400, 'data/name'],
      ['an extra property', CE, JSON.stringify({ name: 'x', age: 3 }), 400, 'data/age'],
      ['a type the function does not accept', { ...CE, 'ce-type': 'dev.sluice.other.v1' }, DATA, 400, 'type'],
      [
        'non-JSON data for a schema type',
        { ...CE, 'content-type': 'text/plain' },
        'hi',
        415,
        'datacontenttype',
      ],
      ['a batch', { 'content-type': 'application/cloudevents-batch+json' }, '[]', 415, 'content-type'],
      [
        'an unknown event format',
        { 'content-type': 'application/cloudevents+xml' },
        '<e/>',
        415,
        'content-type',
      ],
      [
        'a structured body that is not JSON',
        { 'content-type': 'application/cloudevents+json' },
        '{',
        400,
        'body',
      ],
    ];

    it.each(cases)('answers %s', async (_what, headers, body, status, param) => {
      const res = await post(headers, body);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await res.json()) as { status: number; 'invalid-params': { name: string }[] };
      expect(problem.status).toBe(status);
      expect(problem['invalid-params'].map((p) => p.name)).toContain(param);
      expect((await fetch(`${fn.url}/health/liveness`)).status).toBe(200);
    });

    it('answers 400 to a ce- header given twice (node:http would join the two values)', async () => {
      const body = DATA;
      const head = [
        'POST / HTTP/1.1',
        'Host: 127.0.0.1',
        ...Object.entries({ ...CE, 'ce-id': unique() }).map(([k, v]) => `${k}: ${v}`),
        'ce-subject: first',
        'ce-subject: second',
        `content-length: ${Buffer.byteLength(body)}`,
        'connection: close',
      ].join('\r\n');
      const answer = await rawRequest(Number(new URL(fn.url).port), head, body);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toMatch(/content-type: application\/problem\+json/i);
    });

    it('accepts what only looks like a bad percent escape, keeping it literally', async () => {
      const res = await post({ ...CE, 'ce-id': unique(), 'ce-subject': 'save 50%' }, DATA);
      expect(res.status).toBe(200);
    });

    it('answers 422 to a permanent business failure, and replays it', async () => {
      const id = unique();
      const send = () => post({ ...CE, 'ce-id': id }, JSON.stringify({ name: 'nobody' }));
      const first = await send();
      expect(first.status).toBe(422);
      expect(await first.json()).toMatchObject({
        type: 'https://sluice.dev/problems/no-such-person',
        status: 422,
      });
      expect((await send()).status).toBe(422);
    });

    it('answers 405 with a problem body to a GET on the event path', async () => {
      const res = await fetch(fn.url);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    });
  });

  describe('body size limit (MAX_BODY_BYTES)', () => {
    it('answers 413 from the headers alone when Content-Length claims 50 MB', async () => {
      const head = [
        'POST / HTTP/1.1',
        'Host: 127.0.0.1',
        ...Object.entries({ ...CE, 'ce-id': unique() }).map(([k, v]) => `${k}: ${v}`),
        `Content-Length: ${50 * 1024 * 1024}`,
      ].join('\r\n');
      // Only 16 bytes follow: the answer cannot depend on reading the body.
      const response = await rawRequest(fn.running.port, head, '{"name":"Grace"}');
      expect(response).toMatch(/^HTTP\/1\.1 413 /);
      expect(response.toLowerCase()).toContain('content-type: application/problem+json');
      expect(response.toLowerCase()).toContain('connection: close');
    });

    it('answers 413 when a chunked body grows past the limit', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(fn.url, { method: 'POST', headers: { ...CE, 'ce-id': unique() } });
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        // Once the server has answered and closed, further writes may fail; that is expected.
        req.on('error', (err) => {
          if (!answered) reject(err);
        });
        const chunk = Buffer.alloc(1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          if (answered || req.destroyed) return;
          if (sent > 64) {
            reject(new Error('no answer after 64 KiB'));
            return;
          }
          sent++;
          req.write(chunk, () => setImmediate(pump));
        };
        pump();
      });
      expect(status).toBe(413);
    });

    it('accepts a body just under the limit and keeps serving after the 413s', async () => {
      const name = 'x'.repeat(90);
      const res = await post({ ...CE, 'ce-id': unique() }, JSON.stringify({ name }));
      expect(res.status).toBe(200);
      const tooBig = await post({ ...CE, 'ce-id': unique() }, JSON.stringify({ name: 'y'.repeat(LIMIT) }));
      expect(tooBig.status).toBe(413);
      expect((await postBinary(fn.url, { ...REQUESTED, id: unique() })).status).toBe(200);
    });
  });

  describe('health and metrics', () => {
    it('answers readiness and liveness at the Knative function-runtime paths', async () => {
      const ready = await fetch(`${fn.url}/health/readiness`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ok' });
      expect((await fetch(`${fn.url}/health/liveness?probe=1`)).status).toBe(200);
    });

    it('says metrics are disabled when OTEL_SDK_DISABLED=true', async () => {
      const res = await fetch(`${fn.url}/metrics`);
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('OTEL_SDK_DISABLED');
    });
  });
});

describe('runtime readiness with an unreachable store', () => {
  let fn: StartedFunction;
  let stopped = false;
  beforeAll(async () => {
    // A port that was free a moment ago: nothing answers there, as when MongoDB is down.
    const port = await freePort();
    fn = await startInProcess(
      HELLO,
      { MONGODB_URL: `mongodb://127.0.0.1:${port}/`, MONGODB_DB: 'unreachable' },
      { waitReady: false },
    );
  });
  afterAll(async () => {
    if (!stopped) await fn?.running.stop();
  });

  it('is live but not ready while the store does not answer', async () => {
    // Several probes over time: readiness must stay 503 for as long as the store is away.
    for (let i = 0; i < 3; i++) {
      const ready = await fetch(`${fn.url}/health/readiness`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'starting' });
      expect((await fetch(`${fn.url}/health/liveness`)).status).toBe(200);
    }
  });

  it('answers an event that arrives anyway with 503 so the broker retries it', async () => {
    const event: CloudEvent = { ...REQUESTED, id: unique() };
    const res = await postBinary(fn.url, event);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toMatchObject({
      status: 503,
      detail: expect.stringContaining('MongoDB unavailable'),
    });
  });

  it('stops promptly even though it never became ready', async () => {
    // Bounded by the driver's server-selection timeout, not by the start-up retry back-off.
    await fn.running.stop();
    stopped = true;
    await waitFor('the port to close', async () => {
      try {
        await fetch(`${fn.url}/health/liveness`);
        return false;
      } catch {
        return true;
      }
    });
  });
});
