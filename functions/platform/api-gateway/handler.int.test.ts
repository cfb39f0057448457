/**
 * api-gateway as a real process started through the runtime (`node functions/runtime/src/main.ts`, the
 * container's command), in front of real upstream servers and a real broker on RabbitMQ: proxying,
 * server-sent events passed through unbuffered, backpressure, timeouts, upstream failures, publishing,
 * hooks, metrics, slow clients, and the drain on SIGTERM.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningBroker, startBroker } from '../../../eventing/src/index.ts';
import { contractManifests, quietLog } from '../../../eventing/src/testing/manifests.ts';
import { startTestSink, type TestSink } from '../../../eventing/src/testing/test-sink.ts';
import { type SpawnedFunction, spawnFunctionOnFreePort, waitFor } from '../../runtime/test/support.ts';

const EVENT_TYPE = 'dev.sluice.test.gateway.v1';
const OPS_TOKEN = 'test-ops-token-0123456789';
const BIG_TOTAL = 64 * 1024 * 1024;

/** The upstream Service behind the gateway, with one path per behaviour under test. */
interface Upstream {
  readonly url: string;
  readonly server: Server;
  /** Lets the held server-sent event stream write its second event and end. */
  releaseEvents(): void;
  eventsEnded: boolean;
  bigWritten: number;
  bigFinished: boolean;
  /** Kept-alive sockets /close-next closed under the request they carried. */
  staleClosed: number;
  /** Requests that reached the upstream. */
  requests: number;
}

async function startUpstream(): Promise<Upstream> {
  let release: () => void = () => {};
  const state: Upstream = {
    url: '',
    server: createServer(),
    releaseEvents: () => release(),
    eventsEnded: false,
    bigWritten: 0,
    bigFinished: false,
    staleClosed: 0,
    requests: 0,
  };
  const answeredOn = new WeakSet<object>();
  const echo = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-upstream': 'echo',
      connection: 'keep-alive',
    });
    res.end(body);
  };
  state.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: one\n\n');
      void new Promise<void>((r) => {
        release = r;
      }).then(() => {
        res.end('data: two\n\n');
        state.eventsEnded = true;
      });
      return;
    }
    if (path === '/slow') return; // never answers
    // A kept-alive socket that closes as the next request arrives on it (the server's idle timeout, raced).
    if (path === '/close-next') {
      if (answeredOn.has(req.socket)) {
        state.staleClosed++;
        req.socket.destroy();
        return;
      }
      answeredOn.add(req.socket);
    }
    if (path === '/reset') {
      req.socket.destroy();
      return;
    }
    if (path === '/big') {
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let gone = false;
      res.on('close', () => {
        gone = true;
      });
      void (async () => {
        while (state.bigWritten < BIG_TOTAL && !gone) {
          state.bigWritten += chunk.length;
          if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        }
        if (!gone) res.end(() => (state.bigFinished = true));
      })();
      return;
    }
    // A request the gateway gave up on ends in `aborted` here; nothing to answer then.
    echo(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  return Object.assign(state, { url: `http://127.0.0.1:${(state.server.address() as AddressInfo).port}` });
}

const ROUTES = `apiVersion: gateway.sluice.dev/v1alpha1
kind: RouteTable
routes:
  - {prefix: /api/echo, service: echo, prefixRewrite: /, timeout: 5s}
  - {prefix: /api/events, service: echo, prefixRewrite: /events}
  - {prefix: /api/slow, service: echo, prefixRewrite: /slow, timeout: 300ms}
  - {prefix: /api/slowbody, service: echo, prefixRewrite: /, timeout: 300ms}
  - {prefix: /api/down, service: down}
  - {prefix: /api/reset, service: echo, prefixRewrite: /reset}
  - {prefix: /api/close-next, service: echo, prefixRewrite: /close-next, methods: [GET, POST]}
  - {prefix: /api/big, service: echo, prefixRewrite: /big}
  - {prefix: /api/small, service: echo, prefixRewrite: /, maxBodyBytes: 16, methods: [POST]}
  - prefix: /api/ops
    service: echo
    prefixRewrite: /
    auth: {hook: bearer-token, config: {tokenEnv: TEST_OPS_TOKEN, principal: ops}}
  - prefix: /api/ops-rechecked
    service: echo
    prefixRewrite: /
    auth: {hook: bearer-token, forwardAuthorization: true, config: {tokenEnv: TEST_OPS_TOKEN, principal: ops}}
  - prefix: /api/limited
    service: echo
    prefixRewrite: /
    rateLimit: {hook: fixed-window, key: client-address, config: {limit: 2, window: 1h}}
  - prefix: /api/hello
    publish: {type: ${EVENT_TYPE}, source: /tests/gateway}
    maxBodyBytes: 64
`;

