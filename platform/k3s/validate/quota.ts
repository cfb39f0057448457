/**
 * Does everything that runs in a namespace fit its ResourceQuota? The sum of requests and limits over every
 * pod the rendered overlay makes run — at its largest: each Knative Service at max-scale — including what
 * the platform adds around our objects:
 *
 * - Knative Serving: a queue-proxy container beside each user container, sized by the revision's
 *   `queue.sidecar.serving.knative.dev/{cpu,memory}-resource-{request,limit}` annotations, else Serving's
 *   defaults (config-deployment: cpu request 25m and nothing else; knative/serving knative-v1.22.1
 *   pkg/reconciler/revision/resources/queue.go `createQueueResources`, pkg/deployment/config.go).
 * - eventing-rabbitmq (knative-v1.22.1): per Broker an ingress, and a dead-letter dispatcher when the Broker
 *   has a deadLetterSink; per Trigger a dispatcher, and a dead-letter dispatcher when it has one; per
 *   RabbitmqSource an adapter. Each is sized by its object's `rabbitmq.eventing.knative.dev/{cpu,memory}-
 *   {request,limit}` annotations, else upstream's defaults (pkg/utils/resource_requirements.go,
 *   pkg/reconciler/{broker,trigger,source}/resources).
 * - the RabbitMQ cluster-operator (v2.22.3): the RabbitmqCluster's resources plus its `setup-container` init
 *   container, 20m/64Mi (internal/resource/statefulset.go).
 *
 * Containers without a request or limit get the namespace's LimitRange defaults (a limit without a request
 * makes the request equal to it), as the API server does; a container the quota would refuse (no value and
 * no default for a tracked resource) is a problem of its own. DaemonSets count one pod (a one-node k3s).
 * Not counted: a rollout's surge (an old and a new revision side by side for a moment) and Jobs once done.
 */
import { at, describe, group, isKnativeService, isRecord, type KubeObject, str } from './manifest.ts';

export type Resource = 'requests.cpu' | 'requests.memory' | 'limits.cpu' | 'limits.memory';
export const RESOURCES: readonly Resource[] = [
  'requests.cpu',
  'requests.memory',
  'limits.cpu',
  'limits.memory',
];

/** millicores for cpu, bytes for memory. */
export type Amounts = Record<Resource, number>;

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes quantity ("250m", "1", "64Mi", "1.5Gi") as a number of units (cores, bytes). */
export function parseQuantity(q: unknown): number | undefined {
  const text = typeof q === 'number' ? String(q) : str(q);
  const m = text === undefined ? null : /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  if (m === null) return undefined;
  return Number(m[1]) * (SUFFIX[m[2] ?? ''] as number);
}

interface Sized {
  requests: Partial<Record<'cpu' | 'memory', number>>;
  limits: Partial<Record<'cpu' | 'memory', number>>;
}

/** One container as the quota sees it, after the API server's and the LimitRange's defaulting. */
interface Counted {
  readonly name: string;
  readonly amounts: Amounts;
  readonly missing: readonly Resource[];
}

export interface PodUsage {
  readonly what: string;
  readonly replicas: number;
  /** Per pod. */
  readonly amounts: Amounts;
  readonly missing: readonly string[];
}

const zero = (): Amounts => ({
  'requests.cpu': 0,
  'requests.memory': 0,
  'limits.cpu': 0,
  'limits.memory': 0,
});

function readResources(raw: unknown): Sized {
  const r = isRecord(raw) ? raw : {};
  const part = (v: unknown): Sized['requests'] => {
    const o = isRecord(v) ? v : {};
    const cpu = parseQuantity(o.cpu);
    const memory = parseQuantity(o.memory);
    return { ...(cpu === undefined ? {} : { cpu }), ...(memory === undefined ? {} : { memory }) };
  };
  return { requests: part(r.requests), limits: part(r.limits) };
}

