import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DevEndpoints,
  ENDPOINTS_STATE,
  readDevEndpoints,
  resolveEndpoint,
  unreadExchange,
  writeEndpointsFile,
} from './dev-endpoints.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** An endpoints file as a running make dev (this process) writes it, and the env that points the CLIs at it. */
async function running(extra: Partial<DevEndpoints>): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-endpoints-'));
  dirs.push(dir);
  const file = join(dir, 'endpoints.json');
  await writeEndpointsFile(file, {
    state: ENDPOINTS_STATE.running,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    brokerUrl: 'http://127.0.0.1:1/',
    services: {},
    ...extra,
  });
  return { SLUICE_DEV_ENDPOINTS: file };
}

describe('dev endpoints', () => {
  it('resolves an explicit variable first, then the running make dev, then the default', async () => {
    const env = await running({});
    expect(
      resolveEndpoint('BROKER_URL', (e) => e.brokerUrl, 'http://d/', { ...env, BROKER_URL: 'http://x/' }),
    ).toEqual({
      url: 'http://x/',
      from: 'env BROKER_URL',
    });
    expect(resolveEndpoint('BROKER_URL', (e) => e.brokerUrl, 'http://d/', env).url).toBe(
      'http://127.0.0.1:1/',
    );
    expect(
      resolveEndpoint('BROKER_URL', (e) => e.brokerUrl, 'http://d/', {
        SLUICE_DEV_ENDPOINTS: '/nonexistent',
      }),
    ).toEqual({
      url: 'http://d/',
      from: 'default',
    });
  });

  it('ignores a file whose make dev is stopped', async () => {
    const env = await running({ state: ENDPOINTS_STATE.stopped });
    expect(readDevEndpoints(env.SLUICE_DEV_ENDPOINTS)).toBeUndefined();
  });

  describe('unreadExchange', () => {
    it('refuses an exchange when the running make dev reads none (its in-memory broker), naming the fix', async () => {
      const env = await running({ sourceExchanges: [] });
      expect(unreadExchange('sluice.fleet.positions', env)).toMatch(
        /no RabbitMQ.*sluice\.fleet\.positions.*RABBITMQ_URL=amqp:\/\/guest:guest@127\.0\.0\.1:5672 make dev/,
      );
    });

    it('refuses an exchange its sources leave out, and allows one they read', async () => {
      const env = await running({ sourceExchanges: ['sluice.streams.readings'] });
      expect(unreadExchange('sluice.streams.readings', env)).toBeUndefined();
      expect(unreadExchange('sluice.fleet.positions', env)).toMatch(/SLUICE_SOURCES/);
    });

    it('says nothing when no make dev runs (a cluster may be the reader) or it did not say what it reads', async () => {
      expect(
        unreadExchange('sluice.fleet.positions', { SLUICE_DEV_ENDPOINTS: '/nonexistent' }),
      ).toBeUndefined();
      expect(unreadExchange('sluice.fleet.positions', await running({}))).toBeUndefined();
    });
  });
});
