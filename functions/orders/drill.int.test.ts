/**
 * `make drill` end to end on the local platform, as `make dev` runs it (startDevPlatform: every function, the broker
 * from eventing/manifests on RabbitMQ, FerretDB): the drill's own CLI (cli.ts) finds the platform through an
 * endpoints file as it finds `make dev`'s, pauses billing's Trigger through make dev's console API, places 20 orders
 * through the gateway, checks none is billed and the queue holds 20, resumes, and checks each order billed once in
 * billing's database. Its last line is the one the issue asks for, and it exits 0.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningBroker } from '../../eventing/src/index.ts';
import type { DevPlatform } from '../../platform/local/src/platform.ts';
import { RecordingLogger } from '../../platform/local/src/testing/recording-logger.ts';
import {
  type SystemPlatform,
  startSystemPlatform,
} from '../../platform/local/src/testing/system-platform.ts';
import { type DocumentStore, ENDPOINTS_STATE, writeEndpointsFile } from '../runtime/src/index.ts';
import { waitFor } from '../runtime/test/support.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ORDERS = 20;
/** billing's collections (lib/orders.ts; a system test reads no lib). */
const Collections = { orders: 'orders', invoices: 'invoices' } as const;
/** The line the issue asks for, word for word. */
const finalLine = (n: number): string =>
  `drill: ${n} orders queued while billing was paused, ${n} billed exactly once after resume`;

function drill(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['functions/orders/drill/cli.ts', '--orders', String(ORDERS)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    child.once('exit', (code) => done({ code, out }));
  });
}

describe('make drill on the local platform (RabbitMQ + FerretDB)', () => {
  let sys: SystemPlatform | undefined;
  let db: string;
  let dir: string;
  let platform: DevPlatform | undefined;
  let broker: RunningBroker | undefined;
  let store: DocumentStore;

  beforeAll(async () => {
    sys = await startSystemPlatform({
      name: 'drill',
      rabbitmqUrl: inject('rabbitmqUrl'),
      mongodbUrl: inject('mongodbUrl'),
      log: new RecordingLogger(),
    });
    ({ platform, broker, store, dir, db } = sys);
    for (const path of ['/api/billing/00000000-0000-4000-8000-000000000000'])
      await waitFor(
        `${path} served`,
        async () => (await fetch(`${platform?.gateway?.url}${path}`)).status === 404,
        90_000,
      );
  }, 180_000);

  afterAll(async () => {
    await sys?.stop();
  }, 120_000);

  it(`pauses billing, queues ${ORDERS} orders, resumes, and bills each exactly once; exit 0 on the final line`, async () => {
    const p = platform as DevPlatform;
    const endpoints = join(dir, 'endpoints.json');
    await writeEndpointsFile(endpoints, {
      state: ENDPOINTS_STATE.running,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      ...(p.broker === undefined ? {} : { brokerUrl: p.broker.url }),
      ...(p.gateway === undefined ? {} : { gatewayUrl: p.gateway.url }),
      ...(p.trail === undefined ? {} : { trailUrl: p.trail.url, trailToken: p.trail.token }),
      services: {},
    });
    const { code, out } = await drill({
      SLUICE_DEV_ENDPOINTS: endpoints,
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: db,
    });
    const lines = out.trim().split('\n');
    expect(lines.at(-1), out).toBe(finalLine(ORDERS));
    expect(code).toBe(0);
    expect(out).toContain(`${ORDERS}/${ORDERS} accepted (202)`);
    expect(out).toContain("none in billing's database");
    expect(out).toContain(`billing's queue holds ${ORDERS} messages`);
    // Billing's own database, read here directly: one bill and one invoice number per order, all distinct.
    const bills = await store.collection(Collections.orders).find({});
    const invoices = await store.collection(Collections.invoices).find({});
    expect(bills).toHaveLength(ORDERS);
    expect(new Set(invoices.map((i) => i.orderId)).size).toBe(ORDERS);
    expect(new Set(bills.map((b) => b.invoiceNumber)).size).toBe(ORDERS);
    // The trigger is active again and its queue empty.
    expect(broker?.paused('billing')).toBe(false);
    expect((await broker?.triggers())?.find((t) => t.name === 'billing')).toMatchObject({
      depth: 0,
      replicas: 1,
    });
  }, 240_000);

  it('exits non-zero with the reason when the drill cannot hold (queue not empty at the start)', async () => {
    const p = platform as DevPlatform;
    await broker?.pause('billing', true);
    const res = await fetch(`${p.gateway?.url}/api/billing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: '1', number_of_items: 1, total_amount: 1 }),
    });
    expect(res.status).toBe(202);
    const endpoints = join(dir, 'endpoints.json');
    const { code, out } = await drill({
      SLUICE_DEV_ENDPOINTS: endpoints,
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: db,
    });
    expect(code).toBe(1);
    expect(out.trim().split('\n').at(-1)).toMatch(/^drill: FAILED: billing's queue already holds 1 messages/);
    await broker?.pause('billing', false);
  }, 120_000);
});