interface Defaults {
  readonly defaultRequest: Sized['requests'];
  readonly default: Sized['limits'];
}

function count(
  name: string,
  sized: Sized,
  defaults: Defaults | undefined,
  tracked: ReadonlySet<Resource>,
): Counted {
  const amounts = zero();
  const missing: Resource[] = [];
  for (const kind of ['cpu', 'memory'] as const) {
    const limit = sized.limits[kind] ?? defaults?.default[kind];
    const request =
      sized.requests[kind] ??
      (sized.limits[kind] !== undefined ? sized.limits[kind] : undefined) ??
      defaults?.defaultRequest[kind] ??
      limit;
    const scale = kind === 'cpu' ? 1000 : 1;
    if (request !== undefined) amounts[`requests.${kind}`] = request * scale;
    else if (tracked.has(`requests.${kind}`)) missing.push(`requests.${kind}`);
    if (limit !== undefined) amounts[`limits.${kind}`] = limit * scale;
    else if (tracked.has(`limits.${kind}`)) missing.push(`limits.${kind}`);
  }
  return { name, amounts, missing };
}

function add(a: Amounts, b: Amounts, times = 1): Amounts {
  const out = zero();
  for (const r of RESOURCES) out[r] = a[r] + b[r] * times;
  return out;
}

/** A pod: its containers summed, or its largest init container where that is more (Kubernetes' rule). */
function pod(what: string, replicas: number, containers: Counted[], inits: Counted[] = []): PodUsage {
  let amounts = zero();
  for (const c of containers) amounts = add(amounts, c.amounts);
  for (const i of inits) for (const r of RESOURCES) amounts[r] = Math.max(amounts[r], i.amounts[r]);
  const missing = [...containers, ...inits].flatMap((c) => c.missing.map((m) => `${c.name} has no ${m}`));
  return { what, replicas, amounts, missing };
}

const Q = 'queue.sidecar.serving.knative.dev/';
const R = 'rabbitmq.eventing.knative.dev/';
/** eventing-rabbitmq 1.22.1's defaults when none of its four annotations is set. */
const RABBIT_DISPATCHER: Sized = {
  requests: { cpu: 0.05, memory: 64 * 1024 ** 2 },
  limits: { cpu: 4, memory: 600 * 1024 ** 2 },
};
const RABBIT_INGRESS: Sized = {
  requests: { cpu: 0.05, memory: 32 * 1024 ** 2 },
  limits: { cpu: 1, memory: 400 * 1024 ** 2 },
};
const SETUP_CONTAINER: Sized = {
  requests: { cpu: 0.02, memory: 64 * 1024 ** 2 },
  limits: { cpu: 0.02, memory: 64 * 1024 ** 2 },
};

function annotations(o: KubeObject, ...path: string[]): Record<string, unknown> {
  const a = at(o, ...path, 'annotations');
  return isRecord(a) ? a : {};
}

/** Resources from `<prefix>{cpu,memory}-<request|limit><suffix>` annotations; undefined when none is set. */
function fromAnnotations(a: Record<string, unknown>, prefix: string, suffix: string): Sized | undefined {
  const get = (k: string): number | undefined => parseQuantity(a[`${prefix}${k}${suffix}`]);
  const sized: Sized = { requests: {}, limits: {} };
  const values = {
    'requests.cpu': get('cpu-request') ?? get('cpu-resource-request'),
    'requests.memory': get('memory-request') ?? get('memory-resource-request'),
    'limits.cpu': get('cpu-limit') ?? get('cpu-resource-limit'),
    'limits.memory': get('memory-limit') ?? get('memory-resource-limit'),
  };
  if (Object.values(values).every((v) => v === undefined)) return undefined;
  if (values['requests.cpu'] !== undefined) sized.requests.cpu = values['requests.cpu'];
  if (values['requests.memory'] !== undefined) sized.requests.memory = values['requests.memory'];
  if (values['limits.cpu'] !== undefined) sized.limits.cpu = values['limits.cpu'];
  if (values['limits.memory'] !== undefined) sized.limits.memory = values['limits.memory'];
  return sized;
}

