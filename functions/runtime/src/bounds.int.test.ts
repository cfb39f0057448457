/**
 * What a bad or slow client can cost the runtime, over real HTTP: the worst inputs of issue #11 get a
 * bounded answer and log line; slow clients are cut off; plain routes are drained like events; expired
 * idempotency records go at start.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FIXTURES, REPO, startInProcess, waitFor } from '../test/support.ts';
import { MemoryDocumentStore } from './adapters/memory/memory-document-store.ts';
import { Limits } from './limits.ts';

const HELLO = join(REPO, 'functions/demo/hello');
const TYPE = 'dev.sluice.hello.requested.v1';

/** A function on its own memory store whose log lines the test reads, one array entry per line. */
async function logged(env: Record<string, string> = {}) {
  const lines: string[] = [];
  const fn = await startInProcess(
    HELLO,
    { LOG_LEVEL: 'info', MAX_BODY_BYTES: String(2 * 1024 * 1024), ...env },
    {
      store: new MemoryDocumentStore(),
      logSink: { write: (chunk: string) => lines.push(...chunk.split('\n').filter((l) => l !== '')) },
    },
  );
  onTestFinished(() => fn.running.stop());
  return { fn, lines };
}

/** The outcome line of the one (invalid) event a test sent to its own function, once written. */
const invalidLine = (lines: string[]) =>
  waitFor('the outcome line', () => lines.find((l) => l.includes('"sluice.outcome":"invalid"')));

describe('bad input costs little', () => {
  it('answers a 1.45 MB event with a hundred thousand extra keys in ≤ 16 KiB and logs ≤ 8 KiB', async () => {
    const { fn, lines } = await logged();
    const data: Record<string, unknown> = { name: 'Ada' };
    for (let i = 0; JSON.stringify(data).length < 1_450_000; i += 1000) {
      for (let j = i; j < i + 1000; j++) data[`extra${j}`] = j;
    }
    const body = JSON.stringify(data);
    const res = await fetch(fn.url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'many-keys',
        'ce-source': '/t',
        'ce-type': TYPE,
        'content-type': 'application/json',
      },
      body,
    });
    const answer = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(400);
    expect(answer.length).toBeLessThanOrEqual(Limits.responseBytes);
    expect(JSON.parse(answer.toString())['invalid-params']).toEqual([
      { name: 'data/extra0', reason: expect.stringContaining('must NOT have additional properties') },
    ]);
    expect(Buffer.byteLength(await invalidLine(lines))).toBeLessThanOrEqual(Limits.logLineBytes);
  });

  it('answers 1 MB of invalid attribute names in ≤ 16 KiB, listing the first 20, and logs ≤ 8 KiB', async () => {
    const { fn, lines } = await logged();
    // Built as text: growing a 16,000-key object and measuring it as it grows is slow in a test.
    const parts = [`"specversion":"1.0","id":"bad-names","source":"/t","type":"${TYPE}","data":{}`];
    for (let size = 0; size < 1_000_000; ) {
      const member = `"Bad_Name-${parts.length}-${'x'.repeat(40)}":"v"`;
      parts.push(member);
      size += member.length + 1;
    }
    const count = parts.length - 1;
    const res = await fetch(fn.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: `{${parts.join(',')}}`,
    });
    const answer = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(400);
    expect(answer.length).toBeLessThanOrEqual(Limits.responseBytes);
    const params = JSON.parse(answer.toString())['invalid-params'] as { name: string; reason: string }[];
    expect(params).toHaveLength(Limits.problems + 1);
    expect(params.at(-1)).toEqual({ name: '…', reason: `and ${count - Limits.problems} more problems` });
    const line = await invalidLine(lines);
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(Limits.logLineBytes);
  });

  it('keeps the answer and the log bounded when every reported name is made of control characters', async () => {
    const { fn, lines } = await logged();
    const event: Record<string, unknown> = { specversion: '1.0', id: 'escapes', source: '/t', type: TYPE };
    for (let i = 0; i < 100; i++) event[`${'\u0001'.repeat(500)}${i}`] = 'v'; // 6 bytes each once escaped
    event.subject = '\u0002'.repeat(100_000);
    const res = await fetch(fn.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(event),
    });
    expect(res.status).toBe(400);
    expect((await res.arrayBuffer()).byteLength).toBeLessThanOrEqual(Limits.responseBytes);
    const line = await invalidLine(lines);
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(Limits.logLineBytes);
  });
});

