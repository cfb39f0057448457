/**
 * The eventing manifests the cluster applies (eventing/manifests/), read and checked the way the
 * eventing-rabbitmq webhook and reconcilers read them, so `make dev` routes exactly what `make deploy`
 * routes. Every error names its file and object.
 *
 * What is read: the Broker (class RabbitMQBroker) and its RabbitmqBrokerConfig, every Trigger in
 * triggers/*.yaml, every RabbitmqSource in sources/*.yaml. Delivery follows the RabbitMQ trigger
 * reconciler: a Trigger's `spec.delivery` replaces the Broker's entirely (dead-letter sink included).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DurationError, parseIsoDuration } from './iso-duration.ts';

export const BROKER_CLASS = 'RabbitMQBroker';
export const BROKER_CLASS_ANNOTATION = 'eventing.knative.dev/broker.class';
export const PARALLELISM_ANNOTATION = 'rabbitmq.eventing.knative.dev/parallelism';

export const BACKOFF_POLICY = { exponential: 'exponential', linear: 'linear' } as const;
export type BackoffPolicy = (typeof BACKOFF_POLICY)[keyof typeof BACKOFF_POLICY];

export const QUEUE_TYPE = { quorum: 'quorum', classic: 'classic' } as const;
export type QueueType = (typeof QUEUE_TYPE)[keyof typeof QUEUE_TYPE];

/** A Knative `Destination.ref` (duckv1.KReference). */
export interface KReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** A Knative `Destination`: a ref, a URI, or a ref with a URI resolved against it. */
export interface Destination {
  readonly ref?: KReference;
  readonly uri?: string;
}

/** `spec.delivery` (duckv1.DeliverySpec) with durations parsed to milliseconds; unset fields stay unset. */
export interface DeliverySpec {
  readonly retry?: number;
  readonly backoffPolicy?: BackoffPolicy;
  readonly backoffDelayMs?: number;
  readonly timeoutMs?: number;
  readonly retryAfterMaxMs?: number;
  readonly deadLetterSink?: Destination;
}

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  /** File the object came from, relative to the manifests directory. */
  readonly file: string;
}

export interface BrokerManifest extends ObjectMeta {
  readonly queueType: QueueType;
  readonly vhost: string | undefined;
  readonly clusterName: string | undefined;
  readonly delivery: DeliverySpec | undefined;
}

export interface TriggerManifest extends ObjectMeta {
  readonly broker: string;
  /** `spec.filter.attributes`; empty matches every event. */
  readonly filter: Readonly<Record<string, string>>;
  readonly subscriber: Destination;
  readonly delivery: DeliverySpec | undefined;
  /** Dispatcher workers and channel prefetch; 1 (the default) means ordered delivery. */
  readonly parallelism: number;
}

export interface SourceManifest extends ObjectMeta {
  readonly queueName: string;
  readonly exchangeName: string | undefined;
  readonly predeclared: boolean;
  readonly vhost: string | undefined;
  readonly parallelism: number;
  readonly delivery: Pick<DeliverySpec, 'retry' | 'backoffPolicy' | 'backoffDelayMs'> | undefined;
  readonly sink: Destination;
}

export interface EventingManifests {
  readonly broker: BrokerManifest;
  readonly triggers: readonly TriggerManifest[];
  readonly sources: readonly SourceManifest[];
  /** Things a cluster accepts but that do not do what they seem to (logged at start-up). */
  readonly warnings: readonly string[];
}

export class ManifestError extends Error {
  override name = 'ManifestError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid eventing manifests:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (v: unknown, ...path: (string | number)[]): unknown => {
  let cur = v;
  for (const key of path) {
    if (Array.isArray(cur) && typeof key === 'number') cur = cur[key];
    else if (isObj(cur) && typeof key === 'string') cur = cur[key];
    else return undefined;
  }
  return cur;
};

interface RawDoc {
  readonly file: string;
  readonly index: number;
  readonly doc: Obj;
}

