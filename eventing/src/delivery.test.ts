import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backoffMs,
  ConnectionPool,
  DeliveryAbortedError,
  deliver,
  deliveryConfig,
  isRetriable,
  knativeErrorData,
  retryAfterMs,
  withErrorExtensions,
} from './delivery.ts';

describe('delivery', () => {
  describe('backoffMs', () => {
    it('doubles from 2 × delay for exponential, as sdk-go BackoffFor(retry) with retry from 1', () => {
      expect([1, 2, 3, 4].map((n) => backoffMs('exponential', 200, n))).toEqual([400, 800, 1600, 3200]);
    });
    it('grows by delay for linear', () => {
      expect([1, 2, 3].map((n) => backoffMs('linear', 50, n))).toEqual([50, 100, 150]);
    });
  });

  describe('isRetriable', () => {
    it('retries no response, 404, 408, 409, 429 and 5xx (kncloudevents.SelectiveRetry)', () => {
      for (const s of [undefined, -1, 404, 408, 409, 429, 500, 502, 503, 504, 599])
        expect(isRetriable(s), String(s)).toBe(true);
    });
    it('does not retry other statuses', () => {
      for (const s of [200, 202, 301, 400, 401, 403, 405, 410, 413, 415, 422])
        expect(isRetriable(s), String(s)).toBe(false);
    });
  });

  describe('deliveryConfig', () => {
    it('defaults retry to 5 with a delivery spec and 0 without, as the trigger reconciler', () => {
      expect(deliveryConfig({}).retry).toBe(5);
      expect(deliveryConfig(undefined)).toEqual({
        retry: 0,
        backoffPolicy: 'exponential',
        backoffDelayMs: 50,
        timeoutMs: undefined,
        retryAfterMaxMs: undefined,
      });
    });
  });

  describe('retryAfterMs', () => {
    it('is ignored unless retryAfterMax is set, and only for 429 and 503', () => {
      expect(retryAfterMs(429, '5', undefined)).toBe(0);
      expect(retryAfterMs(500, '5', 10_000)).toBe(0);
      expect(retryAfterMs(503, '5', 10_000)).toBe(5000);
    });
    it('is capped by retryAfterMax and reads HTTP dates', () => {
      expect(retryAfterMs(429, '120', 10_000)).toBe(10_000);
      const now = Date.parse('2030-01-01T00:00:00Z');
      expect(retryAfterMs(429, 'Tue, 01 Jan 2030 00:00:03 GMT', 10_000, now)).toBe(3000);
      expect(retryAfterMs(429, 'soon', 10_000)).toBe(0);
    });
  });

  describe('knativeErrorData', () => {
    it('base64-encodes the body without control characters, cut to 1024 characters', () => {
      expect(Buffer.from(knativeErrorData(Buffer.from('bad\nthing\t!')), 'base64').toString()).toBe(
        'badthing!',
      );
      expect(knativeErrorData(Buffer.alloc(5000, 'a'))).toHaveLength(1024);
      expect(knativeErrorData(Buffer.alloc(0))).toBe('');
    });
  });

  describe('withErrorExtensions', () => {
    it('adds knativeerrordest and knativeerrorcode, and knativeerrordata when there is some', () => {
      const event = {
        specversion: '1.0' as const,
        id: '1',
        source: '/s',
        type: 't',
        data: undefined,
        extensions: { knativeerrordata: 'old', tenant: 'a' },
      };
      expect(withErrorExtensions(event, 'http://x/', -1, '').extensions).toEqual({
        tenant: 'a',
        knativeerrordest: 'http://x/',
        knativeerrorcode: -1,
      });
      expect(withErrorExtensions(event, 'http://x/', 500, 'ZQ==').extensions.knativeerrordata).toBe('ZQ==');
    });
  });

  describe('deliver over node:http', () => {
    const servers: Server[] = [];
    afterEach(async () => {
      for (const s of servers.splice(0)) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    });
    const serve = async (handler: RequestListener): Promise<{ url: string; connections: () => number }> => {
      const server = createServer(handler);
      let connections = 0;
      server.on('connection', () => connections++);
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        connections: () => connections,
      };
    };
    const event = {
      specversion: '1.0' as const,
      id: 'e1',
      source: '/s',
      type: 't',
      datacontenttype: 'application/json',
      data: { a: 1 },
      extensions: {},
    };

    it('sends binary mode through the given keep-alive pool: a pool of one connection sends them all on it', async () => {
      const seen: string[] = [];
      const sub = await serve((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        req.on('end', () => {
          seen.push(`${req.headers['ce-id']} ${req.headers['content-type']} ${body}`);
          res.writeHead(200, {
            'ce-specversion': '1.0',
            'ce-id': 'r1',
            'ce-source': '/r',
            'ce-type': 'reply',
          });
          res.end();
        });
      });
      const pool = new ConnectionPool(1);
      try {
        for (let i = 0; i < 3; i++) {
          const result = await deliver(sub.url, event, deliveryConfig(undefined), { pool });
          expect(result.ok).toBe(true);
          expect(result.reply?.type).toBe('reply');
        }
      } finally {
        await pool.destroy();
      }
      expect(seen).toEqual(Array(3).fill('e1 application/json {"a":1}'));
      expect(sub.connections()).toBe(1);
    });

    it('opens no more connections than the pool holds: the others wait for one', async () => {
      let inFlight = 0;
      let most = 0;
      const sub = await serve((req, res) => {
        inFlight++;
        most = Math.max(most, inFlight);
        req.resume();
        req.on('end', () =>
          setTimeout(() => {
            inFlight--;
            res.writeHead(204).end();
          }, 5),
        );
      });
      const pool = new ConnectionPool(2);
      try {
        const results = await Promise.all(
          Array.from({ length: 6 }, () => deliver(sub.url, event, deliveryConfig(undefined), { pool })),
        );
        expect(results.map((r) => r.status)).toEqual(Array(6).fill(204));
      } finally {
        await pool.destroy();
      }
      expect(sub.connections()).toBe(2);
      expect(most).toBe(2);
    });

    it('resizes a pool without failing what the old one holds: it finishes there, the next attempts go to the new one', async () => {
      const held: Array<() => void> = [];
      const sub = await serve((req, res) => {
        req.resume();
        held.push(() => res.writeHead(204).end());
      });
      const pool = new ConnectionPool(1);
      try {
        const first = deliver(sub.url, event, deliveryConfig(undefined), { pool });
        while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
        pool.resize(2);
        const second = deliver(sub.url, event, deliveryConfig(undefined), { pool });
        while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
        for (const answer of held) answer();
        expect((await first).status).toBe(204);
        expect((await second).status).toBe(204);
      } finally {
        await pool.destroy();
      }
      expect(sub.connections()).toBe(2);
    });

    it('counts a body the subscriber cuts off as no answer, with the status it sent', async () => {
      const sub = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
        res.write('part', () => res.destroy());
      });
      const result = await deliver(sub.url, event, deliveryConfig(undefined));
      expect(result.status).toBe(-1);
      expect(result.error).toBe('HTTP 200, body unreadable: connection closed before the body ended');
    });

    it('throws DeliveryAbortedError when the broker aborts an attempt in progress', async () => {
      const sub = await serve(() => {}); // never answers
      const abort = new AbortController();
      const sent = deliver(sub.url, event, deliveryConfig({ retry: 3 }), { signal: abort.signal });
      await new Promise((r) => setTimeout(r, 50));
      abort.abort();
      await expect(sent).rejects.toBeInstanceOf(DeliveryAbortedError);
    });

    it('aborts every delivery in flight on one signal, those that finished before untouched', async () => {
      let answer = true;
      const sub = await serve((_req, res) => {
        if (answer) res.writeHead(202).end(); // the first one; the others never get an answer
      });
      const abort = new AbortController();
      const first = await deliver(sub.url, event, deliveryConfig(undefined), { signal: abort.signal });
      answer = false;
      const pending = [1, 2, 3].map(() =>
        deliver(sub.url, event, deliveryConfig({ retry: 3 }), { signal: abort.signal }),
      );
      await new Promise((r) => setTimeout(r, 50));
      abort.abort();
      for (const p of pending) await expect(p).rejects.toBeInstanceOf(DeliveryAbortedError);
      expect(first.status).toBe(202);
    });

    it('bounds each attempt by the timeout, body included, and counts it as no answer', async () => {
      const sub = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part'); // the rest never comes
      });
      const result = await deliver(sub.url, event, { ...deliveryConfig(undefined), timeoutMs: 100 });
      expect(result.status).toBe(-1);
      expect(result.error).toBe('HTTP 200, body unreadable: timeout after 100 ms');
    });

    it('reports a refused connection as no answer and retries it', async () => {
      const sub = await serve((_req, res) => res.end());
      const url = sub.url;
      servers[0]?.close();
      await new Promise((r) => setTimeout(r, 10));
      const result = await deliver(url, event, { ...deliveryConfig({ retry: 1 }), backoffDelayMs: 1 });
      expect(result.status).toBe(-1);
      expect(result.attempts).toHaveLength(2);
      expect(result.error).toMatch(/ECONNREFUSED/);
    });
  });

  describe('deliver through a local endpoint', () => {
    const event = {
      specversion: '1.0' as const,
      id: 'e1',
      source: '/s',
      type: 't',
      subject: 'café',
      datacontenttype: 'application/json',
      data: { a: 1 },
      extensions: {},
    };
    const nowhere = 'http://127.0.0.1:1/'; // nothing listens: any HTTP attempt fails

    it('sends the binary message there instead of over HTTP, with the same retries', async () => {
      const seen: { headers: Readonly<Record<string, string>>; body: string }[] = [];
      const result = await deliver(
        nowhere,
        event,
        { ...deliveryConfig({ retry: 2 }), backoffDelayMs: 1 },
        {
          headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
          local: async (headers, body) => {
            seen.push({ headers, body: body.toString() });
            return { status: seen.length === 1 ? 503 : 202, headers: {}, body: Buffer.alloc(0) };
          },
        },
      );
      expect([result.ok, result.status, result.attempts.map((a) => a.status)]).toEqual([
        true,
        202,
        [503, 202],
      ]);
      expect(seen[0]?.body).toBe('{"a":1}');
      expect(seen[0]?.headers).toMatchObject({
        'ce-id': 'e1',
        'ce-subject': Buffer.from('café').toString('latin1'), // the raw UTF-8 bytes, as over HTTP
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
    });

    it('counts a rejection as no answer, bounds an attempt by the timeout and stops on abort', async () => {
      const refused = await deliver(nowhere, event, deliveryConfig(undefined), {
        local: () => Promise.reject(new Error('the broker ingress is closed')),
      });
      expect([refused.status, refused.error]).toEqual([-1, 'the broker ingress is closed']);
      const never = () => new Promise<never>(() => {});
      const slow = await deliver(
        nowhere,
        event,
        { ...deliveryConfig(undefined), timeoutMs: 50 },
        { local: never },
      );
      expect([slow.status, slow.error]).toEqual([-1, 'timeout after 50 ms']);
      const abort = new AbortController();
      const sent = deliver(nowhere, event, deliveryConfig({ retry: 3 }), {
        signal: abort.signal,
        local: never,
      });
      setTimeout(() => abort.abort(), 20);
      await expect(sent).rejects.toBeInstanceOf(DeliveryAbortedError);
    });

    it('goes over HTTP when HTTP would alter an extra header (whitespace at an end)', async () => {
      let local = 0;
      const result = await deliver(nowhere, event, deliveryConfig(undefined), {
        headers: { tracestate: 'k=v ' },
        local: async () => {
          local++;
          return { status: 202, headers: {}, body: Buffer.alloc(0) };
        },
      });
      expect([local, result.status]).toEqual([0, -1]);
    });
  });
});
