/**
 * The overlays through a real kube-apiserver (control-plane.ts): what `make deploy` would meet that a schema
 * check cannot see — strict field validation of built-in kinds, API validation (selectors, ports, keys, restart
 * policies), YAML as kubectl reads it (YAML 1.1: `yes` is a boolean), and admission on the Pods the workloads
 * create (ResourceQuota, LimitRange, ServiceAccount, Priority). Knative Services and RabbitmqClusters are stored
 * but not reconciled here (no operators, no webhooks): their Pods are stood in for (stand-ins.ts).
 *
 * Order, as `make deploy` does it: the CRDs of the kinds used (CRD_DIR, the per-machine cache or the pinned release
 * file), a Ready node and k3s's default StorageClass, each overlay's Namespace (bare, as deploy.sh creates it),
 * then per overlay: Namespace, ResourceQuota and LimitRange (waiting for the quota controller's first count),
 * then everything else — each batch `kubectl apply --server-side --dry-run=server --validate=strict`, then for
 * real. An object is accepted when both applies pass and the Pods it makes (itself or through its stand-in) are
 * all admitted.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { findCrd, type KubeObject } from '../../manifests/index.ts';
import type { ControlPlane } from './control-plane.ts';
import { STAND_IN_LABEL, standInsFor } from './stand-ins.ts';

export interface OverlayText {
  readonly name: string;
  /** The rendered overlay, byte for byte (kubectl parses it, not us: YAML 1.1 as on a cluster). */
  readonly text: string;
}

export interface Rejection {
  /** `Kind/namespace/name` */
  readonly object: string;
  readonly overlay: string;
  readonly reason: string;
}

/** A namespace's ResourceQuota once every Pod was admitted: what the overlay holds at its largest. */
export interface QuotaUsage {
  readonly overlay: string;
  readonly namespace: string;
  readonly name: string;
  /** `status.used` and `status.hard`, as the quota controller counts them (`requests.cpu: 3605m`). */
  readonly used: Readonly<Record<string, string>>;
  readonly hard: Readonly<Record<string, string>>;
}

export interface ApiserverReport {
  /** `Kind/namespace/name` of every object the API server accepted and whose Pods were all admitted. */
  readonly accepted: readonly string[];
  readonly rejected: readonly Rejection[];
  readonly quotas: readonly QuotaUsage[];
}

/** `pods 58/60, requests.cpu 3605m/4, …`: one line per quota, the headroom at a glance. */
export const describeQuota = (q: QuotaUsage): string =>
  `${q.overlay}: quota ${q.namespace}/${q.name} used ${Object.keys(q.hard)
    .sort()
    .map((k) => `${k} ${q.used[k] ?? '0'}/${q.hard[k]}`)
    .join(', ')}`;

/** Said with every run: what this check does not do. */
export const NOT_RECONCILED =
  'Knative Services, RabbitmqClusters, Brokers, Triggers and RabbitmqSources are stored, not reconciled (no ' +
  'operators, no webhooks): the Pods their controllers would run (queue-proxy, broker ingress, dispatchers ' +
  'included) are stand-ins, admitted against each namespace’s quota and LimitRange';

interface Doc {
  readonly overlay: string;
  readonly object: KubeObject;
  readonly text: string;
}

const FIELD_MANAGER = 'sluice';
const POD_DEADLINE_MS = 120_000;

const groupOf = (apiVersion: string): string =>
  apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