/** Reads every *.yaml under `dir` (broker.yaml, each system's triggers/ and sources/), sorted by path. */
export async function loadEventingManifests(dir: string): Promise<EventingManifests> {
  const files = await yamlFiles(dir);
  const texts = await Promise.all(
    files.map(async (f) => ({ file: relative(dir, f), text: await readFile(f, 'utf8') })),
  );
  return parseEventingManifests(texts);
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name) && e.name !== 'kustomization.yaml')
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Parses and checks manifest texts; throws ManifestError listing every problem found. */
export function parseEventingManifests(
  texts: readonly { readonly file: string; readonly text: string }[],
): EventingManifests {
  const problems: string[] = [];
  const warnings: string[] = [];
  const docs: RawDoc[] = [];
  for (const { file, text } of texts) {
    parseAllDocuments(text).forEach((d, index) => {
      if (d.errors.length > 0) {
        problems.push(`${file}: YAML error: ${d.errors.map((e) => e.message).join('; ')}`);
        return;
      }
      const doc = d.toJS() as unknown;
      if (doc === null || doc === undefined) return;
      if (!isObj(doc)) problems.push(`${file} document ${index + 1}: not a Kubernetes object`);
      else docs.push({ file, index, doc });
    });
  }
  const of = (apiVersion: string, kind: string) =>
    docs.filter((d) => d.doc.apiVersion === apiVersion && d.doc.kind === kind);

  const configs = of('eventing.knative.dev/v1alpha1', 'RabbitmqBrokerConfig');
  const brokers = of('eventing.knative.dev/v1', 'Broker').map((d) =>
    readBroker(d, configs, problems, warnings),
  );
  const triggers = of('eventing.knative.dev/v1', 'Trigger').map((d) => readTrigger(d, problems, warnings));
  const sources = of('sources.knative.dev/v1alpha1', 'RabbitmqSource').map((d) => readSource(d, problems));

  const broker = brokers[0];
  if (brokers.length !== 1 || broker === undefined) {
    problems.push(
      brokers.length === 0
        ? 'no Broker (eventing.knative.dev/v1) found: expected broker.yaml'
        : `${brokers.length} Brokers found (${brokers.map((b) => `${b?.file}:${b?.name}`).join(', ')}); the local platform runs one`,
    );
  }
  const names = new Set<string>();
  for (const t of triggers) {
    if (t === undefined) continue;
    if (names.has(t.name)) problems.push(`${t.file}: Trigger ${t.name} is defined twice`);
    names.add(t.name);
    if (broker !== undefined && (t.broker !== broker.name || t.namespace !== broker.namespace)) {
      problems.push(
        `${t.file}: Trigger ${t.name} names broker ${t.namespace}/${t.broker}, but the Broker is ${broker.namespace}/${broker.name}`,
      );
    }
  }
  for (const s of sources) {
    const ref = s?.sink.ref;
    if (s !== undefined && ref?.kind === 'Broker' && broker !== undefined && ref.name !== broker.name) {
      problems.push(
        `${s.file}: RabbitmqSource ${s.name} sinks into Broker ${ref.name}, which is not defined`,
      );
    }
  }
  if (problems.length > 0 || broker === undefined) throw new ManifestError(problems);
  return {
    broker,
    triggers: triggers.filter((t) => t !== undefined),
    sources: sources.filter((s) => s !== undefined),
    warnings,
  };
}

function meta(d: RawDoc, problems: string[]): ObjectMeta | undefined {
  const name = at(d.doc, 'metadata', 'name');
  const namespace = at(d.doc, 'metadata', 'namespace');
  if (typeof name !== 'string' || name === '') {
    problems.push(`${d.file} document ${d.index + 1}: ${String(d.doc.kind)} has no metadata.name`);
    return undefined;
  }
  if (typeof namespace !== 'string' || namespace === '') {
    problems.push(`${d.file}: ${String(d.doc.kind)} ${name} has no metadata.namespace`);
    return undefined;
  }
  return { name, namespace, file: d.file };
}

function readBroker(
  d: RawDoc,
  configs: readonly RawDoc[],
  problems: string[],
  warnings: string[],
): BrokerManifest | undefined {
  const m = meta(d, problems);
  if (m === undefined) return undefined;
  const where = `${m.file}: Broker ${m.name}`;
  const before = problems.length;
  const cls = at(d.doc, 'metadata', 'annotations', BROKER_CLASS_ANNOTATION);
  if (cls !== BROKER_CLASS) {
    problems.push(
      `${where}: annotation ${BROKER_CLASS_ANNOTATION} must be ${BROKER_CLASS} (got ${String(cls)})`,
    );
  }
  const config = at(d.doc, 'spec', 'config');
  let queueType: QueueType = QUEUE_TYPE.quorum;
  let vhost: string | undefined;
  let clusterName: string | undefined;
  const kind = at(config, 'kind');
  const apiVersion = at(config, 'apiVersion');
  if (!isObj(config)) {
    problems.push(`${where}: spec.config is required by the RabbitMQ broker webhook`);
  } else if (kind === 'RabbitmqBrokerConfig' && apiVersion === 'eventing.knative.dev/v1alpha1') {
    const name = at(config, 'name');
    const ns = at(config, 'namespace') ?? m.namespace;
    const found = configs.find(
      (c) => at(c.doc, 'metadata', 'name') === name && (at(c.doc, 'metadata', 'namespace') ?? ns) === ns,
    );
    if (found === undefined) {
      problems.push(`${where}: spec.config names RabbitmqBrokerConfig ${String(name)}, which is not defined`);
    } else {
      const qt = at(found.doc, 'spec', 'queueType') ?? QUEUE_TYPE.quorum;
      if (qt !== QUEUE_TYPE.quorum && qt !== QUEUE_TYPE.classic) {
        problems.push(
          `${found.file}: RabbitmqBrokerConfig ${String(name)} spec.queueType must be quorum or classic`,
        );
      } else queueType = qt;
      const vh = at(found.doc, 'spec', 'vhost');
      vhost = typeof vh === 'string' && vh !== '' ? vh : undefined;
      const cn = at(found.doc, 'spec', 'rabbitmqClusterReference', 'name');
      clusterName = typeof cn === 'string' ? cn : undefined;
    }
  } else if (kind === 'RabbitmqCluster' && apiVersion === 'rabbitmq.com/v1beta1') {
    clusterName = typeof at(config, 'name') === 'string' ? (at(config, 'name') as string) : undefined;
  } else {
    problems.push(
      `${where}: spec.config must be a RabbitmqBrokerConfig (eventing.knative.dev/v1alpha1) or a RabbitmqCluster (rabbitmq.com/v1beta1)`,
    );
  }
  const delivery = readDelivery(at(d.doc, 'spec', 'delivery'), `${where} spec.delivery`, problems);
  if (delivery === undefined) {
    warnings.push(
      `${where}: no spec.delivery: triggers without their own delivery get no retries and no dead-letter sink`,
    );
  }
  if (problems.length > before) return undefined;
  return { ...m, queueType, vhost, clusterName, delivery };
}