const containersOf = (spec: unknown, field: 'containers' | 'initContainers'): Record<string, unknown>[] => {
  const list = isRecord(spec) ? spec[field] : undefined;
  return Array.isArray(list) ? list.filter(isRecord) : [];
};

/** Every pod the namespace runs at its largest, with what each container counts. */
export function namespaceUsage(
  objects: readonly KubeObject[],
  namespace: string,
  tracked: ReadonlySet<Resource>,
): PodUsage[] {
  const inNs = objects.filter((o) => (o.metadata.namespace ?? '') === namespace);
  const limitRange = inNs.find((o) => o.kind === 'LimitRange');
  const containerLimits = (at(
    limitRange ?? { apiVersion: '', kind: '', metadata: { name: '' } },
    'spec',
    'limits',
  ) ?? []) as unknown[];
  const lr = containerLimits.filter(isRecord).find((l) => l.type === 'Container');
  const defaults: Defaults | undefined =
    lr === undefined
      ? undefined
      : {
          defaultRequest: readResources({ requests: lr.defaultRequest }).requests,
          default: readResources({ limits: lr.default }).limits,
        };
  const c = (name: string, raw: unknown): Counted => count(name, readResources(raw), defaults, tracked);
  const pods: PodUsage[] = [];
  for (const o of inNs) {
    const what = describe(o);
    const g = group(o.apiVersion);
    if (g === 'apps' || g === 'batch') {
      if (!['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind)) continue;
      const spec = at(o, 'spec', 'template', 'spec');
      const replicas =
        o.kind === 'Deployment' || o.kind === 'StatefulSet' ? Number(at(o, 'spec', 'replicas') ?? 1) : 1;
      pods.push(
        pod(
          what,
          replicas,
          containersOf(spec, 'containers').map((x) => c(String(x.name), x.resources)),
          containersOf(spec, 'initContainers').map((x) => c(String(x.name), x.resources)),
        ),
      );
    } else if (isKnativeService(o)) {
      const a = annotations(o, 'spec', 'template', 'metadata');
      const max = Number(a['autoscaling.knative.dev/max-scale'] ?? 0);
      const queue = fromAnnotations(a, Q, '') ?? { requests: { cpu: 0.025 }, limits: {} };
      const spec = at(o, 'spec', 'template', 'spec');
      pods.push(
        pod(`${what} (×max-scale)`, max > 0 ? max : 10, [
          ...containersOf(spec, 'containers').map((x) => c(String(x.name ?? 'user-container'), x.resources)),
          count('queue-proxy', queue, defaults, tracked),
        ]),
      );
      if (!(max > 0))
        pods.push({
          what,
          replicas: 0,
          amounts: zero(),
          missing: ['no max-scale: its largest size is unbounded'],
        });
    } else if (o.kind === 'Trigger' && g === 'eventing.knative.dev') {
      const sized = fromAnnotations(annotations(o, 'metadata'), R, '') ?? RABBIT_DISPATCHER;
      const dls = at(o, 'spec', 'delivery', 'deadLetterSink') !== undefined;
      pods.push(
        pod(`${what} dispatcher${dls ? ' + dead-letter dispatcher' : ''}`, dls ? 2 : 1, [
          count('dispatcher', sized, defaults, tracked),
        ]),
      );
    } else if (o.kind === 'Broker' && g === 'eventing.knative.dev') {
      const a = annotations(o, 'metadata');
      const own = fromAnnotations(a, R, '');
      pods.push(pod(`${what} ingress`, 1, [count('ingress', own ?? RABBIT_INGRESS, defaults, tracked)]));
      if (at(o, 'spec', 'delivery', 'deadLetterSink') !== undefined)
        pods.push(
          pod(`${what} dead-letter dispatcher`, 1, [
            count('dispatcher', own ?? RABBIT_DISPATCHER, defaults, tracked),
          ]),
        );
    } else if (o.kind === 'RabbitmqSource' && g === 'sources.knative.dev') {
      const sized = fromAnnotations(annotations(o, 'metadata'), R, '') ?? RABBIT_DISPATCHER;
      pods.push(pod(`${what} adapter`, 1, [count('adapter', sized, defaults, tracked)]));
    } else if (o.kind === 'RabbitmqCluster' && g === 'rabbitmq.com') {
      pods.push(
        pod(
          what,
          Number(at(o, 'spec', 'replicas') ?? 1),
          [c('rabbitmq', at(o, 'spec', 'resources'))],
          [count('setup-container', SETUP_CONTAINER, defaults, tracked)],
        ),
      );
    }
  }
  return pods;
}

export function total(pods: readonly PodUsage[]): Amounts {
  return pods.reduce((sum, p) => add(sum, p.amounts, p.replicas), zero());
}

const format = (r: Resource, v: number): string =>
  r.endsWith('cpu') ? `${Math.round(v)}m` : `${Math.round(v / 1024 ** 2)}Mi`;

/** The rule: per ResourceQuota, the namespace's pods at their largest fit its hard requests and limits. */
export function quotaProblems(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  for (const quota of objects.filter((o) => o.kind === 'ResourceQuota' && group(o.apiVersion) === '')) {
    const hard = at(quota, 'spec', 'hard');
    if (!isRecord(hard)) continue;
    const limits = new Map<Resource, number>();
    for (const r of RESOURCES) {
      const raw =
        hard[r] ?? (r === 'requests.cpu' ? hard.cpu : r === 'requests.memory' ? hard.memory : undefined);
      const v = parseQuantity(raw);
      if (v !== undefined) limits.set(r, r.endsWith('cpu') ? v * 1000 : v);
    }
    const ns = quota.metadata.namespace ?? '';
    const pods = namespaceUsage(objects, ns, new Set(limits.keys()));
    for (const p of pods)
      for (const m of p.missing)
        problems.push(`${describe(quota)}: ${p.what}: ${m}, so the quota refuses its pods`);
    const sum = total(pods);
    for (const [r, max] of limits) {
      if (sum[r] <= max) continue;
      const top = [...pods]
        .sort((a, b) => b.amounts[r] * b.replicas - a.amounts[r] * a.replicas)
        .slice(0, 4)
        .map((p) => `${p.what} ${format(r, p.amounts[r] * p.replicas)}`);
      problems.push(
        `${describe(quota)}: ${r} of everything at its largest is ${format(r, sum[r])}, over the quota's ${format(r, max)} (largest: ${top.join(', ')})`,
      );
    }
  }
  return problems;
}

/** `node platform/k3s/validate/quota.ts dist/manifests/production.yaml`: the table behind the rule. */
if (import.meta.main) {
  const { readFileSync } = await import('node:fs');
  const { parseManifest } = await import('./manifest.ts');
  for (const file of process.argv.slice(2)) {
    const objects = parseManifest(readFileSync(file, 'utf8'), file);
    for (const quota of objects.filter((o) => o.kind === 'ResourceQuota')) {
      const pods = namespaceUsage(objects, quota.metadata.namespace ?? '', new Set(RESOURCES));
      process.stdout.write(`${file}: ${describe(quota)}\n`);
      for (const p of pods)
        process.stdout.write(
          `  ${String(p.replicas).padStart(2)} × ${RESOURCES.map((r) => format(r, p.amounts[r]).padStart(6)).join(' ')}  ${p.what}\n`,
        );
      const sum = total(pods);
      process.stdout.write(`  total  ${RESOURCES.map((r) => `${r} ${format(r, sum[r])}`).join(', ')}\n`);
      process.stdout.write(`  quota  ${JSON.stringify(at(quota, 'spec', 'hard'))}\n`);
    }
  }
}