export const describeObject = (o: KubeObject): string =>
  `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
/** What `kubectl apply -o name` prints for an object: `kind.group/name` (lower-case kind, no group for core). */
const kubectlName = (o: KubeObject): string => {
  const group = groupOf(o.apiVersion);
  return `${o.kind.toLowerCase()}${group === '' ? '' : `.${group}`}/${o.metadata.name}`;
};

/** The documents of a rendered stream with their own text, so kubectl reads exactly what deploy applies. */
export function splitDocuments(overlay: OverlayText): Doc[] {
  const docs: Doc[] = [];
  for (const doc of parseAllDocuments(overlay.text)) {
    const value = doc.toJSON() as unknown;
    if (value === null || typeof value !== 'object') continue;
    const [start, , end] = doc.range;
    docs.push({ overlay: overlay.name, object: value as KubeObject, text: overlay.text.slice(start, end) });
  }
  return docs;
}

const streamOf = (docs: readonly Doc[]): string => docs.map((d) => `---\n${d.text.trimEnd()}\n`).join('');

/** Installs the CRD of every kind the overlays use that the API server does not serve. */
export async function installCrds(cp: ControlPlane, objects: readonly KubeObject[]): Promise<string[]> {
  const served = await servedGroups(cp);
  const wanted = new Map<string, { group: string; kind: string }>();
  for (const o of objects) {
    const group = groupOf(o.apiVersion);
    if (!served.has(group)) wanted.set(`${group}/${o.kind}`, { group, kind: o.kind });
  }
  const names: string[] = [];
  const docs: string[] = [];
  for (const { group, kind } of wanted.values()) {
    const found = await findCrd(group, kind, { download: true });
    if (found === undefined) continue; // its objects are then rejected: "no matches for kind"
    const name = (found.crd.metadata as { name: string }).name;
    names.push(name);
    docs.push(JSON.stringify(found.crd));
  }
  if (docs.length === 0) return [];
  const applied = await cp.kubectl(
    ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
    docs.join('\n'),
  );
  if (applied.code !== 0) throw new Error(`installing the CRDs failed:\n${applied.stderr}`);
  const waited = await cp.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=120s',
    ...names.map((n) => `crd/${n}`),
  ]);
  if (waited.code !== 0) throw new Error(`CRDs not Established:\n${waited.stderr}`);
  return names;
}

async function servedGroups(cp: ControlPlane): Promise<Set<string>> {
  const res = await cp.api('GET', '/apis');
  const groups = (res.body as { groups?: { name: string }[] }).groups ?? [];
  return new Set(['', ...groups.map((g) => g.name)]);
}

/**
 * What a single-node k3s has that the overlays may rely on: a Ready, untainted node (so DaemonSets get their
 * Pod) and the default StorageClass `local-path` (so PVCs get a class, as the DefaultStorageClass admission sets).
 */
export async function prepareCluster(cp: ControlPlane): Promise<void> {
  const node = 'sluice-check';
  const created = await cp.api('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node,
      labels: {
        'kubernetes.io/hostname': node,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/control-plane': 'true',
        'node-role.kubernetes.io/master': 'true',
      },
    },
  });
  if (created.status !== 201) throw new Error(`creating node: ${JSON.stringify(created.body)}`);
  const now = new Date().toISOString();
  const resources = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '50Gi' };
  const status = await cp.api(
    'PATCH',
    `/api/v1/nodes/${node}/status`,
    {
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'stand-in node of the API-server check',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    },
    'application/merge-patch+json',
  );
  if (status.status !== 200) throw new Error(`node status: ${JSON.stringify(status.body)}`);
  // TaintNodesByCondition put not-ready on the new node; no node-lifecycle controller runs to lift it.
  const untaint = await cp.api(
    'PATCH',
    `/api/v1/nodes/${node}`,
    { spec: { taints: null } },
    'application/merge-patch+json',
  );
  if (untaint.status !== 200) throw new Error(`node taints: ${JSON.stringify(untaint.body)}`);
  const sc = await cp.api('POST', '/apis/storage.k8s.io/v1/storageclasses', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'rancher.io/local-path',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  });
  if (sc.status !== 201) throw new Error(`creating StorageClass: ${JSON.stringify(sc.body)}`);
}

/** Polls `step` until it returns a value; undefined at the deadline. */
async function until<T>(timeoutMs: number, step: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await step();
    if (value !== undefined || Date.now() > deadline) return value;
    await delay(300);
  }
}

interface ApplyOutcome {
  readonly accepted: Doc[];
  readonly rejected: { doc: Doc; reason: string }[];
}

/**
 * `kubectl apply --server-side --validate=strict` of a batch, dry-run first, then for real. A batch is one kubectl
 * run (kubectl goes on past a failed object); a document missing from its output is applied alone for its message.
 */
async function applyBatch(cp: ControlPlane, docs: readonly Doc[]): Promise<ApplyOutcome> {
  const rejected: { doc: Doc; reason: string }[] = [];
  let passing = [...docs];
  for (const dryRun of [true, false]) {
    if (passing.length === 0) break;
    const args = [
      'apply',
      '--server-side',
      `--field-manager=${FIELD_MANAGER}`,
      '--validate=strict',
      ...(dryRun ? ['--dry-run=server'] : []),
      '-o',
      'name',
      '-f',
      '-',
    ];
    const run = await cp.kubectl(args, streamOf(passing));
    const printed = new Set(run.stdout.split('\n').map((l) => l.trim()));
    const next: Doc[] = [];
    for (const doc of passing) {
      if (printed.has(kubectlName(doc.object))) {
        next.push(doc);
        continue;
      }
      const alone = await cp.kubectl(args, streamOf([doc]));
      if (alone.code === 0) next.push(doc);
      else rejected.push({ doc, reason: `${dryRun ? 'dry-run' : 'apply'}: ${oneLine(alone.stderr)}` });
    }
    passing = next;
  }
  return { accepted: passing, rejected };
}

const oneLine = (text: string): string =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' | ');

type Item = {
  metadata: { uid: string; name: string; ownerReferences?: { uid: string; controller?: boolean }[] };
};
type List<T> = { items: T[] };
type FailedCreate = { involvedObject: { uid?: string }; message?: string };

async function list<T>(cp: ControlPlane, path: string): Promise<T[]> {
  const res = await cp.api('GET', path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as List<T>).items;
}

/** The kinds whose Pods kube-controller-manager creates here, by `group/Kind`, with their API path. */
const WORKLOADS: Readonly<Record<string, string>> = {
  'apps/Deployment': '/apis/apps/v1',
  'apps/StatefulSet': '/apis/apps/v1',
  'apps/DaemonSet': '/apis/apps/v1',
  'apps/ReplicaSet': '/apis/apps/v1',
  'batch/Job': '/apis/batch/v1',
};
const isWorkload = (o: KubeObject): boolean => WORKLOADS[`${groupOf(o.apiVersion)}/${o.kind}`] !== undefined;
const pathOf = (w: Workload): string =>
  `${WORKLOADS[`${w.group}/${w.kind}`]}/namespaces/${w.namespace}/${w.kind.toLowerCase()}s/${w.name}`;

interface Workload {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** How many Pods the workload's controller creates now (no scheduler: an OrderedReady StatefulSet stops at one). */
function expectedPods(
  kind: string,
  stored: { spec?: Record<string, unknown>; status?: Record<string, unknown> },
) {
  const spec = stored.spec ?? {};
  const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
      return num(spec.replicas, 1);
    case 'StatefulSet': {
      const replicas = num(spec.replicas, 1);
      return spec.podManagementPolicy === 'Parallel' ? replicas : Math.min(replicas, 1);
    }
    case 'Job': {
      if (spec.suspend === true) return 0;
      const parallelism = num(spec.parallelism, 1);
      return Math.min(parallelism, num(spec.completions, parallelism));
    }
    case 'DaemonSet':
      // The controller's own count of nodes the Pod fits; unknown until it has looked.
      return typeof stored.status?.observedGeneration === 'number'
        ? num(stored.status.desiredNumberScheduled, 0)
        : undefined;
    default:
      return 0;
  }
}

/** Messages of FailedCreate that say nothing about the object: a conflict on the quota the controller retries. */
const TRANSIENT = /the object has been modified|please apply your changes to the latest version/;

/**
 * Waits until every workload has its Pods. A FailedCreate event (quota, LimitRange, missing ServiceAccount or
 * PriorityClass …) fails the workload at once with the event's message; so does the deadline.
 */
async function awaitPods(cp: ControlPlane, workloads: readonly Workload[]): Promise<Map<Workload, string>> {
  const failures = new Map<Workload, string>();
  let pending = [...workloads];
  const namespaces = [...new Set(workloads.map((w) => w.namespace))];
  await until(POD_DEADLINE_MS, async () => {
    const pods: Item[] = [];
    const replicaSets: Item[] = [];
    const events: FailedCreate[] = [];
    for (const ns of namespaces) {
      pods.push(...(await list<Item>(cp, `/api/v1/namespaces/${ns}/pods`)));
      replicaSets.push(...(await list<Item>(cp, `/apis/apps/v1/namespaces/${ns}/replicasets`)));
      events.push(
        ...(await list<FailedCreate>(
          cp,
          `/api/v1/namespaces/${ns}/events?fieldSelector=reason%3DFailedCreate`,
        )),
      );
    }
    const controllerOf = (i: Item) => i.metadata.ownerReferences?.find((r) => r.controller === true)?.uid;
    const still: Workload[] = [];
    for (const w of pending) {
      const res = await cp.api('GET', pathOf(w));
      if (res.status !== 200) {
        failures.set(w, `cannot be read back: ${res.status} ${JSON.stringify(res.body)}`);
        continue;
      }
      const stored = res.body as Item & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
      const owners = new Set([stored.metadata.uid]);
      for (const rs of replicaSets) if (owners.has(controllerOf(rs) ?? '')) owners.add(rs.metadata.uid);
      const have = pods.filter((p) => owners.has(controllerOf(p) ?? '')).length;
      const want = expectedPods(w.kind, stored);
      if (want !== undefined && have >= want) continue;
      const failed = events.find(
        (e) => owners.has(e.involvedObject.uid ?? '') && !TRANSIENT.test(e.message ?? ''),
      );
      if (failed !== undefined) failures.set(w, `Pods not admitted: ${failed.message ?? 'FailedCreate'}`);
      else still.push(w);
    }
    pending = still;
    return pending.length === 0 ? true : undefined;
  });
  for (const w of pending) failures.set(w, `Pods not created within ${POD_DEADLINE_MS / 1000} s`);
  return failures;
}

/** Waits until the quota controller has counted each ResourceQuota (admission refuses Pods until then). */
async function awaitQuotas(cp: ControlPlane, namespaces: readonly string[]): Promise<void> {
  type Quota = Item & {
    spec?: { hard?: Record<string, string> };
    status?: { hard?: Record<string, string> };
  };
  const counted = await until(60_000, async () => {
    for (const ns of namespaces) {
      const quotas = await list<Quota>(cp, `/api/v1/namespaces/${ns}/resourcequotas`);
      for (const q of quotas) {
        const hard = Object.keys(q.spec?.hard ?? {});
        if (!hard.every((k) => q.status?.hard?.[k] !== undefined)) return undefined;
      }
      const sa = await cp.api('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`);
      if (sa.status !== 200) return undefined;
    }
    return true;
  });
  if (counted === undefined)
    throw new Error('ResourceQuota status or default ServiceAccount not ready after 60 s');
}