function readTrigger(d: RawDoc, problems: string[], warnings: string[]): TriggerManifest | undefined {
  const m = meta(d, problems);
  if (m === undefined) return undefined;
  const where = `${m.file}: Trigger ${m.name}`;
  const before = problems.length;
  const broker = at(d.doc, 'spec', 'broker');
  if (typeof broker !== 'string' || broker === '') problems.push(`${where}: spec.broker is required`);
  if (at(d.doc, 'spec', 'filters') !== undefined) {
    // eventing-rabbitmq binds queues with spec.filter.attributes only: spec.filters (the new SQL-like
    // filters) would be accepted by the cluster and silently ignored, delivering every event.
    problems.push(
      `${where}: spec.filters is ignored by the RabbitMQ broker (it would receive every event); use spec.filter.attributes`,
    );
  }
  const filter: Record<string, string> = {};
  const attributes = at(d.doc, 'spec', 'filter', 'attributes');
  if (attributes !== undefined && !isObj(attributes)) {
    problems.push(`${where}: spec.filter.attributes must be a map of attribute name to value`);
  } else if (isObj(attributes)) {
    for (const [name, value] of Object.entries(attributes)) {
      if (typeof value !== 'string') {
        problems.push(`${where}: spec.filter.attributes.${name} must be a string (quote it in YAML)`);
        continue;
      }
      if (name.startsWith('x-')) {
        problems.push(`${where}: spec.filter.attributes.${name}: RabbitMQ ignores x- headers when matching`);
        continue;
      }
      if (name === 'datacontenttype') {
        warnings.push(
          `${where}: filtering on datacontenttype never matches on the RabbitMQ broker (the message header is content-type)`,
        );
      }
      filter[name] = value;
    }
  }
  const subscriber = readDestination(at(d.doc, 'spec', 'subscriber'), `${where} spec.subscriber`, problems);
  const delivery = readDelivery(at(d.doc, 'spec', 'delivery'), `${where} spec.delivery`, problems);
  if (delivery !== undefined && delivery.deadLetterSink === undefined) {
    warnings.push(
      `${where}: spec.delivery has no deadLetterSink; it replaces the Broker's, so failed events are dropped`,
    );
  }
  const parallelism = readParallelism(
    at(d.doc, 'metadata', 'annotations', PARALLELISM_ANNOTATION),
    `${where} annotation ${PARALLELISM_ANNOTATION}`,
    problems,
  );
  if (problems.length > before || subscriber === undefined) return undefined;
  return { ...m, broker: broker as string, filter, subscriber, delivery, parallelism };
}

