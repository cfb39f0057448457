/**
 * `make drill [ORDERS=20]` (drill.ts): on the running `make dev` of this checkout, or on the cluster when
 * KUBECONFIG is set (drill-cluster.ts: kubectl scale of billing's dispatcher; DRY_RUN=1 prints the commands).
 *   node functions/orders/drill/cli.ts --orders 20
 * Env: GATEWAY_URL (else make dev's, or the cluster's api-gateway), MONGODB_URL/MONGODB_DB (billing's database,
 * when make dev runs on MongoDB), NAMESPACE and RABBITMQ_NAMESPACE (cluster; else the app and data Namespaces of dist/manifests/$OVERLAY.yaml, make
 * manifests), KUBECTL, RABBITMQ_POD.
 * Exit 0 after the final line `drill: N orders queued while billing was paused, N billed exactly once after resume`;
 * 1 when the drill fails (the reason on the last line), 64 on bad arguments, 69 when nothing runs.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { endpointsFilePath, readDevEndpoints } from '../../runtime/src/index.ts';
import { DrillFailure, type DrillPlatform, runDrill } from './drill.ts';
import { clusterPlatform } from './drill-cluster.ts';
import { localPlatform } from './drill-local.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

/** The overlay's Namespace of a role (`sluice.dev/namespace-role: app|data`), as platform/k3s/lib.sh reads it. */
function overlayNamespace(manifest: string, role: 'app' | 'data'): string | undefined {
  let text: string;
  try {
    text = readFileSync(manifest, 'utf8');
  } catch {
    return undefined;
  }
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as {
      kind?: string;
      metadata?: { name?: string; labels?: Record<string, string> };
    } | null;
    if (o?.kind === 'Namespace' && o.metadata?.labels?.['sluice.dev/namespace-role'] === role)
      return o.metadata.name;
  }
  return undefined;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const { values } = parseArgs({ options: { orders: { type: 'string', default: '20' } } });
const orders = Number(values.orders);
if (!Number.isInteger(orders) || orders < 1 || orders > 10_000) {
  process.stderr.write('ORDERS must be a whole number from 1 to 10000\n');
  process.exit(64);
}
const env = process.env;

/** Ctrl-C during the drill must not leave billing paused: resume it (idempotent), then exit 130. */
function resumeOnInterrupt(platform: DrillPlatform): void {
  const stop = (signal: string): void => {
    out(`drill: ${signal}: resuming billing's trigger before exiting`);
    platform.resume().then(
      () => process.exit(130),
      (err: unknown) => {
        out(`drill: could not resume billing (make trigger-resume TRIGGER=billing): ${String(err)}`);
        process.exit(130);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function main(): Promise<number> {
  if (env.KUBECONFIG) {
    const manifest = resolve(ROOT, 'dist/manifests', `${env.OVERLAY || 'qualification'}.yaml`);
    const namespace =
      env.NAMESPACE || overlayNamespace(manifest, 'app') || `sluice-${env.OVERLAY || 'qualification'}`;
    const cluster = clusterPlatform({
      kubectl: env.KUBECTL || 'kubectl',
      namespace,
      // The data services run in the environment's data namespace (docs/deploy.md, "Two namespaces").
      rabbitmqNamespace: env.RABBITMQ_NAMESPACE || overlayNamespace(manifest, 'data') || `${namespace}-data`,
      rabbitmqPod: env.RABBITMQ_POD || 'rabbitmq-server-0',
      dryRun: env.DRY_RUN === '1',
      out,
    });
    if (env.DRY_RUN === '1') {
      // The plan: the commands the drill runs around its HTTP steps, in order.
      out(`drill (DRY_RUN): ${orders} orders on ${cluster.description}`);
      const gateway = env.GATEWAY_URL || (await cluster.gatewayUrl());
      await cluster.depth();
      await cluster.pause();
      out(`+ POST ${gateway}/api/billing ×${orders} (Idempotency-Key drill-…-<i>), each answered 202`);
      out(`+ GET ${gateway}/api/billing/<orderId> ×${orders}: all "queued"`);
      await cluster.depth();
      await cluster.resume();
      out(`+ GET ${gateway}/api/billing/<orderId> until all "billed", one distinct invoice number each`);
      return 0;
    }
    const gatewayUrl = env.GATEWAY_URL || (await cluster.gatewayUrl());
    resumeOnInterrupt(cluster);
    await runDrill({ orders, gatewayUrl, platform: cluster, out });
    return 0;
  }
  const endpoints = readDevEndpoints(endpointsFilePath(env));
  if (endpoints === undefined) {
    process.stderr.write(
      'make drill: no make dev is running here (start `make dev`, or set KUBECONFIG for a cluster)\n',
    );
    return 69;
  }
  const gatewayUrl = env.GATEWAY_URL || endpoints.gatewayUrl;
  if (gatewayUrl === undefined) {
    process.stderr.write('make drill: the running make dev has no gateway\n');
    return 69;
  }
  const local = await localPlatform(endpoints, env);
  try {
    resumeOnInterrupt(local.platform);
    await runDrill({ orders, gatewayUrl, platform: local.platform, out });
    return 0;
  } finally {
    await local.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    out(`drill: FAILED: ${err instanceof DrillFailure ? err.message : String(err)}`);
    if (!(err instanceof DrillFailure)) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    process.exit(1);
  },
);