export async function checkOverlays(
  cp: ControlPlane,
  overlays: readonly OverlayText[],
): Promise<ApiserverReport> {
  const docs = overlays.flatMap(splitDocuments);
  await installCrds(
    cp,
    docs.map((d) => d.object),
  );
  const rejected: Rejection[] = [];
  const accepted: Doc[] = [];
  const reject = (doc: Doc, reason: string) =>
    rejected.push({ object: describeObject(doc.object), overlay: doc.overlay, reason });

  // deploy.sh creates the bare Namespace first (its Secrets go in before the overlay).
  const namespaces = docs.filter((d) => d.object.kind === 'Namespace' && d.object.apiVersion === 'v1');
  for (const ns of namespaces) {
    const bare = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.object.metadata.name } };
    const run = await cp.kubectl(
      ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}-deploy`, '-f', '-'],
      JSON.stringify(bare),
    );
    if (run.code !== 0) throw new Error(`creating namespace ${ns.object.metadata.name}: ${run.stderr}`);
  }

  const first = new Set(['Namespace', 'ResourceQuota', 'LimitRange']);
  for (const overlay of overlays) {
    const own = docs.filter((d) => d.overlay === overlay.name);
    const head = await applyBatch(
      cp,
      own.filter((d) => first.has(d.object.kind) && d.object.apiVersion === 'v1'),
    );
    accepted.push(...head.accepted);
    for (const r of head.rejected) reject(r.doc, r.reason);
  }
  await awaitQuotas(
    cp,
    namespaces.map((n) => n.object.metadata.name),
  );
  for (const overlay of overlays) {
    const own = docs.filter((d) => d.overlay === overlay.name);
    const rest = await applyBatch(
      cp,
      own.filter((d) => !(first.has(d.object.kind) && d.object.apiVersion === 'v1')),
    );
    accepted.push(...rest.accepted);
    for (const r of rest.rejected) reject(r.doc, r.reason);
  }

  // The workloads' Pods, then the stand-ins' (so the quota already counts everything the workloads hold).
  const podFailures = await podsOf(
    cp,
    accepted.filter((d) => isWorkload(d.object)),
    (d) => d.object,
  );
  const standIns: { doc: Doc; standIn: KubeObject }[] = [];
  for (const doc of accepted) {
    if (podFailures.has(doc)) continue;
    const around = accepted.filter((d) => d.overlay === doc.overlay).map((d) => d.object);
    const stored = await readBack(cp, doc.object, around);
    for (const standIn of standInsFor(stored, around)) standIns.push({ doc, standIn });
  }
  const applied: { doc: Doc; standIn: KubeObject }[] = [];
  for (const s of standIns) {
    const run = await cp.kubectl(
      ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
      JSON.stringify(s.standIn),
    );
    if (run.code === 0) applied.push(s);
    else podFailures.set(s.doc, `stand-in ${describeObject(s.standIn)} refused: ${oneLine(run.stderr)}`);
  }
  const standInFailures = await podsOf(cp, applied, (s) => s.standIn);
  for (const [s, reason] of standInFailures)
    podFailures.set(s.doc, `its ${s.standIn.kind} stand-in: ${reason}`);

  for (const [doc, reason] of podFailures) reject(doc, reason);
  const quotas: QuotaUsage[] = [];
  for (const ns of namespaces) {
    type Quota = Item & { status?: { hard?: Record<string, string>; used?: Record<string, string> } };
    const name = ns.object.metadata.name;
    for (const q of await list<Quota>(cp, `/api/v1/namespaces/${name}/resourcequotas`))
      quotas.push({
        overlay: ns.overlay,
        namespace: name,
        name: q.metadata.name,
        used: q.status?.used ?? {},
        hard: q.status?.hard ?? {},
      });
  }
  return {
    accepted: accepted.filter((d) => !podFailures.has(d)).map((d) => describeObject(d.object)),
    rejected,
    quotas,
  };
}

async function podsOf<T>(
  cp: ControlPlane,
  items: readonly T[],
  objectOf: (t: T) => KubeObject,
): Promise<Map<T, string>> {
  const byWorkload = new Map<Workload, T>();
  for (const item of items) {
    const o = objectOf(item);
    byWorkload.set(
      {
        group: groupOf(o.apiVersion),
        kind: o.kind,
        namespace: o.metadata.namespace ?? 'default',
        name: o.metadata.name,
      },
      item,
    );
  }
  const failures = await awaitPods(cp, [...byWorkload.keys()]);
  const out = new Map<T, string>();
  for (const [w, reason] of failures) {
    const item = byWorkload.get(w);
    if (item !== undefined) out.set(item, reason);
  }
  return out;
}

/** The object as the API server stored it: CRD defaults applied (RabbitmqCluster resources, for one). */
async function readBack(
  cp: ControlPlane,
  object: KubeObject,
  around: readonly KubeObject[],
): Promise<KubeObject> {
  if (standInsFor(object, around).length === 0) return object;
  const run = await cp.kubectl([
    'get',
    kubectlName(object).replace('/', ' ').split(' ')[0] ?? '',
    object.metadata.name,
    ...(object.metadata.namespace ? ['-n', object.metadata.namespace] : []),
    '-o',
    'json',
  ]);
  if (run.code !== 0) throw new Error(`reading back ${describeObject(object)}: ${run.stderr}`);
  return JSON.parse(run.stdout) as KubeObject;
}

export { STAND_IN_LABEL };