function readSource(d: RawDoc, problems: string[]): SourceManifest | undefined {
  const m = meta(d, problems);
  if (m === undefined) return undefined;
  const where = `${m.file}: RabbitmqSource ${m.name}`;
  const before = problems.length;
  const rc = at(d.doc, 'spec', 'rabbitmqResourcesConfig');
  const queueName = at(rc, 'queueName');
  if (typeof queueName !== 'string' || queueName === '') {
    problems.push(`${where}: spec.rabbitmqResourcesConfig.queueName is required`);
  }
  const predeclared = at(rc, 'predeclared') === true;
  const exchangeName = at(rc, 'exchangeName');
  if (!predeclared && (typeof exchangeName !== 'string' || exchangeName === '')) {
    problems.push(
      `${where}: spec.rabbitmqResourcesConfig.exchangeName is required when predeclared is false`,
    );
  }
  const rawParallelism = at(rc, 'parallelism');
  const parallelism = readParallelism(
    rawParallelism === undefined ? undefined : String(rawParallelism),
    `${where} spec.rabbitmqResourcesConfig.parallelism`,
    problems,
  );
  const sink = readDestination(at(d.doc, 'spec', 'sink'), `${where} spec.sink`, problems);
  const delivery = readDelivery(at(d.doc, 'spec', 'delivery'), `${where} spec.delivery`, problems);
  const vh = at(rc, 'vhost');
  if (problems.length > before || sink === undefined) return undefined;
  return {
    ...m,
    queueName: queueName as string,
    exchangeName: typeof exchangeName === 'string' && exchangeName !== '' ? exchangeName : undefined,
    predeclared,
    vhost: typeof vh === 'string' && vh !== '' ? vh : undefined,
    parallelism,
    delivery,
    sink,
  };
}

function readParallelism(raw: unknown, where: string, problems: string[]): number {
  if (raw === undefined) return 1;
  const n = Number(raw);
  // The trigger webhook: strconv.Atoi, then 1..1000.
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < 1 || n > 1000) {
    problems.push(`${where} must be an integer 1..1000 (got ${JSON.stringify(raw)})`);
    return 1;
  }
  return n;
}

function readDestination(raw: unknown, where: string, problems: string[]): Destination | undefined {
  if (!isObj(raw)) {
    problems.push(`${where} is required (ref or uri)`);
    return undefined;
  }
  const uri = raw.uri;
  const ref = raw.ref;
  if (uri !== undefined && typeof uri !== 'string') problems.push(`${where}.uri must be a string`);
  if (ref === undefined) {
    if (typeof uri !== 'string' || uri === '') {
      problems.push(`${where} needs a ref or a uri`);
      return undefined;
    }
    return { uri };
  }
  const apiVersion = at(ref, 'apiVersion');
  const kind = at(ref, 'kind');
  const name = at(ref, 'name');
  const namespace = at(ref, 'namespace');
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || typeof name !== 'string') {
    problems.push(`${where}.ref needs apiVersion, kind and name`);
    return undefined;
  }
  const kref: KReference =
    typeof namespace === 'string' ? { apiVersion, kind, name, namespace } : { apiVersion, kind, name };
  return typeof uri === 'string' ? { ref: kref, uri } : { ref: kref };
}

function readDelivery(raw: unknown, where: string, problems: string[]): DeliverySpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObj(raw)) {
    problems.push(`${where} must be an object`);
    return undefined;
  }
  const out: {
    retry?: number;
    backoffPolicy?: BackoffPolicy;
    backoffDelayMs?: number;
    timeoutMs?: number;
    retryAfterMaxMs?: number;
    deadLetterSink?: Destination;
  } = {};
  if (raw.retry !== undefined) {
    if (typeof raw.retry !== 'number' || !Number.isInteger(raw.retry) || raw.retry < 0) {
      problems.push(`${where}.retry must be a non-negative integer`);
    } else out.retry = raw.retry;
  }
  if (raw.backoffPolicy !== undefined) {
    if (raw.backoffPolicy !== BACKOFF_POLICY.exponential && raw.backoffPolicy !== BACKOFF_POLICY.linear) {
      problems.push(`${where}.backoffPolicy must be exponential or linear`);
    } else out.backoffPolicy = raw.backoffPolicy;
  }
  const duration = (field: 'backoffDelay' | 'timeout' | 'retryAfterMax'): number | undefined => {
    const value = raw[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      problems.push(`${where}.${field} must be an ISO 8601 duration string`);
      return undefined;
    }
    try {
      return parseIsoDuration(value);
    } catch (err) {
      if (err instanceof DurationError) problems.push(`${where}.${field}: ${err.message}`);
      else throw err;
      return undefined;
    }
  };
  const backoffDelayMs = duration('backoffDelay');
  if (backoffDelayMs !== undefined) out.backoffDelayMs = backoffDelayMs;
  const timeoutMs = duration('timeout');
  if (timeoutMs !== undefined) {
    if (timeoutMs <= 0) problems.push(`${where}.timeout must be greater than zero`);
    else out.timeoutMs = timeoutMs;
  }
  const retryAfterMaxMs = duration('retryAfterMax');
  if (retryAfterMaxMs !== undefined) out.retryAfterMaxMs = retryAfterMaxMs;
  if (raw.deadLetterSink !== undefined) {
    const dls = readDestination(raw.deadLetterSink, `${where}.deadLetterSink`, problems);
    if (dls !== undefined) out.deadLetterSink = dls;
  }
  return out;
}
