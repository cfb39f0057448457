/**
 * What each namespace of an environment holds of its ResourceQuota at its largest (docs/deploy.md, "The app
 * namespace's budget"): every Knative Service at max-scale with its queue-proxy, every Trigger's dispatchers, the
 * sources' adapters, the data services — the same Pods `make test-deploy` admits on a real kube-apiserver (the
 * stand-ins of apiserver/stand-ins.ts), added up here without one, by system, with the headroom left.
 *   node platform/k3s/validate/budget.ts dist/manifests/<overlay>.yaml     (make budget [OVERLAY=…])
 * Hand-written: Kubernetes' own counting rules (quantities: platform/manifests/quantity.ts): a pod's request is the larger of its containers' sum and its largest init container; a container
 * without a request gets its limit, then the LimitRange fills what is still unset).
 */
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { listFunctions } from '../../../functions/runtime/src/index.ts';
import { quantity } from '../../manifests/index.ts';
import { standInsFor } from '../apiserver/stand-ins.ts';
import { at, type KubeObject, parseManifest, str } from './manifest.ts';
import { REPO_ROOT } from './project.ts';
import { environmentNamespaces } from './rules.ts';

/** CPU in millicores, memory in bytes. */
export interface Resources {
  readonly cpuRequest: number;
  readonly cpuLimit: number;
  readonly memoryRequest: number;
  readonly memoryLimit: number;
}

const ZERO: Resources = { cpuRequest: 0, cpuLimit: 0, memoryRequest: 0, memoryLimit: 0 };

const add = (a: Resources, b: Resources): Resources => ({
  cpuRequest: a.cpuRequest + b.cpuRequest,
  cpuLimit: a.cpuLimit + b.cpuLimit,
  memoryRequest: a.memoryRequest + b.memoryRequest,
  memoryLimit: a.memoryLimit + b.memoryLimit,
});
const max = (a: Resources, b: Resources): Resources => ({
  cpuRequest: Math.max(a.cpuRequest, b.cpuRequest),
  cpuLimit: Math.max(a.cpuLimit, b.cpuLimit),
  memoryRequest: Math.max(a.memoryRequest, b.memoryRequest),
  memoryLimit: Math.max(a.memoryLimit, b.memoryLimit),
});
const times = (a: Resources, n: number): Resources => ({
  cpuRequest: a.cpuRequest * n,
  cpuLimit: a.cpuLimit * n,
  memoryRequest: a.memoryRequest * n,
  memoryLimit: a.memoryLimit * n,
});

/** A LimitRange's Container defaults: what a container that leaves a value unset is given. */
export interface ContainerDefaults {
  readonly request: Partial<Record<'cpu' | 'memory', number>>;
  readonly limit: Partial<Record<'cpu' | 'memory', number>>;
}

export function limitRangeDefaults(limitRange: KubeObject | undefined): ContainerDefaults {
  const limits = at(limitRange, 'spec', 'limits');
  const container = (Array.isArray(limits) ? limits : []).find((l) => at(l, 'type') === 'Container');
  const read = (side: string) => ({
    ...(quantity(at(container, side, 'cpu')) === undefined
      ? {}
      : { cpu: (quantity(at(container, side, 'cpu')) ?? 0) * 1000 }),
    ...(quantity(at(container, side, 'memory')) === undefined
      ? {}
      : { memory: quantity(at(container, side, 'memory')) ?? 0 }),
  });
  return { request: read('defaultRequest'), limit: read('default') };
}

/** One container as admitted: its own values, a missing request = its limit, the rest from the LimitRange. */
export function containerResources(container: unknown, defaults: ContainerDefaults): Resources {
  const value = (side: 'requests' | 'limits', resource: 'cpu' | 'memory'): number | undefined => {
    const q = quantity(at(container, 'resources', side, resource));
    return q === undefined ? undefined : resource === 'cpu' ? q * 1000 : q;
  };
  const limit = (r: 'cpu' | 'memory') => value('limits', r) ?? defaults.limit[r] ?? 0;
  const request = (r: 'cpu' | 'memory') =>
    value('requests', r) ?? value('limits', r) ?? defaults.request[r] ?? defaults.limit[r] ?? 0;
  return {
    cpuRequest: request('cpu'),
    cpuLimit: limit('cpu'),
    memoryRequest: request('memory'),
    memoryLimit: limit('memory'),
  };
}

