import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

/** `DRY_RUN=1 make drill` against a cluster (KUBECONFIG set): the commands, printed, none run. */
function dryRun(env: Record<string, string> = {}): string {
  const result = spawnSync(
    'make',
    ['--no-print-directory', '-o', 'node_modules/.installed', 'drill', 'ORDERS=7'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DRY_RUN: '1', KUBECONFIG: '/nonexistent', ...env },
      timeout: 60_000,
    },
  );
  if (result.status !== 0)
    throw new Error(`make drill failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

describe('make drill on a cluster (DRY_RUN=1)', () => {
  let lines: string[] = [];
  beforeAll(() => {
    lines = dryRun({ NAMESPACE: 'sluice-production', RABBITMQ_NAMESPACE: 'sluice-data' }).split('\n');
  }, 60_000);
  const at = (pattern: RegExp): number => lines.findIndex((l) => pattern.test(l));

  it("pauses billing's dispatcher, places the orders, checks the queue, resumes, in that order", () => {
    const order = [
      /^\+ kubectl -n sluice-production scale deployment\/billing-dispatcher --replicas=0$/,
      /^\+ kubectl -n sluice-production rollout status deployment\/billing-dispatcher/,
      /^\+ POST .*\/api\/billing ×7/,
      /^\+ GET .*\/api\/billing\/<orderId> ×7: all "queued"/,
      /^\+ kubectl -n sluice-data exec rabbitmq-server-0 -c rabbitmq -- rabbitmqctl list_queues/,
      /^\+ kubectl -n sluice-production scale deployment\/billing-dispatcher --replicas=1$/,
      /^\+ GET .*until all "billed"/,
    ];
    // Each step after the one before (the depth read before pausing is the drill's precondition).
    const positions: number[] = [];
    for (const pattern of order)
      positions.push(lines.findIndex((l, k) => k > (positions.at(-1) ?? -1) && pattern.test(l)));
    expect(
      positions.every((p) => p >= 0),
      lines.join('\n'),
    ).toBe(true);
  });

  it("finds the Trigger's queue by the Trigger's uid (eventing-rabbitmq's queue name)", () => {
    expect(
      at(/^\+ kubectl -n sluice-production get trigger billing -o 'jsonpath=\{\.metadata\.uid\}'$/),
    ).toBeGreaterThanOrEqual(0);
  });

  it("finds the overlay's app and data namespaces in its rendered manifest unless told", () => {
    const production = dryRun({ OVERLAY: 'production' });
    expect(production).toMatch(/^\+ kubectl -n sluice scale deployment\/billing-dispatcher --replicas=0$/m);
    expect(production).toMatch(/^\+ kubectl -n sluice-data exec rabbitmq-server-0 /m);
  });

  it('uses GATEWAY_URL when given, else the api-gateway Knative Service URL', () => {
    expect(at(/get ksvc api-gateway/)).toBeGreaterThanOrEqual(0);
    const given = dryRun({ GATEWAY_URL: 'http://gw.example' });
    expect(given).not.toMatch(/get ksvc api-gateway/);
    expect(given).toMatch(/^\+ POST http:\/\/gw\.example\/api\/billing ×7/m);
  });
});