describe('slow clients', () => {
  /** Opens a connection, sends `first`, then nothing more; resolves with what the server sent before closing. */
  const stall = (port: number, first: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.setEncoding('utf8').on('data', (c: string) => {
        received += c;
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
      socket.write(first);
    });

  it('answers 408 and closes the connection when the headers do not arrive in time', async () => {
    const { fn } = await logged({ REQUEST_HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '2' });
    const port = Number(new URL(fn.url).port);
    const answer = await stall(port, 'POST / HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers 408 and closes the connection when the body does not arrive in time', async () => {
    const { fn } = await logged({ REQUEST_HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '1' });
    const port = Number(new URL(fn.url).port);
    const head = `POST / HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\nce-id: slow\r\nce-source: /t\r\nce-type: ${TYPE}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"na`;
    expect(await stall(port, head)).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('the SIGTERM drain', () => {
  it('waits for a plain HTTP route that is still answering', async () => {
    const store = new MemoryDocumentStore();
    const fn = await startInProcess(join(FIXTURES, 'slow-route'), {}, { store });
    const control = store.collection('control');
    const pending = fetch(`${fn.url}/slow`);
    await waitFor(
      'the route to be in flight',
      async () => (await control.findOne({ _id: 'started' })) !== null,
    );
    const stopped = fn.running.stop();
    await control.insertOne({ _id: 'go' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await stopped;
  });
});

describe('idempotency records', () => {
  it('are purged at start when the store has no TTL index, so a function that lives 30 s still cleans up', async () => {
    const store = new MemoryDocumentStore();
    const records = store.collection('sluice_idempotency');
    const expired = new Date(Date.now() - 1000);
    await records.insertOne({
      _id: 'old',
      key: 'old',
      generation: 0,
      status: 'IN_PROGRESS',
      expiresAt: expired,
    });
    await records.insertOne({
      _id: 'old/1',
      key: 'old',
      generation: 1,
      status: 'COMPLETED',
      expiresAt: expired,
    });
    const fn = await startInProcess(HELLO, {}, { store });
    onTestFinished(() => fn.running.stop());
    await waitFor(
      'the expired records to be purged',
      async () => (await records.countDocuments({ key: 'old' })) === 0,
    );
  });
});

describe('what a function’s routes leave unanswered', () => {
  it('is problem+json from the runtime: 500 logged not sent, 503 on a store outage, 404, a parser’s 400 and 413', async () => {
    const lines: string[] = [];
    const fn = await startInProcess(
      join(FIXTURES, 'failing-route'),
      {},
      { logSink: { write: (l) => lines.push(l) > 0 } },
    );
    onTestFinished(() => fn.running.stop());
    const answer = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${fn.url}${path}`, init);
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        retry: res.headers.get('retry-after'),
        text: await res.text(),
      };
    };
    for (const path of ['/rejects', '/throws']) {
      const failed = await answer(path);
      expect(failed, path).toMatchObject({ status: 500, type: 'application/problem+json; charset=utf-8' });
      expect(JSON.parse(failed.text)).toMatchObject({ status: 500, detail: 'see the function log' });
    }
    expect(lines.join('')).toContain('secret internals at /srv/app/handler.ts:12');
    const outage = await answer('/outage');
    expect(outage).toMatchObject({
      status: 503,
      retry: '1',
      type: 'application/problem+json; charset=utf-8',
    });
    const nothing = await answer('/nowhere');
    expect(nothing.status).toBe(404);
    expect(JSON.parse(nothing.text)).toMatchObject({ status: 404, detail: 'nothing at GET /nowhere' });
    const json = { method: 'POST', headers: { 'content-type': 'application/json' } };
    expect((await answer('/body', { ...json, body: '{"a":' })).status).toBe(400);
    expect((await answer('/body', { ...json, body: JSON.stringify({ a: 'x'.repeat(100) }) })).status).toBe(
      413,
    );
    expect(await answer('/body', { ...json, body: '{"a":1}' })).toMatchObject({
      status: 200,
      text: '{"got":{"a":1}}',
    });
    // A CloudEvent POSTed to a route's path is a request for that route: events come in at `/` only.
    const event = {
      ...json.headers,
      'ce-specversion': '1.0',
      'ce-id': 'e-1',
      'ce-type': 'dev.sluice.test.work.requested.v1',
      'ce-source': '/t',
    };
    expect(await answer('/body', { method: 'POST', headers: event, body: '{"a":2}' })).toMatchObject({
      status: 200,
      text: '{"got":{"a":2}}',
    });
    const atRoot = await answer('/', { method: 'POST', headers: event, body: '{"n":3}' });
    expect(atRoot.status, atRoot.text).toBeLessThan(300);
    expect(atRoot.text).not.toContain('got');
  });
});
