import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { HEADER_ENCODING, toBinary } from '../../functions/runtime/src/index.ts';
import { type Ingress, IngressClosedError, type IngressOptions, startIngress } from './ingress.ts';
import { quietLog } from './testing/manifests.ts';
import { postEvent, testEvent, waitFor } from './testing/test-sink.ts';

describe('ingress', () => {
  it('answers 202 only once publish resolved, and 500 when it rejects', async () => {
    let release: (() => void) | undefined;
    let fail = false;
    const published: CloudEvent[] = [];
    const { ingress } = await recordingIngress({
      publish: (e) =>
        new Promise<void>((resolve, reject) => {
          if (fail) return reject(new Error('nacked'));
          release = () => {
            published.push(e);
            resolve();
          };
        }),
    });
    let answered: number | undefined;
    const pending = postEvent(ingress.url, testEvent()).then((s) => {
      answered = s;
    });
    while (release === undefined) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBeUndefined(); // no answer while the confirm is pending
    release();
    await pending;
    expect(answered).toBe(202);
    expect(published).toHaveLength(1);
    fail = true;
    const res = await fetch(ingress.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', id: 'x', source: '/s', type: 't' }),
    });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { detail: string }).detail).toMatch(/nacked/);
  });

  it('refuses a ce- header given twice with 400, as the binding maps an attribute to one header', async () => {
    const { ingress, published } = await recordingIngress();
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        ingress.url,
        {
          method: 'POST',
          // An array sends the header twice (fetch would join the values into one).
          headers: { 'ce-specversion': '1.0', 'ce-id': ['a', 'b'], 'ce-source': '/s', 'ce-type': 't' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
    expect(published).toHaveLength(0);
  });

  it('keeps binary-mode data bytes exactly as sent', async () => {
    const { ingress, published } = await recordingIngress();
    const body = '{ "amount": 12345678901234567890.10 }';
    const res = await fetch(ingress.url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': '1',
        'ce-source': '/s',
        'ce-type': 't',
        'content-type': 'application/json',
      },
      body,
    });
    expect(res.status).toBe(202);
    expect(Buffer.from(published[0]?.data as Uint8Array).toString()).toBe(body);
  });

  it('cuts off a client whose body trickles in past the request bound (408, connection closed)', async () => {
    const { ingress, published } = await recordingIngress({ headersTimeoutMs: 100, requestTimeoutMs: 200 });
    const socket = connect(ingress.port, '127.0.0.1');
    let answer = '';
    let closed = false;
    socket.on('data', (d: Buffer) => {
      answer += d.toString();
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => {});
    socket.write(
      'POST / HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\nce-id: 1\r\nce-source: /s\r\nce-type: t\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"par',
    );
    await waitFor('the server to give up on the slow client', () => closed);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(published).toHaveLength(0);
  });

  it('refuses a body past its bound with 413 problem+json, closes the connection, publishes nothing', async () => {
    const { ingress, published } = await recordingIngress({ maxBodyBytes: 1024 });
    const event = { ...testEvent(), data: { pad: 'x'.repeat(4096) } };
    const { headers, body } = toBinary(event);
    const res = await fetch(ingress.url, { method: 'POST', headers, body: new Uint8Array(body) });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('connection')).toBe('close');
    expect(((await res.json()) as { detail: string }).detail).toBe('event larger than 1024 bytes');
    expect(await postEvent(ingress.url, testEvent())).toBe(202); // the bound is per request
    expect(published).toHaveLength(1);
  });

  it('publishes nothing for a request cut before its body ended, and goes on answering', async () => {
    const { ingress, published } = await recordingIngress();
    const socket = connect(ingress.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      'POST / HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\nce-id: cut\r\nce-source: /s\r\nce-type: t\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"par',
    );
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    expect(await postEvent(ingress.url, testEvent())).toBe(202);
    expect(published.map((e) => e.id)).not.toContain('cut');
    expect(published).toHaveLength(1);
  });

  it('answers bare statuses without problems (upstream), and keeps an HTTP traceparent as trace extensions', async () => {
    const { ingress, published } = await recordingIngress({ problems: false, httpTraceContext: true });
    const bad = await fetch(ingress.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect([bad.status, await bad.text(), bad.headers.get('content-type')]).toEqual([400, '', null]);
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(await postEvent(ingress.url, testEvent(), 0, { traceparent: tp })).toBe(202);
    expect(published[0]?.extensions).toMatchObject({ traceparent: tp, tracestate: '' });
  });

  describe("post (in process, the dispatchers' replies)", () => {
    const start = async (problems: boolean, publish: (e: CloudEvent) => Promise<void>) =>
      startIngress({
        port: 0,
        namespace: 'sluice',
        brokerName: 'default',
        log: quietLog,
        problems,
        httpTraceContext: !problems,
        maxBodyBytes: 1024,
        publish,
      });
    const overHttp = async (url: string, headers: Record<string, string>, body: Buffer) => {
      const res = await fetch(url, { method: 'POST', headers, body });
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        body: Buffer.from(await res.arrayBuffer()).toString(),
      };
    };

    it('answers what the same POST over HTTP gets, for each outcome, and publishes the same event', async () => {
      for (const problems of [false, true]) {
        const published: CloudEvent[] = [];
        let fail = false;
        const ingress = await start(problems, async (e) => {
          if (fail) throw new Error('nacked');
          published.push(e);
        });
        try {
          const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
          const event = testEvent({ subject: 'café ✓', extensions: { flow: 'a,b' } });
          const m = toBinary(event, { headerEncoding: HEADER_ENCODING.raw });
          const cases: [string, Record<string, string>, Buffer][] = [
            ['valid', { traceparent: tp, tracestate: 'k=v', ...m.headers }, m.body],
            ['invalid', { 'content-type': 'application/json' }, Buffer.from('{}')],
            ['too large', m.headers, Buffer.alloc(2048, 0x20)],
          ];
          for (const [what, headers, body] of cases) {
            const local = await ingress.post(headers, body);
            const http = await overHttp(ingress.url, headers, body);
            expect(
              {
                status: local.status,
                type: local.headers['content-type'] ?? null,
                body: local.body.toString(),
              },
              `${what}, problems ${problems}`,
            ).toEqual(http);
          }
          expect(published).toHaveLength(2);
          expect(published[0]).toEqual(published[1]);
          expect(published[0]?.subject).toBe('café ✓');
          if (!problems)
            expect(published[0]?.extensions).toMatchObject({ traceparent: tp, tracestate: 'k=v' });
          fail = true;
          const local = await ingress.post(m.headers, m.body);
          const http = await overHttp(ingress.url, m.headers, m.body);
          expect({ ...http, body: http.body.replace(/"detail":"[^"]*"/, '') }).toEqual({
            status: local.status,
            type: local.headers['content-type'] ?? null,
            body: local.body.toString().replace(/"detail":"[^"]*"/, ''),
          });
          expect(local.status).toBe(500);
        } finally {
          await ingress.close();
        }
      }
    });

    it('rejects once the ingress is closed, as a refused connection', async () => {
      const ingress = await start(false, async () => {});
      await ingress.close();
      const m = toBinary(testEvent());
      await expect(ingress.post(m.headers, m.body)).rejects.toBeInstanceOf(IngressClosedError);
    });
  });
});

/**
 * An ingress on a free port, closed when the test ends, whose publish records each event it is given
 * (or is the test's own `publish`, which then records what it means to).
 */
async function recordingIngress(
  options: Partial<IngressOptions> = {},
): Promise<{ ingress: Ingress; published: CloudEvent[] }> {
  const published: CloudEvent[] = [];
  const ingress = await startIngress({
    port: 0,
    namespace: 'sluice',
    brokerName: 'default',
    log: quietLog,
    publish: async (e) => {
      published.push(e);
    },
    ...options,
  });
  onTestFinished(() => ingress.close());
  return { ingress, published };
}
