/**
 * A publish route against a real broker ingress stand-in (node:http on a real socket): what the gateway sends,
 * and each answer of the table in publish.ts — stored (202), refused (502, 413), unavailable (503 + Retry-After),
 * unreachable (503), no answer in time (504).
 */
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../platform/test-servers/ports.ts';
import { parseRouteTable } from '../../runtime/src/index.ts';
import { createGateway, type Gateway } from './gateway.ts';

const ROUTES = `apiVersion: gateway.sluice.dev/v1alpha1
kind: RouteTable
routes:
  - prefix: /api/hello
    publish:
      type: dev.sluice.hello.requested.v1
      source: /sluice/gateway/hello
    maxBodyBytes: 16384
    timeout: 300ms
`;

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The gateway with the route above in front of `brokerUrl`, served on a port of its own. */
async function startGateway(
  brokerUrl: string,
  shutdown: AbortSignal,
): Promise<{ gateway: Gateway; server: Server; url: string }> {
  const gateway = createGateway({
    table: await parseRouteTable([{ system: 'demo', file: 'routes.yaml', text: ROUTES }]),
    hooks: new Map(),
    upstream: () => undefined,
    brokerUrl,
    trustedHops: 0,
    log: { debug() {}, info() {}, warn() {}, error() {} },
    metrics: { request() {} },
    shutdown,
  });
  const server = createServer(gateway.handle);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { gateway, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
}

/** What the broker stand-in answers next: a status, a body, or nothing at all. */
type Answer = { readonly status: number; readonly body?: string } | 'silence' | 'cut';

describe('a publish route (api-gateway → broker ingress)', () => {
  let gateway: Gateway;
  let front: Server;
  let broker: Server;
  let brokerPort: number;
  let frontUrl: string;
  let answer: Answer = { status: 202 };
  const received: Received[] = [];
  const shutdown = new AbortController();

  const listen = (server: Server, port = 0): Promise<number> =>
    new Promise((ok) => server.listen(port, '127.0.0.1', () => ok((server.address() as AddressInfo).port)));

  const post = (
    body: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: IncomingHttpHeaders; json: Record<string, unknown> }> =>
    new Promise((ok, fail) => {
      const req = request(
        `${frontUrl}/api/hello`,
        { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () =>
            ok({
              status: res.statusCode ?? 0,
              headers: res.headers,
              json: JSON.parse(text) as Record<string, unknown>,
            }),
          );
        },
      );
      req.on('error', fail);
      req.end(body);
    });

  beforeAll(async () => {
    broker = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        if (answer === 'silence') return;
        if (answer === 'cut') {
          req.socket.destroy(); // read, then gone before answering: stored or not, the client cannot know
          return;
        }
        res.writeHead(answer.status, { 'content-type': 'application/problem+json' });
        res.end(answer.body ?? '');
      });
    });
    brokerPort = await listen(broker);
    ({
      gateway,
      server: front,
      url: frontUrl,
    } = await startGateway(`http://127.0.0.1:${brokerPort}/`, shutdown.signal));
  });

  afterEach(() => {
    answer = { status: 202 };
    received.length = 0;
  });

  afterAll(async () => {
    shutdown.abort();
    gateway.close();
    await stopServer(broker);
    await stopServer(front);
  });

  it('answers 202 with the event once the broker stored it, sent in binary mode with the trace', async () => {
    const first = await post('{"name":"Ada","language":"en"}', {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    const second = await post('{"name":"Grace","language":"en"}');
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({
      type: 'dev.sluice.hello.requested.v1',
      source: '/sluice/gateway/hello',
    });
    expect(second.json.id).not.toBe(first.json.id);
    expect(received).toHaveLength(2);
    const [event] = received;
    expect(event?.body).toBe('{"name":"Ada","language":"en"}');
    expect(event?.headers).toMatchObject({
      'ce-specversion': '1.0',
      'ce-id': first.json.id,
      'ce-type': 'dev.sluice.hello.requested.v1',
      'ce-source': '/sluice/gateway/hello',
      'content-type': 'application/json',
      'content-length': '30',
    });
    expect(event?.headers['ce-traceparent']).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(Date.parse(String(event?.headers['ce-time']))).not.toBeNaN();
  });

  it('answers 502 with what the broker said when it refuses the event', async () => {
    answer = { status: 400, body: JSON.stringify({ detail: 'ce-type is not valid' }) };
    const r = await post('{}');
    expect(r.status).toBe(502);
    expect(r.json.type).toMatch(/broker-refused$/);
    expect(String(r.json.detail)).toContain('ce-type is not valid');
  });

  it('answers 413 when the broker finds the event too large', async () => {
    answer = { status: 413, body: 'too large' };
    expect((await post('{}')).status).toBe(413);
  });

  it('answers 503 with Retry-After when the broker did not store it (5xx)', async () => {
    answer = { status: 503, body: JSON.stringify({ detail: 'RabbitMQ is down' }) };
    const r = await post('{}');
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(String(r.json.detail)).toContain('RabbitMQ is down');
  });

  it('answers 504 when the broker does not answer within the route timeout: stored or not is unknown', async () => {
    answer = 'silence';
    const r = await post('{}');
    expect(r.status).toBe(504);
    expect(r.json.type).toMatch(/broker-timeout$/);
    expect(received).toHaveLength(1);
  });

  it('answers 503 saying the event may be stored when the broker cuts the connection after reading it', async () => {
    answer = 'cut';
    const r = await post('{}', { 'idempotency-key': 'cut-1' });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(String(r.json.detail)).toContain('ECONNRESET');
    expect(String(r.json.detail)).toContain('may or may not be stored: retry with the same Idempotency-Key');
    expect(received.length).toBeGreaterThan(0);
  });

  it('answers 503 with Retry-After when nothing listens at the broker address', async () => {
    const lonely = await startGateway(`http://127.0.0.1:${await freePort()}/`, shutdown.signal);
    const url = lonely.url;
    try {
      const r = await fetch(`${url}/api/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      const { detail } = (await r.json()) as { detail: string };
      expect(detail).toContain('ECONNREFUSED');
      expect(detail).toContain('nothing was stored');
    } finally {
      lonely.gateway.close();
      await stopServer(lonely.server);
    }
  });
});
