/**
 * Plans `make smoke`: for every CloudEvent type a Trigger of the overlay subscribes to, that no function
 * emits (an entry point of a pipeline, not an intermediate fact such as "transaction processed") and for which
 * some function has an example (functions/<name>/examples/<type>.json), one structured-mode event with a fresh id,
 * written to <out>/<n>.json, plus <out>/expected.txt: "<event id> <function>" per Trigger it must reach.
 *   node platform/k3s/validate/smoke-events.ts dist/manifests/<overlay>.yaml <out-dir> [run-id]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listFunctions } from '../../../functions/runtime/src/index.ts';
import { at, group, isRecord, type KubeObject, parseManifest, str } from './manifest.ts';
import { loadFunctions, REPO_ROOT } from './project.ts';

export interface SmokeEvent {
  readonly event: Record<string, unknown>;
  readonly expect: readonly string[];
}

export function planSmoke(
  objects: readonly KubeObject[],
  runId: string,
  emitted: ReadonlySet<string>,
  root = REPO_ROOT,
): SmokeEvent[] {
  const byType = new Map<string, Set<string>>();
  for (const t of objects.filter(
    (o) => o.kind === 'Trigger' && group(o.apiVersion) === 'eventing.knative.dev',
  )) {
    const type = str(at(t, 'spec', 'filter', 'attributes', 'type'));
    const subscriber = str(at(t, 'spec', 'subscriber', 'ref', 'name'));
    if (type === undefined || subscriber === undefined || emitted.has(type)) continue;
    byType.set(type, (byType.get(type) ?? new Set()).add(subscriber));
  }
  const functions = listFunctions(join(root, 'functions'));
  const events: SmokeEvent[] = [];
  for (const [type, subscribers] of [...byType].sort(([a], [b]) => a.localeCompare(b))) {
    const example = functions.map((f) => join(f.dir, 'examples', `${type}.json`)).find((f) => existsSync(f));
    if (example === undefined) continue;
    const parsed: unknown = JSON.parse(readFileSync(example, 'utf8'));
    if (!isRecord(parsed)) continue;
    const event = { ...parsed, id: `smoke-${runId}-${events.length + 1}`, source: '/sluice/smoke' };
    events.push({ event, expect: [...subscribers].sort() });
  }
  return events;
}

if (import.meta.main) {
  const [file, out, runId = String(Date.now())] = process.argv.slice(2);
  if (file === undefined || out === undefined) {
    process.stderr.write('usage: smoke-events.ts <rendered-manifest.yaml> <out-dir> [run-id]\n');
    process.exit(2);
  }
  const emitted = new Set([...(await loadFunctions()).values()].flatMap((f) => f.emits));
  const plan = planSmoke(parseManifest(readFileSync(file, 'utf8'), file), runId, emitted);
  mkdirSync(out, { recursive: true });
  const expected: string[] = [];
  for (const [i, { event, expect }] of plan.entries()) {
    writeFileSync(join(out, `${String(i + 1).padStart(2, '0')}.json`), `${JSON.stringify(event)}\n`);
    for (const fn of expect) expected.push(`${String(event.id)} ${fn}`);
  }
  writeFileSync(join(out, 'expected.txt'), expected.length > 0 ? `${expected.join('\n')}\n` : '');
  process.stdout.write(`${plan.length} events, ${expected.length} deliveries expected\n`);
}