describe('api-gateway through the runtime, in front of real upstreams and a RabbitMQ broker', () => {
  let dir: string;
  let upstream: Upstream;
  let sink: TestSink;
  let broker: RunningBroker;
  let gateway: SpawnedFunction;
  let metricsUrl: string;
  const gw = (path: string): string => `${gateway.url}${path}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-gateway-'));
    writeFileSync(join(dir, 'tests.yaml'), ROUTES);
    upstream = await startUpstream();
    sink = await startTestSink();
    broker = await startBroker({
      manifests: contractManifests([{ name: 'hello-sink', filter: { type: EVENT_TYPE } }]),
      resolveSubscriber: () => sink.url,
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: inject('rabbitmqUrl'),
      instance: `gw-${process.pid}-${Date.now().toString(36)}`,
      log: quietLog,
    });
    // tcpmux's privileged port: nothing listens there (a port free a moment ago can be taken by the next one picked).
    const downPort = 1;
    gateway = await spawnFunctionOnFreePort(join(import.meta.dirname), {
      K_SERVICE: 'api-gateway',
      GATEWAY_ROUTES_DIR: dir,
      SLUICE_SERVICE_URLS: JSON.stringify({ echo: upstream.url, down: `http://127.0.0.1:${downPort}` }),
      BROKER_URL: broker.url,
      TEST_OPS_TOKEN: OPS_TOKEN,
      METRICS_PORT: '0',
      OTEL_SDK_DISABLED: 'false',
      REQUEST_HEADERS_TIMEOUT_SECONDS: '1',
      REQUEST_TIMEOUT_SECONDS: '5',
      SHUTDOWN_TIMEOUT_SECONDS: '10',
    });
    const ready = await waitFor(
      'the gateway to be ready',
      async () => {
        const line = gateway
          .output()
          .split('\n')
          .find((l) => l.includes('"function ready"'));
        return line !== undefined && (await fetch(gw('/health/readiness'))).status === 200 && line;
      },
      30_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${gateway.output()}`);
    });
    metricsUrl = `http://127.0.0.1:${(JSON.parse(ready) as Record<string, number>)['sluice.metrics_port']}/metrics`;
  }, 60_000);

  afterAll(async () => {
    if (gateway?.child.exitCode === null) {
      gateway.child.kill('SIGKILL');
      await gateway.exited;
    }
    await broker?.destroy();
    await sink?.close();
    upstream?.server.closeAllConnections();
    upstream?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('proxy routes', () => {
    it('proxies with the prefix rewritten, the query kept, and the forwarding trail added', async () => {
      const res = await fetch(gw('/api/echo/accounts/a1?limit=2'), {
        headers: { 'x-request-id': 'req-1', 'x-sluice-principal': 'admin' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-upstream')).toBe('echo');
      expect(res.headers.get('x-request-id')).toBe('req-1');
      const seen = (await res.json()) as { url: string; headers: Record<string, string> };
      expect(seen.url).toBe('/accounts/a1?limit=2');
      expect(seen.headers['x-request-id']).toBe('req-1');
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen.headers['x-sluice-principal']).toBeUndefined();
      expect(seen.headers.host).toBe(new URL(upstream.url).host);
    });

    it('continues the caller’s trace as a new span, or starts one, and always names the request', async () => {
      const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const traced = (await (
        await fetch(gw('/api/echo/'), { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })
      ).json()) as { headers: Record<string, string> };
      expect(traced.headers.traceparent).toMatch(new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
      expect(traced.headers.traceparent).not.toContain('00f067aa0ba902b7');
      const fresh = await fetch(gw('/api/echo/'));
      const seen = (await fresh.json()) as { headers: Record<string, string> };
      expect(seen.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(fresh.headers.get('x-request-id')).toBe(seen.headers['x-request-id']);
    });

    it('passes server-sent events through unbuffered: the first arrives while the upstream still holds the stream', async () => {
      const res = await fetch(gw('/api/events'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('data: one\n\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      expect(text).toContain('data: one\n\n');
      expect(upstream.eventsEnded).toBe(false);
      upstream.releaseEvents();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      expect(text).toBe('data: one\n\ndata: two\n\n');
    });

    it('respects backpressure: a client that stops reading stops the upstream', async () => {
      const req = get(gw('/api/big'));
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      res.pause();
      // Until the upstream stops making progress (or, with a buffering gateway, writes everything).
      let last = -1;
      let still = 0;
      await waitFor(
        'the upstream to stall',
        () => {
          still = upstream.bigWritten === last ? still + 1 : 0;
          last = upstream.bigWritten;
          return upstream.bigFinished || still >= 10;
        },
        30_000,
      );
      expect(upstream.bigFinished).toBe(false);
      expect(upstream.bigWritten).toBeLessThan(BIG_TOTAL);
      req.destroy();
    });

    it('answers 504 with the reason when the upstream does not start answering within the route timeout', async () => {
      const res = await fetch(gw('/api/slow'), { headers: { 'x-request-id': 'slow-1' } });
      expect(res.status).toBe(504);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toEqual({
        type: 'https://sluice.dev/problems/upstream-timeout',
        title: 'Gateway Timeout',
        status: 504,
        detail: "echo did not start answering within 300 ms (the route's timeout)",
        instance: '/api/slow',
        'request-id': 'slow-1',
        route: '/api/slow',
      });
    });

    it('answers 408 when the client is the slow one (its body did not arrive in time)', async () => {
      const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1');
      socket.write(
        'POST /api/slowbody HTTP/1.1\r\nHost: gw\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly a little',
      );
      let answer = '';
      socket.setEncoding('utf8').on('data', (c: string) => {
        answer += c;
      });
      await waitFor('an answer', () => answer.includes('\r\n\r\n') && answer.includes('}'));
      socket.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('request-timeout');
    });

    it('answers 503 + Retry-After when nothing listens where the Service should be', async () => {
      const res = await fetch(gw('/api/down/x'));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toMatchObject({
        type: 'https://sluice.dev/problems/upstream-unavailable',
        detail: 'down is not reachable (ECONNREFUSED)',
      });
    });

    it('answers 502 when the upstream drops the connection before answering', async () => {
      const res = await fetch(gw('/api/reset'));
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ type: 'https://sluice.dev/problems/upstream-failed' });
    });

    it('sends a GET once more when its kept-alive socket closes under it, and a POST never', async () => {
      expect((await fetch(gw('/api/close-next'))).status).toBe(200);
      // The gateway reuses the socket that just answered (its pool is LIFO); the upstream closes it.
      const before = upstream.staleClosed;
      const get = await fetch(gw('/api/close-next'));
      expect(get.status).toBe(200);
      expect(upstream.staleClosed).toBe(before + 1);
      // A request with a body is not sent twice: the upstream may have acted on it.
      const post = await fetch(gw('/api/close-next'), { method: 'POST', body: '{"once":true}' });
      expect(upstream.staleClosed).toBe(before + 2);
      expect(post.status).toBe(502);
      expect(await post.json()).toMatchObject({ detail: 'echo failed before answering (ECONNRESET)' });
    });

    it('refuses a CloudEvent on a proxy route, binary or structured, before it reaches the upstream', async () => {
      const before = upstream.requests;
      const binary = await fetch(gw('/api/echo/orders'), {
        method: 'POST',
        headers: {
          'ce-specversion': '1.0',
          'ce-id': 'forged-1',
          'ce-type': 'dev.sluice.orders.order.billed.v1',
          'ce-source': '/outside',
          'content-type': 'application/json',
        },
        body: '{"orderId":"o-1"}',
      });
      expect(binary.status).toBe(400);
      expect(await binary.json()).toMatchObject({ type: 'https://sluice.dev/problems/event-not-accepted' });
      const structured = await fetch(gw('/api/echo/orders'), {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: '{"specversion":"1.0","id":"forged-2","type":"t","source":"/outside"}',
      });
      expect(structured.status).toBe(400);
      expect(upstream.requests).toBe(before);
      // Plain JSON to the same route still goes through.
      expect((await fetch(gw('/api/echo/orders'), { method: 'POST', body: '{}' })).status).toBe(200);
    });

    it('refuses what it will not forward: 404, 405, 413 and 400, each with its reason', async () => {
      const noRoute = await fetch(gw('/nowhere'));
      expect(noRoute.status).toBe(404);
      expect(((await noRoute.json()) as { detail: string }).detail).toBe('no route for /nowhere');
      const method = await fetch(gw('/api/small'));
      expect(method.status).toBe(405);
      expect(method.headers.get('allow')).toBe('POST');
      const big = await fetch(gw('/api/small'), { method: 'POST', body: 'x'.repeat(17) });
      expect(big.status).toBe(413);
      expect(gateway.output()).not.toContain('gateway failed');
      const fits = await fetch(gw('/api/small'), { method: 'POST', body: 'x'.repeat(16) });
      expect(fits.status).toBe(200);
      // fetch would resolve the dot segments itself; node:http sends the path as written.
      const traversal = get({
        host: '127.0.0.1',
        port: new URL(gateway.url).port,
        path: '/api/echo/%2e%2e/admin',
      });
      const [answer] = (await once(traversal, 'response')) as [IncomingMessage];
      answer.resume();
      expect(answer.statusCode).toBe(400);
    });
  });

  describe('hooks', () => {
    it('runs the route’s auth hook and passes the principal upstream', async () => {
      const anonymous = await fetch(gw('/api/ops'));
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
      const ops = await fetch(gw('/api/ops'), { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
      expect(ops.status).toBe(200);
      const seen = ((await ops.json()) as { headers: Record<string, string> }).headers;
      expect(seen['x-sluice-principal']).toBe('ops');
      // The hook consumed the credential: the upstream learns who, never the token itself.
      expect(seen.authorization).toBeUndefined();
    });

    it('passes Authorization on only where the route asks (an upstream that checks it again) or has no auth hook', async () => {
      const headersSeen = async (path: string, authorization: string) =>
        (
          (await (await fetch(gw(path), { headers: { authorization } })).json()) as {
            headers: Record<string, string>;
          }
        ).headers;
      const rechecked = await headersSeen('/api/ops-rechecked', `Bearer ${OPS_TOKEN}`);
      expect(rechecked.authorization).toBe(`Bearer ${OPS_TOKEN}`);
      expect(rechecked['x-sluice-principal']).toBe('ops');
      expect((await headersSeen('/api/echo/', 'Bearer the-upstream-own-token')).authorization).toBe(
        'Bearer the-upstream-own-token',
      );
    });

    it('runs the route’s rate-limit hook: 429 + Retry-After past the limit', async () => {
      expect((await fetch(gw('/api/limited'))).status).toBe(200);
      expect((await fetch(gw('/api/limited'))).status).toBe(200);
      const third = await fetch(gw('/api/limited'));
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });

  describe('publish routes', () => {
    it('answers 202 once the broker stored the event, which then reaches the trigger’s subscriber', async () => {
      const trace = '0af7651916cd43dd8448eb211c80319c';
      const res = await fetch(gw('/api/hello'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${trace}-b7ad6b7169203331-01` },
        body: JSON.stringify({ name: 'Ada' }),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      const accepted = (await res.json()) as { id: string; type: string; source: string };
      expect(accepted).toMatchObject({ type: EVENT_TYPE, source: '/tests/gateway' });
      const got = await waitFor('the event at the subscriber', () => sink.attemptsOf(accepted.id)[0], 20_000);
      expect(got.event).toMatchObject({ type: EVENT_TYPE, source: '/tests/gateway', data: { name: 'Ada' } });
      // The broker carries the HTTP traceparent on (eventing-rabbitmq's data plane), as the next hop's header.
      expect(String(got.headers.traceparent)).toContain(trace);
    });

    it('publishes a retried POST with the same Idempotency-Key as the same event', async () => {
      const post = () =>
        fetch(gw('/api/hello'), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': '"5d7c0f7e-2c1e-4a8e-9d3c-1c2b3a4d5e6f"',
          },
          body: '{"name":"Grace"}',
        });
      const first = (await (await post()).json()) as { id: string };
      const second = (await (await post()).json()) as { id: string };
      expect(second.id).toBe(first.id);
      await waitFor('both deliveries', () => sink.attemptsOf(first.id).length === 2, 20_000);
    });

    it('refuses what it cannot publish: 415, 400 for broken JSON, 413, 405, 404 below the prefix', async () => {
      const post = (body: string, contentType = 'application/json', path = '/api/hello') =>
        fetch(gw(path), { method: 'POST', headers: { 'content-type': contentType }, body });
      expect((await post('{}', 'text/plain')).status).toBe(415);
      const broken = await post('{"name":');
      expect(broken.status).toBe(400);
      expect(await broken.json()).toMatchObject({ type: 'https://sluice.dev/problems/invalid-json' });
      expect((await post(JSON.stringify({ name: 'x'.repeat(100) }))).status).toBe(413);
      expect((await fetch(gw('/api/hello'))).status).toBe(405);
      expect((await post('{}', 'application/json', '/api/hello/extra')).status).toBe(404);
    });
  });

  describe('metrics', () => {
    it('records each request by route and status, on the metrics port only', async () => {
      const counts = (await (await fetch(metricsUrl)).text())
        .split('\n')
        .filter((l) => l.startsWith('http_server_request_duration_seconds_count{'));
      const count = (...labels: string[]) =>
        Number(
          counts
            .find((l) => labels.every((label) => l.includes(label)))
            ?.split(' ')
            .at(-1) ?? 0,
        );
      expect(
        count('http_request_method="GET"', 'http_route="/api/echo"', 'http_response_status_code="200"'),
      ).toBeGreaterThan(0);
      expect(count('http_route="/api/slow"', 'http_response_status_code="504"')).toBe(1);
      expect(count('http_route="/api/small"', 'http_response_status_code="413"')).toBe(1);
      expect(count('http_route="/api/hello"', 'http_response_status_code="202"')).toBeGreaterThan(0);
      expect((await fetch(gw('/metrics'))).status).toBe(404);
    });
  });

  describe('slow clients and shutdown', () => {
    it('answers 408 and closes when the request headers take too long', async () => {
      const socket = connect(Number(new URL(gateway.url).port), '127.0.0.1');
      socket.write('GET /api/echo HTTP/1.1\r\nHost: gw\r\n');
      let answer = '';
      socket.setEncoding('utf8').on('data', (c: string) => {
        answer += c;
      });
      const closed = once(socket, 'close');
      await waitFor('the 408', () => answer.includes('\r\n\r\n'), 15_000);
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    });

    it('ends open event streams cleanly on SIGTERM and exits 0', async () => {
      const res = await fetch(gw('/api/events'));
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // the first event: the stream is open
      gateway.child.kill('SIGTERM');
      for (;;) {
        const { done } = await reader.read(); // rejects if the stream were cut instead of ended
        if (done) break;
      }
      expect(await gateway.exited).toBe(0);
    });
  });
});
