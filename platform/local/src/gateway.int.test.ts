/**
 * The public entry under `make dev`: startDevPlatform with the repository's own manifests and route
 * table (exactly what `make dev` runs), curl-like requests through GATEWAY_PORT only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test-servers/ports.ts';
import { startEventingBroker } from './eventing-broker.ts';
import { operatorView } from './operator-view.ts';
import { type DevPlatform, startDevPlatform } from './platform.ts';
import { helloGreetings, until } from './testing/http-events.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('make dev: the gateway is the one public entry, with the repository route table', () => {
  let platform: DevPlatform;
  let dir: string;
  let gateway: string;
  let early: Response;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-gw-dev-'));
    const port = await freePort();
    // The broker starts only when the test says so: a request that reaches the gateway before that is held,
    // and the gateway must still start with the broker's URL (its env is complete only once the broker is up).
    let releaseBroker: () => void = () => {};
    const brokerGate = new Promise<void>((resolve) => {
      releaseBroker = resolve;
    });
    const starting = startDevPlatform({
      root: ROOT,
      log: new RecordingLogger(),
      out: { write: () => true },
      env: {
        PATH: process.env.PATH,
        BROKER_PORT: '0',
        GATEWAY_PORT: String(port),
        SLUICE_SCALE_TO_ZERO_AFTER: '60s',
        SLUICE_PROMETHEUS_TARGETS: join(dir, 'targets.json'),
      },
      startBroker: async (context) => {
        await brokerGate;
        return startEventingBroker(context);
      },
    });
    await until(
      'the gateway port to listen',
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => resolve(socket.destroy() !== undefined));
          socket.once('error', () => resolve(false));
        }),
    );
    const held = fetch(`http://127.0.0.1:${port}/api/hello`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Early' }),
    });
    releaseBroker();
    platform = await starting;
    early = await held;
    gateway = platform.gateway?.url ?? '';
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds a request that arrives while the platform comes up, and answers it once the broker is there', async () => {
    expect(early.status, await early.clone().text()).toBe(202);
  });

  it('serves the public Service on its own port and lists its routes in the start-up view', () => {
    expect(platform.gateway?.name).toBe('api-gateway');
    expect(gateway).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway).not.toBe(platform.serving.urlFor('accounts-api'));
    const view = operatorView(platform);
    expect(view).toContain(`gateway   ${gateway}  the one public entry`);
    expect(view).toMatch(/\/api\/accounts\s+→ accounts-api \/accounts \(GET, HEAD\)/);
    expect(view).toMatch(/\/api\/hello\s+→ publish dev\.sluice\.hello\.requested\.v1 \(POST\)/);
  });

  it("proxies /api/accounts to accounts-api's read API, started from zero", async () => {
    // The route's timeout (10 s) may end the first request while a loaded machine is still starting the
    // instance: that is a 504 problem+json from the gateway, and a later request finds accounts-api up.
    const res = await until(
      'accounts-api behind the gateway',
      async () => {
        const r = await fetch(`${gateway}/api/accounts?limit=5`);
        if (r.status === 504) {
          expect(await r.json()).toMatchObject({ status: 504 });
          return undefined;
        }
        return r;
      },
      120_000,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/.+/);
    expect(await res.json()).toEqual({ accounts: [], next: null });
    const missing = await fetch(`${gateway}/api/accounts/acc-nobody`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
  }, 180_000);

  it('publishes POST /api/hello as the hello event: 202, then hello (from zero) greets in the shared store', async () => {
    const name = `Ada-${Date.now()}`;
    const res = await fetch(`${gateway}/api/hello`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, language: 'en' }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      type: 'dev.sluice.hello.requested.v1',
      source: '/sluice/gateway/hello',
    });
    const greetings = helloGreetings(platform);
    const greeted = await until('hello to count the greeting', () => greetings(name), 45_000);
    expect(greeted).toBe(1);
  });

  it('refuses unrouted paths with problem+json', async () => {
    const res = await fetch(`${gateway}/accounts`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: 'https://sluice.dev/problems/no-route', status: 404 });
  });
});
