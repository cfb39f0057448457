/**
 * The text `make dev` prints at start: where to send events, how triggers route, each function's
 * state and URLs, and what is in memory only. Plain text for people; logs stay JSON on stdout.
 */
import { relative } from 'node:path';
import type { DevPlatform } from './platform.ts';
import { RUN_FROM } from './revision-bundles.ts';
import type { ScalerSnapshot } from './scaler.ts';

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function functionState(snap: ScalerSnapshot): string {
  const ready = snap.instances.filter((i) => i.state === 'ready').length;
  const starting = snap.instances.filter((i) => i.state === 'starting').length;
  if (ready === 0 && starting === 0) return 'scaled to zero';
  const parts = [`${ready} ready`];
  if (starting > 0) parts.push(`${starting} starting`);
  return parts.join(', ');
}

export function operatorView(platform: DevPlatform): string {
  const { config, serving, broker } = platform;
  const out: string[] = [];
  out.push('');
  out.push(
    'sluice dev: local platform (Knative Serving + Eventing emulated from the same manifests; development only)',
  );
  out.push('');
  const gw = platform.gateway;
  if (gw !== undefined) {
    out.push(
      `  gateway   ${gw.url}  the one public entry (${gw.name}, GATEWAY_PORT); every other URL below is internal`,
    );
    const width = Math.max(...gw.routes.routes.map((r) => r.prefix.length));
    for (const r of [...gw.routes.routes].sort((a, b) => a.prefix.localeCompare(b.prefix))) {
      const target =
        r.kind === 'proxy'
          ? `${r.service}${r.prefixRewrite === undefined ? '' : ` ${r.prefixRewrite}`} (${r.methods.join(', ')})`
          : `publish ${r.eventType} (POST)`;
      out.push(`            ${r.prefix.padEnd(width)}  → ${target}`);
    }
  }
  out.push(`  broker    ${broker?.url ?? '(none)'}  POST CloudEvents here (binary or structured mode)`);
  out.push(
    config.mongodbUrl !== undefined
      ? `  store     MongoDB ${redact(config.mongodbUrl)}`
      : platform.devStoreUrl !== undefined
        ? `  store     shared in-memory (development only; set MONGODB_URL for MongoDB) at ${platform.devStoreUrl} (per-run token), lost when make dev stops`
        : '  store     IN-MEMORY (MONGODB_URL unset): each function process has its own memory, lost when it scales to zero',
  );
  for (const line of broker?.description ?? []) out.push(`  ${line}`);
  for (const [name, file] of platform.secretFiles ?? []) {
    out.push(
      `  secret    ${name}: ${relative(process.cwd(), file)}  (generated for this run, mode 0600; $(cat …) it)`,
    );
  }
  out.push('');
  out.push(
    platform.runFrom === RUN_FROM.bundle
      ? "  functions (Knative Services), each revision run from its image's bundle (main.mjs, built at its first start; SLUICE_RUN_FROM=source: from the TypeScript)"
      : "  functions (Knative Services), run from the TypeScript source (SLUICE_RUN_FROM=bundle: from their images' bundles)",
  );
  const snaps = new Map(serving.snapshots().map((s) => [s.service, s]));
  const width = Math.max(8, ...[...serving.functions.keys()].map((n) => n.length));
  for (const [name, fn] of serving.functions) {
    const snap = snaps.get(name);
    const s = fn.spec;
    const state = snap === undefined ? '?' : functionState(snap);
    out.push(`    ${name.padEnd(width)}  ${state.padEnd(15)} ${fn.router.url}`);
    out.push(
      `    ${''.padEnd(width)}  min-scale ${s.minScale}, max-scale ${s.maxScale || 'unset (local cap 10)'}, target ${s.target}, containerConcurrency ${s.containerConcurrency || 'unlimited'}, idle ${seconds(fn.idleMs)}, timeout ${s.timeoutSeconds}s`,
    );
    const ready = snap?.instances.filter((i) => i.metricsUrl !== undefined) ?? [];
    out.push(
      ready.length > 0
        ? `    ${''.padEnd(width)}  metrics ${ready.map((i) => `${i.metricsUrl}/metrics`).join(' ')}`
        : `    ${''.padEnd(width)}  metrics on each instance at /metrics once started (see the targets file)`,
    );
  }
  out.push('');
  out.push(
    `  prometheus targets  ${relative(config.root, platform.targetsFile)} (file_sd, rewritten on every scale event)`,
  );
  out.push(
    '  logs      ECS JSON on stdout; scale events: event.action scale-up / scale-down / instance-crashed',
  );
  if (gw?.routes.match('/api/hello') !== undefined) {
    out.push(
      `  try       curl -i ${gw.url}/api/hello -H 'content-type: application/json' -d '{"name":"Ada"}'`,
    );
  }
  out.push(
    `  try       curl -i ${broker?.url ?? 'http://127.0.0.1:8080/'} -H 'content-type: application/cloudevents+json' --data-binary @functions/demo/hello/examples/dev.sluice.hello.requested.v1.json`,
  );
  out.push('  stop      Ctrl-C');
  out.push('');
  return `${out.join('\n')}\n`;
}

/** Hides a password in a connection URL. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.href;
  } catch {
    return '(unparsable URL)';
  }
}
