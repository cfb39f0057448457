/**
 * The token-bucket limit shared by every gateway instance through Redis (REDIS_URL, 127.0.0.1:6379 on
 * these machines): two gateway processes started as their containers would, one API key, 50 concurrent
 * requests split across both → exactly 10 through, 40 refused with 429 + Retry-After + RateLimit fields.
 * The api-key hook asks a stand-in verifier (the users function's /keys/verify contract).
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../../../platform/test-servers/ports.ts';
import { startTcpProxy } from '../../../../platform/test-servers/tcp-proxy.ts';
import { type SpawnedFunction, spawnFunction, waitFor } from '../../../runtime/test/support.ts';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const KEY = 'qk_ada_test-key';
const BUCKET = `it-${process.pid}-${Date.now().toString(36)}`;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('token-bucket through Redis, shared by two gateway instances', () => {
  let dir: string;
  let upstream: Server;
  let verifier: Server;
  let verifyCalls = 0;
  let upstreamUrl: string;
  let verifierUrl: string;
  const gateways: SpawnedFunction[] = [];

  beforeAll(async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect(); // fails the suite here, clearly, when Redis is not running
    redis.disconnect();
    upstream = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    );
    verifier = createServer((req, res) => {
      verifyCalls++;
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const ok = (JSON.parse(body) as { key: string }).key === KEY;
        res
          .writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
          .end(ok ? '{"principal":"ada","role":"user"}' : '{"status":401}');
      });
    });
    [upstreamUrl, verifierUrl] = await Promise.all([listen(upstream), listen(verifier)]);
    dir = mkdtempSync(join(tmpdir(), 'sluice-ratelimit-'));
    writeFileSync(
      join(dir, 'quotes.yaml'),
      `apiVersion: gateway.sluice.dev/v1alpha1
kind: RouteTable
routes:
  - prefix: /quotes
    service: quotes
    auth: {hook: api-key, config: {verifyService: users}}
    rateLimit: {hook: token-bucket, key: principal, config: {limit: 10, period: 1m, bucket: ${BUCKET}}}
`,
    );
    // Both gateway ports at once; each metrics server listens on 0 and reports its port in "function ready".
    for (const port of await freePorts(2)) {
      gateways.push(
        spawnFunction(join(import.meta.dirname, '..'), port, {
          K_SERVICE: 'api-gateway',
          GATEWAY_ROUTES_DIR: dir,
          SLUICE_SERVICE_URLS: JSON.stringify({ quotes: upstreamUrl, users: verifierUrl }),
          REDIS_URL,
          OTEL_SDK_DISABLED: 'false',
          METRICS_PORT: '0',
        }),
      );
    }
    for (const g of gateways) {
      await waitFor(
        'a gateway to be ready',
        async () => (await fetch(`${g.url}/health/readiness`)).status === 200,
        30_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${g.output()}`);
      });
    }
  }, 60_000);

  afterAll(async () => {
    for (const g of gateways) {
      g.child.kill('SIGTERM');
      await g.exited;
    }
    upstream?.close();
    verifier?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly 10 of 50 concurrent requests with one key through, across both instances', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${(gateways[i % 2] as SpawnedFunction).url}/quotes`, {
          headers: { authorization: i % 3 === 0 ? `Bearer ${KEY}` : KEY },
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    const refused = answers.find((a) => a.status === 429) as Response;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit-policy')).toBe(`"${BUCKET}";q=10;w=60`);
    expect(refused.headers.get('ratelimit')).toMatch(new RegExp(`^"${BUCKET}";r=0;t=\\d+$`));
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    const passed = answers.find((a) => a.status === 200) as Response;
    expect(passed.headers.get('ratelimit-limit')).toBe('10');
    // Each instance asked the verifier at most once for the key (concurrent checks share one call).
    expect(verifyCalls).toBeLessThanOrEqual(2);
  });

  it('counts the refusals per route and key on the metrics port (the dashboard and the alert read it)', async () => {
    let refused = 0;
    for (const g of gateways) {
      const line = g
        .output()
        .split('\n')
        .find((l) => l.includes('"function ready"')) as string;
      const port = (JSON.parse(line) as Record<string, number>)['sluice.metrics_port'];
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m =
        /^sluice_gateway_rate_limited_total\{[^}]*http_route="\/quotes"[^}]*user_id="ada"[^}]*\} (\d+)/m.exec(
          text,
        );
      refused += Number(m?.[1] ?? 0);
    }
    expect(refused).toBe(40);
  });

  it('fails closed while Redis is unreachable (503 problem+json within its command timeout), and limits again once it is back', async () => {
    const redis = new URL(REDIS_URL);
    const proxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
    redis.hostname = proxy.host;
    redis.port = String(proxy.port);
    const [port] = await freePorts(1);
    const g = spawnFunction(join(import.meta.dirname, '..'), port as number, {
      K_SERVICE: 'api-gateway',
      GATEWAY_ROUTES_DIR: dir,
      SLUICE_SERVICE_URLS: JSON.stringify({ quotes: upstreamUrl, users: verifierUrl }),
      REDIS_URL: redis.href,
      OTEL_SDK_DISABLED: 'true',
    });
    const get = () => fetch(`${g.url}/quotes`, { headers: { authorization: `Bearer ${KEY}` } });
    try {
      await waitFor(
        'the gateway to be ready',
        async () => (await fetch(`${g.url}/health/readiness`)).status === 200,
        30_000,
      );
      // The bucket is the one the first test emptied: 429 means Redis answered.
      expect((await get()).status).toBe(429);
      proxy.refuse(true);
      proxy.cut();
      const started = Date.now();
      const down = await get();
      expect(down.status).toBe(503);
      expect(down.headers.get('content-type')).toBe('application/problem+json');
      expect(Date.now() - started).toBeLessThan(10_000); // bounded, not hung (commandTimeout 1 s, plus the reconnects)
      proxy.refuse(false);
      await waitFor(
        'the limit to hold again through Redis',
        async () => (await get()).status === 429,
        20_000,
      );
    } finally {
      g.child.kill('SIGTERM');
      await g.exited;
      await proxy.close();
    }
  }, 60_000);

  it('answers 401 problem+json without a key, before counting anything', async () => {
    const res = await fetch(`${(gateways[0] as SpawnedFunction).url}/quotes`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
    expect(await res.json()).toMatchObject({ type: 'https://sluice.dev/problems/unauthorized', status: 401 });
  });
});