/** A pod as the quota counts it: the containers' sum, or the largest init container where that is larger. */
export function podResources(podSpec: unknown, defaults: ContainerDefaults): Resources {
  const list = (key: string): unknown[] => {
    const v = at(podSpec, key);
    return Array.isArray(v) ? v : [];
  };
  const sum = list('containers').reduce<Resources>(
    (acc, c) => add(acc, containerResources(c, defaults)),
    ZERO,
  );
  return list('initContainers').reduce<Resources>((acc, c) => max(acc, containerResources(c, defaults)), sum);
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet']);

/** Pods of a workload (the DaemonSet: one node, as `make test-deploy` counts it). */
function replicasOf(workload: KubeObject): number {
  if (workload.kind === 'DaemonSet') return 1;
  if (workload.kind === 'Job') {
    const parallelism = at(workload, 'spec', 'parallelism');
    return typeof parallelism === 'number' ? parallelism : 1;
  }
  const replicas = at(workload, 'spec', 'replicas');
  return typeof replicas === 'number' ? replicas : 1;
}

/** One row of the budget: a system (app namespace) or a workload (data namespace). */
export interface BudgetRow {
  readonly name: string;
  /** Function instances at max-scale (each with its queue-proxy). */
  readonly instances: number;
  /** Trigger dispatchers (dead-letter ones included) and source adapters. */
  readonly dispatchers: number;
  readonly pods: number;
  readonly resources: Resources;
}

export interface NamespaceBudget {
  readonly namespace: string;
  readonly rows: readonly BudgetRow[];
  readonly total: BudgetRow;
  /** The ResourceQuota's hard values, as Resources and pods. */
  readonly hard: Resources & { readonly pods: number };
}

/** The system of each function folder: functions/<system>/<function>/. */
export function systemsOfFunctions(root = REPO_ROOT): Map<string, string> {
  const systems = new Map<string, string>();
  for (const f of listFunctions(join(root, 'functions')))
    systems.set(f.name, relative(join(root, 'functions'), f.dir).split(sep)[0] ?? 'unknown');
  return systems;
}

/** Which row an object's Pods are counted in. */
function rowOf(o: KubeObject, systems: ReadonlyMap<string, string>): string {
  const subscriber = str(at(o, 'spec', 'subscriber', 'ref', 'name'));
  if (o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev/'))
    return systems.get(o.metadata.name) ?? 'unknown';
  if (o.kind === 'Trigger') return systems.get(subscriber ?? '') ?? 'unknown';
  if (o.kind === 'Broker') return 'broker (ingress, dead-letter dispatcher)';
  if (o.kind === 'RabbitmqSource') return o.metadata.labels?.['app.kubernetes.io/component'] ?? 'sources';
  return o.metadata.name;
}

/** Every namespace of a rendered overlay: its Pods at their largest, by row, against its quota. */
export function budget(objects: readonly KubeObject[], systems = systemsOfFunctions()): NamespaceBudget[] {
  const env = environmentNamespaces(objects);
  const namespaces =
    env === undefined
      ? objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)
      : [env.app, env.data];
  return namespaces.map((namespace) => {
    const own = objects.filter((o) => o.metadata.namespace === namespace);
    const defaults = limitRangeDefaults(own.find((o) => o.kind === 'LimitRange'));
    const rows = new Map<string, { instances: number; dispatchers: number; pods: number; r: Resources }>();
    const count = (row: string, workload: KubeObject, owner: KubeObject) => {
      const pods = replicasOf(workload);
      const pod = podResources(at(workload, 'spec', 'template', 'spec'), defaults);
      const entry = rows.get(row) ?? { instances: 0, dispatchers: 0, pods: 0, r: ZERO };
      const isFunction = owner.kind === 'Service' && owner.apiVersion.startsWith('serving.knative.dev/');
      const isEventing = ['Trigger', 'RabbitmqSource'].includes(owner.kind);
      rows.set(row, {
        instances: entry.instances + (isFunction ? pods : 0),
        dispatchers: entry.dispatchers + (isEventing ? pods : 0),
        pods: entry.pods + pods,
        r: add(entry.r, times(pod, pods)),
      });
    };
    for (const o of own) {
      if (WORKLOAD_KINDS.has(o.kind) && o.apiVersion.startsWith(o.kind === 'Job' ? 'batch/' : 'apps/'))
        count(rowOf(o, systems), o, o);
      for (const standIn of standInsFor(o, objects)) count(rowOf(o, systems), standIn, o);
    }
    const list: BudgetRow[] = [...rows].map(([name, e]) => ({
      name,
      instances: e.instances,
      dispatchers: e.dispatchers,
      pods: e.pods,
      resources: e.r,
    }));
    list.sort((a, b) => b.resources.cpuLimit - a.resources.cpuLimit || a.name.localeCompare(b.name));
    const total = list.reduce<BudgetRow>(
      (acc, r) => ({
        name: 'total',
        instances: acc.instances + r.instances,
        dispatchers: acc.dispatchers + r.dispatchers,
        pods: acc.pods + r.pods,
        resources: add(acc.resources, r.resources),
      }),
      { name: 'total', instances: 0, dispatchers: 0, pods: 0, resources: ZERO },
    );
    const quota = own.find((o) => o.kind === 'ResourceQuota');
    const hard = (key: string, scale: number) => (quantity(at(quota, 'spec', 'hard', key)) ?? 0) * scale;
    return {
      namespace,
      rows: list,
      total,
      hard: {
        cpuRequest: hard('requests.cpu', 1000),
        cpuLimit: hard('limits.cpu', 1000),
        memoryRequest: hard('requests.memory', 1),
        memoryLimit: hard('limits.memory', 1),
        pods: hard('pods', 1),
      },
    };
  });
}

const cpu = (m: number): string => `${Math.round(m)}m`;
const mem = (b: number): string => `${Math.round(b / 2 ** 20)}Mi`;

/** The budget as Markdown tables, one per namespace, with the headroom left under the quota. */
export function budgetTables(budgets: readonly NamespaceBudget[]): string {
  const out: string[] = [];
  for (const b of budgets) {
    out.push(
      `${b.namespace}:`,
      '',
      '| what | instances | dispatchers | pods | CPU requests | CPU limits | memory requests | memory limits |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    const line = (r: BudgetRow, bold = false) => {
      const v = [
        r.instances || '',
        r.dispatchers || '',
        r.pods,
        cpu(r.resources.cpuRequest),
        cpu(r.resources.cpuLimit),
        mem(r.resources.memoryRequest),
        mem(r.resources.memoryLimit),
      ].map((x) => (bold && x !== '' ? `**${x}**` : String(x)));
      return `| ${bold ? `**${r.name}**` : r.name} | ${v.join(' | ')} |`;
    };
    for (const r of b.rows) out.push(line(r));
    out.push(line(b.total, true));
    const h = b.hard;
    const t = b.total.resources;
    out.push(
      `| quota | | | ${h.pods} | ${cpu(h.cpuRequest)} | ${cpu(h.cpuLimit)} | ${mem(h.memoryRequest)} | ${mem(h.memoryLimit)} |`,
      `| headroom | | | ${h.pods - b.total.pods} | ${cpu(h.cpuRequest - t.cpuRequest)} | ${cpu(h.cpuLimit - t.cpuLimit)} | ${mem(h.memoryRequest - t.memoryRequest)} | ${mem(h.memoryLimit - t.memoryLimit)} |`,
      '',
    );
  }
  return out.join('\n');
}

/** What does not fit: a negative headroom, by namespace and resource. */
export function overQuota(budgets: readonly NamespaceBudget[]): string[] {
  return budgets.flatMap((b) => {
    const t = b.total.resources;
    const checks: [string, number, number][] = [
      ['requests.cpu', t.cpuRequest, b.hard.cpuRequest],
      ['limits.cpu', t.cpuLimit, b.hard.cpuLimit],
      ['requests.memory', t.memoryRequest, b.hard.memoryRequest],
      ['limits.memory', t.memoryLimit, b.hard.memoryLimit],
      ['pods', b.total.pods, b.hard.pods],
    ];
    return checks
      .filter(([, used, hard]) => used > hard + 1e-6)
      .map(([key, used, hard]) => `${b.namespace}: ${key} ${used} over the quota's ${hard}`);
  });
}

if (import.meta.main) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: budget.ts <rendered-manifest.yaml>\n');
    process.exit(2);
  }
  const budgets = budget(parseManifest(readFileSync(file, 'utf8'), file));
  process.stdout.write(budgetTables(budgets));
  const over = overQuota(budgets);
  if (over.length > 0) {
    process.stderr.write(`${over.join('\n')}\n`);
    process.exitCode = 1;
  }
}
