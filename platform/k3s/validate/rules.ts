/**
 * The project's own rules over a rendered overlay — what a schema cannot say but the RabbitMQ broker and
 * Knative need to behave as docs/deploy.md describes. Each rule is a pure function of the objects (and of their
 * typed reading by platform/manifests, `ctx.manifests`: durations, delivery, defaults are read there, once) and
 * returns problems as sentences naming the object; an empty list means the overlay passes.
 */
import { parse } from 'yaml';
import {
  buildRouteTable,
  ROUTE_KIND,
  type RouteDocument,
  RouteTableError,
} from '../../../functions/runtime/src/index.ts';
import {
  collectManifests,
  type DeliverySpec,
  findReplyLoops,
  type KnativeService,
  type ManifestSet,
  type ObjectMeta,
  type Schemas,
  type Trigger,
} from '../../manifests/index.ts';
import { at, describe, group, isKnativeService, isRecord, type KubeObject, str } from './manifest.ts';
import { ingressTo, type Labels, type PodIdentity, policyApplies } from './network-policy.ts';

/** What the rules know about a function folder (functions/<name>/). */
export interface FunctionInfo {
  /** CloudEvent types the handler may reply with (handler.ts `emits`). */
  readonly emits: readonly string[];
}

export interface RuleContext {
  readonly objects: readonly KubeObject[];
  /** Function folders by name. */
  readonly functions: ReadonlyMap<string, FunctionInfo>;
  /** versions.env */
  readonly versions: Readonly<Record<string, string>>;
  /** The objects the readers model, read once (platform/manifests). */
  readonly manifests: ManifestSet;
  /** What the readers refused (as the webhooks would): reported with the schema errors. */
  readonly readProblems: readonly string[];
}

/**
 * A rule context: the objects, validated against `schemas` (when given) and read by the typed readers, once.
 * `source` names the overlay in messages.
 */
export function ruleContext(
  base: Pick<RuleContext, 'objects' | 'functions' | 'versions'>,
  source = 'overlay',
  schemas?: Schemas,
): RuleContext {
  const read = collectManifests(
    base.objects.map((object, index) => ({ file: source, index, object })),
    schemas === undefined ? {} : { schemas },
  );
  return { ...base, manifests: read.set, readProblems: read.problems };
}

/** `Kind/namespace/name` of a typed object, as `describe` names a raw one. */
const named = (o: ObjectMeta & { readonly kind: string }): string => `${o.kind}/${o.namespace}/${o.name}`;

export type Rule = (ctx: RuleContext) => string[];

const ofKind = (ctx: RuleContext, kind: string, apiGroup: string): KubeObject[] =>
  ctx.objects.filter((o) => o.kind === kind && group(o.apiVersion) === apiGroup);

const triggers = (ctx: RuleContext) => ofKind(ctx, 'Trigger', 'eventing.knative.dev');
const brokers = (ctx: RuleContext) => ofKind(ctx, 'Broker', 'eventing.knative.dev');
const kservices = (ctx: RuleContext) => ctx.objects.filter(isKnativeService);

interface Ref {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
}

const refAt = (o: KubeObject, ...path: string[]): Ref | undefined => {
  const ref = at(o, ...path);
  return isRecord(ref) ? (ref as Ref) : undefined;
};

const findKService = (ctx: RuleContext, name: string | undefined, namespace: string | undefined) =>
  kservices(ctx).find((s) => s.metadata.name === name && s.metadata.namespace === namespace);

/** Every Trigger names a dead-letter sink and a timeout: its delivery replaces the Broker's entirely.
 * (spec.filters and the parallelism annotation are the Trigger reader's: platform/manifests/trigger.ts.) */
export const triggerDelivery: Rule = (ctx) =>
  ctx.manifests.triggers.flatMap((t) => {
    const problems: string[] = [];
    if (t.delivery?.deadLetterSink === undefined)
      problems.push(`${named(t)} has no spec.delivery.deadLetterSink`);
    if (t.delivery?.timeoutMs === undefined) problems.push(`${named(t)} has no spec.delivery.timeout`);
    return problems;
  });

/** Every subscriber and dead-letter sink is a Knative Service of the rendered overlay, in the same namespace. */
export const referencesExist: Rule = (ctx) => {
  const problems: string[] = [];
  const check = (o: KubeObject, field: string, ref: Ref | undefined, uri: unknown) => {
    if (ref === undefined) {
      if (typeof uri !== 'string') problems.push(`${describe(o)} ${field} has neither ref nor uri`);
      return;
    }
    const namespace = ref.namespace ?? o.metadata.namespace;
    if (namespace !== o.metadata.namespace)
      problems.push(`${describe(o)} ${field} points to namespace ${namespace}, not its own`);
    if (ref.kind === 'Service' && group(ref.apiVersion ?? '') === 'serving.knative.dev') {
      if (findKService(ctx, ref.name, namespace) === undefined)
        problems.push(
          `${describe(o)} ${field} names Knative Service ${ref.name}, which is not in the overlay`,
        );
    } else if (ref.kind === 'Broker') {
      if (!brokers(ctx).some((b) => b.metadata.name === ref.name && b.metadata.namespace === namespace))
        problems.push(`${describe(o)} ${field} names Broker ${ref.name}, which is not in the overlay`);
    } else {
      problems.push(
        `${describe(o)} ${field} is a ${ref.kind ?? '?'}: expected a Knative Service or a Broker`,
      );
    }
  };
  for (const t of triggers(ctx)) {
    check(t, 'spec.subscriber', refAt(t, 'spec', 'subscriber', 'ref'), at(t, 'spec', 'subscriber', 'uri'));
    const dls = at(t, 'spec', 'delivery', 'deadLetterSink');
    if (dls !== undefined)
      check(
        t,
        'spec.delivery.deadLetterSink',
        refAt(t, 'spec', 'delivery', 'deadLetterSink', 'ref'),
        at(dls, 'uri'),
      );
    const broker = str(at(t, 'spec', 'broker'));
    if (
      !brokers(ctx).some((b) => b.metadata.name === broker && b.metadata.namespace === t.metadata.namespace)
    )
      problems.push(`${describe(t)} spec.broker "${broker}" is not a Broker of the overlay`);
  }
  for (const b of brokers(ctx)) {
    const dls = at(b, 'spec', 'delivery', 'deadLetterSink');
    if (dls !== undefined)
      check(
        b,
        'spec.delivery.deadLetterSink',
        refAt(b, 'spec', 'delivery', 'deadLetterSink', 'ref'),
        at(dls, 'uri'),
      );
  }
  for (const s of ofKind(ctx, 'RabbitmqSource', 'sources.knative.dev'))
    check(s, 'spec.sink', refAt(s, 'spec', 'sink', 'ref'), at(s, 'spec', 'sink', 'uri'));
  return problems;
};

/** Broker: class RabbitMQBroker, an explicit delivery (the webhook would default one and spec is immutable),
 * and a RabbitmqBrokerConfig that points at a RabbitmqCluster of the overlay. */
export const brokerSetup: Rule = (ctx) =>
  brokers(ctx).flatMap((b) => {
    const problems: string[] = [];
    if (b.metadata.annotations?.['eventing.knative.dev/broker.class'] !== 'RabbitMQBroker')
      problems.push(`${describe(b)} lacks annotation eventing.knative.dev/broker.class: RabbitMQBroker`);
    if (at(b, 'spec', 'delivery') === undefined)
      problems.push(`${describe(b)} has no explicit spec.delivery`);
    const config = refAt(b, 'spec', 'config');
    const configNs = config?.namespace ?? b.metadata.namespace;
    const brokerConfig = ofKind(ctx, 'RabbitmqBrokerConfig', 'eventing.knative.dev').find(
      (c) => c.metadata.name === config?.name && c.metadata.namespace === configNs,
    );
    if (config?.kind !== 'RabbitmqBrokerConfig' || brokerConfig === undefined) {
      problems.push(`${describe(b)} spec.config must name a RabbitmqBrokerConfig of the overlay`);
      return problems;
    }
    const cluster = refAt(brokerConfig, 'spec', 'rabbitmqClusterReference');
    const clusterNs = cluster?.namespace ?? brokerConfig.metadata.namespace;
    const found = ofKind(ctx, 'RabbitmqCluster', 'rabbitmq.com').some(
      (c) => c.metadata.name === cluster?.name && c.metadata.namespace === clusterNs,
    );
    if (!found)
      problems.push(
        `${describe(brokerConfig)} rabbitmqClusterReference does not name a RabbitmqCluster of the overlay`,
      );
    if (at(brokerConfig, 'spec', 'queueType') !== 'quorum')
      problems.push(`${describe(brokerConfig)} spec.queueType must be quorum`);
    return problems;
  });

/** A Trigger that feeds a function one of the types it replies with makes an endless loop through the broker
 * (the one check the local broker runs at start too: platform/manifests' findReplyLoops). */
export const noReplyLoops: Rule = (ctx) => {
  const loops = findReplyLoops(ctx.manifests.triggers, (name) => ctx.functions.get(name)?.emits);
  const problems: string[] = [];
  for (const t of ctx.manifests.triggers) {
    const mine = loops.filter((l) => l.trigger === t);
    if (mine.length === 0) continue;
    const subscriber = mine[0]?.subscriber ?? '';
    if (t.filter.type === undefined) {
      problems.push(
        `${named(t)} has no type filter and its subscriber ${subscriber} replies with ${mine.map((l) => l.replyType).join(', ')}`,
      );
    } else problems.push(`${named(t)} feeds ${subscriber} its own reply type ${t.filter.type}: a loop`);
  }
  return problems;
};

/** Images are built from function folders: dev.local/sluice/<folder>:<tag> (or a registry override). */
export const imagesMatchFunctions: Rule = (ctx) =>
  kservices(ctx).flatMap((s) => {
    const containers = at(s, 'spec', 'template', 'spec', 'containers');
    if (!Array.isArray(containers) || containers.length === 0) return [`${describe(s)} has no container`];
    return containers.flatMap((c) => {
      const image = str(at(c, 'image')) ?? '';
      const m = /^(?:[^/]+\/)*sluice\/([a-z0-9-]+)(?::[\w.-]+|@sha256:[a-f0-9]{64})$/.exec(image);
      if (m === null) return [`${describe(s)} image "${image}" is not <registry>/sluice/<function>:<tag>`];
      const name = m[1] ?? '';
      const problems: string[] = [];
      if (!ctx.functions.has(name))
        problems.push(`${describe(s)} image "${image}" has no functions/${name}/ folder`);
      if (name !== s.metadata.name) problems.push(`${describe(s)} runs image of function ${name}`);
      return problems;
    });
  });

/** Secrets are generated at deploy time: none may be rendered from git. */
export const noSecretLiterals: Rule = (ctx) =>
  ctx.objects
    .filter((o) => o.kind === 'Secret' && o.apiVersion === 'v1')
    .filter((o) => at(o, 'data') !== undefined || at(o, 'stringData') !== undefined)
    .map((o) => `${describe(o)} carries data in git: generate it at deploy time (platform/k3s/deploy.sh)`);

/** The RabbitMQ dead-letter dispatcher drops events when the sink is down: the sink never scales to zero. */
export const deadLetterSinkWarm: Rule = (ctx) => {
  const { brokers: typedBrokers, triggers: typedTriggers, services } = ctx.manifests;
  const sinks = new Set<string>();
  for (const o of [...typedTriggers, ...typedBrokers]) {
    const ref = o.delivery?.deadLetterSink?.ref;
    if (ref?.kind === 'Service') sinks.add(`${ref.namespace}/${ref.name}`);
  }
  return [...sinks].flatMap((key) => {
    const svc = services.find((s) => `${s.namespace}/${s.name}` === key);
    if (svc === undefined) return [];
    return svc.minScale >= 1
      ? []
      : [`${named(svc)} is a dead-letter sink: it needs autoscaling.knative.dev/min-scale "1"`];
  });
};

/** consumer_timeout above the longest delivery: timeout × attempts + exponential back-off (the SDK's 2^n). */
export function longestDeliveryMs(delivery: DeliverySpec | undefined): number {
  const timeout = delivery?.timeoutMs ?? 0;
  const retry = delivery?.retry ?? 5; // eventing-rabbitmq's default when a delivery is set
  const delay = delivery?.backoffDelayMs ?? 0;
  const linear = delivery?.backoffPolicy === 'linear';
  let backoff = 0;
  for (let n = 1; n <= retry; n++) backoff += linear ? delay * n : delay * 2 ** n;
  return timeout * (retry + 1) + backoff;
}

/**
 * A delivery's timing as eventing-rabbitmq's dispatcher runs it (trigger reconciler + cmd/dispatcher,
 * knative-v1.22.1): with a delivery, `retry` defaults to 5; BACKOFF_DELAY to 50 ms; no timeout = none.
 * Without any delivery (no Trigger's, no Broker's): no retries.
 */
export interface DeliveryTiming {
  readonly retry: number;
  readonly backoffDelayMs: number;
  readonly linear: boolean;
  /** undefined: no per-attempt timeout. */
  readonly timeoutMs: number | undefined;
}

export function deliveryTiming(delivery: DeliverySpec | undefined): DeliveryTiming {
  if (delivery === undefined) return { retry: 0, backoffDelayMs: 50, linear: false, timeoutMs: undefined };
  return {
    retry: delivery.retry ?? 5,
    backoffDelayMs: delivery.backoffDelayMs ?? 50,
    linear: delivery.backoffPolicy === 'linear',
    timeoutMs: delivery.timeoutMs,
  };
}

/** The waits between attempts, added up (sdk-go BackoffFor(n), n = 1 … retry: delay·2^n or delay·n). */
export function retryWindowMs(t: DeliveryTiming): number {
  let window = 0;
  for (let n = 1; n <= t.retry; n++) window += t.linear ? t.backoffDelayMs * n : t.backoffDelayMs * 2 ** n;
  return window;
}

/** The longest one delivery can take: every attempt to its timeout, and every wait. */
export function deliveryMs(t: DeliveryTiming): number {
  return t.timeoutMs === undefined
    ? Number.POSITIVE_INFINITY
    : t.timeoutMs * (t.retry + 1) + retryWindowMs(t);
}

/** The delivery a Trigger runs with: its own, which replaces the Broker's entirely, else the Broker's. */
function effectiveDelivery(ctx: RuleContext, t: Trigger): DeliverySpec | undefined {
  if (t.delivery !== undefined) return t.delivery;
  return ctx.manifests.brokers.find((b) => b.name === t.broker && b.namespace === t.namespace)?.delivery;
}

/** Upstream's dispatcher prefetch (pkg/rabbit `ChannelQoS`), whatever the parallelism. */
export const UPSTREAM_PREFETCH = 100;

/**
 * The longest a message can sit unacknowledged at a dispatcher: it may be the 100th prefetched, behind
 * 99 others that its `parallelism` workers deliver one at a time, each up to its longest delivery.
 */
export function worstPrefetchWaitMs(parallelism: number, t: DeliveryTiming): number {
  return Math.ceil(UPSTREAM_PREFETCH / Math.max(1, parallelism)) * deliveryMs(t);
}

/** The namespaces whose Brokers use a RabbitmqCluster: its own, and each whose RabbitmqBrokerConfig names it. */
function servedNamespaces(ctx: RuleContext, cluster: KubeObject): Set<string> {
  const served = new Set([cluster.metadata.namespace ?? '']);
  for (const config of ofKind(ctx, 'RabbitmqBrokerConfig', 'eventing.knative.dev')) {
    const ref = refAt(config, 'spec', 'rabbitmqClusterReference');
    if (
      ref?.name === cluster.metadata.name &&
      (ref.namespace ?? config.metadata.namespace) === cluster.metadata.namespace
    )
      served.add(config.metadata.namespace ?? '');
  }
  return served;
}

export const consumerTimeout: Rule = (ctx) => {
  const problems: string[] = [];
  for (const cluster of ofKind(ctx, 'RabbitmqCluster', 'rabbitmq.com')) {
    const config = str(at(cluster, 'spec', 'rabbitmq', 'additionalConfig')) ?? '';
    const m = /^\s*consumer_timeout\s*=\s*(\d+)\s*$/m.exec(config);
    if (!/^\s*default_queue_type\s*=\s*quorum\s*$/m.test(config))
      problems.push(`${describe(cluster)} additionalConfig lacks default_queue_type = quorum`);
    if (m === null) {
      problems.push(`${describe(cluster)} additionalConfig lacks consumer_timeout`);
      continue;
    }
    const limit = Number(m[1]);
    const served = servedNamespaces(ctx, cluster);
    for (const t of ctx.manifests.triggers.filter((x) => served.has(x.namespace))) {
      const timing = deliveryTiming(effectiveDelivery(ctx, t));
      // The Trigger's dispatcher (its parallelism) and its dead-letter dispatcher (parallelism 1).
      const waits: [string, number][] = [['its dispatcher', worstPrefetchWaitMs(t.parallelism, timing)]];
      if (t.delivery?.deadLetterSink !== undefined)
        waits.push(['its dead-letter dispatcher', worstPrefetchWaitMs(1, timing)]);
      for (const [who, wait] of waits) {
        if (wait >= limit)
          problems.push(
            `${named(t)}: a message prefetched by ${who} (100 per dispatcher) may wait ${wait} ms before its ack, not below consumer_timeout ${limit} ms`,
          );
      }
    }
  }
  return problems;
};

const findService = (ctx: RuleContext, name: string, namespace: string): KnativeService | undefined =>
  ctx.manifests.services.find((s) => s.name === name && s.namespace === namespace);

/** A plain `value` env entry of a Knative Service's first container. */
function envValue(s: KnativeService | undefined, name: string): string | undefined {
  const entry = s?.containers[0]?.env.find((e) => e.name === name);
  return entry !== undefined && 'value' in entry ? entry.value : undefined;
}

/** The runtime's idempotency lock (config.ts): IDEMPOTENCY_LOCK_SECONDS, else HANDLER_TIMEOUT_SECONDS + 5. */
export function idempotencyLockMs(s: KnativeService | undefined): number {
  const lock = Number(envValue(s, 'IDEMPOTENCY_LOCK_SECONDS'));
  if (Number.isInteger(lock) && lock > 0) return lock * 1000;
  const handler = Number(envValue(s, 'HANDLER_TIMEOUT_SECONDS'));
  return ((Number.isInteger(handler) && handler > 0 ? handler : 25) + 5) * 1000;
}

/**
 * The retries outlast the idempotency lock: an attempt whose instance crashed holds its claim until the
 * lock expires, and every retry before that is answered 503 (in progress). If all waits together are
 * shorter, the event is dead-lettered with 503 instead of processed. Checked for every Trigger with the
 * delivery it runs with, and for the Broker's default against the default lock.
 */
export const retryOutlastsLock: Rule = (ctx) => {
  const problems: string[] = [];
  for (const t of ctx.manifests.triggers) {
    const ref = t.subscriber.ref;
    if (ref?.kind !== 'Service') continue;
    const lock = idempotencyLockMs(findService(ctx, ref.name, ref.namespace));
    const window = retryWindowMs(deliveryTiming(effectiveDelivery(ctx, t)));
    if (window <= lock)
      problems.push(
        `${named(t)}: its retries wait ${window} ms in all, not more than ${ref.name}'s idempotency lock (${lock} ms): a crashed attempt would be dead-lettered with 503 before its lock expires`,
      );
  }
  for (const b of ctx.manifests.brokers) {
    if (b.delivery === undefined) continue;
    const window = retryWindowMs(deliveryTiming(b.delivery));
    const lock = idempotencyLockMs(undefined);
    if (window <= lock)
      problems.push(
        `${named(b)}: its default delivery's retries wait ${window} ms in all, not more than the default idempotency lock (${lock} ms)`,
      );
  }
  return problems;
};

/**
 * A dead letter needs an exchange to go to. A Trigger without `delivery` runs with the Broker's and
 * publishes its failures to the Broker's dead-letter exchange, which the reconciler creates only when the
 * Broker has a deadLetterSink: without one, the publish fails and the event is lost.
 */
export const deadLetterExchangeExists: Rule = (ctx) =>
  ctx.manifests.triggers.flatMap((t) =>
    t.delivery === undefined && effectiveDelivery(ctx, t)?.deadLetterSink === undefined
      ? [
          `${named(t)} has no spec.delivery and its Broker no deadLetterSink: its failures go to a dead-letter exchange that does not exist, and are lost`,
        ]
      : [],
  );

/** The env every function is given with its dead-letter sink (keep-rejected.ts in the runtime). */
export const DEAD_LETTER_SINK_ENV = 'SLUICE_DEAD_LETTER_SINK';

/** SLUICE_DEAD_LETTER_SINK as a Knative Service sees it: its own env, else its envFrom ConfigMaps. */
function deadLetterSinkEnv(ctx: RuleContext, s: KnativeService): string | undefined {
  const own = envValue(s, DEAD_LETTER_SINK_ENV);
  if (own !== undefined) return own;
  for (const source of s.containers[0]?.envFrom ?? []) {
    if (source.kind !== 'configMapRef') continue;
    const map = ctx.objects.find(
      (o) =>
        o.kind === 'ConfigMap' && o.metadata.name === source.name && o.metadata.namespace === s.namespace,
    );
    const value = str(at(map, 'data', DEAD_LETTER_SINK_ENV));
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * Each function keeps what it refuses in the dead-letter sink its Triggers name (upstream acks refusals):
 * SLUICE_DEAD_LETTER_SINK must be that Knative Service's address (`http://<name>` or its cluster-local
 * name); a dead-letter sink itself has it empty, so it never sends to itself.
 */
export const deadLetterSinkAddress: Rule = (ctx) => {
  const problems: string[] = [];
  const sinks = new Set<string>();
  for (const t of ctx.manifests.triggers) {
    const sub = t.subscriber.ref;
    const dls = effectiveDelivery(ctx, t)?.deadLetterSink?.ref;
    if (dls !== undefined) sinks.add(`${dls.namespace}/${dls.name}`);
    if (sub?.kind !== 'Service' || dls?.kind !== 'Service') continue;
    const svc = findService(ctx, sub.name, sub.namespace);
    if (svc === undefined) continue;
    const value = deadLetterSinkEnv(ctx, svc);
    const expected = [`http://${dls.name}`, `http://${dls.name}.${dls.namespace}.svc.cluster.local`];
    if (value === undefined || !expected.includes(value.replace(/\/$/, '')))
      problems.push(
        `${named(svc)} keeps its refusals in ${value === undefined || value === '' ? 'no dead-letter sink' : value}, but ${named(t)} names dead-letter sink ${dls.name}: set ${DEAD_LETTER_SINK_ENV}=http://${dls.name}`,
      );
  }
  for (const key of sinks) {
    const [namespace = '', name = ''] = key.split('/');
    const svc = findService(ctx, name, namespace);
    const value = svc === undefined ? undefined : deadLetterSinkEnv(ctx, svc);
    if (svc !== undefined && value !== undefined && value !== '')
      problems.push(
        `${named(svc)} is a dead-letter sink: its ${DEAD_LETTER_SINK_ENV} must be empty (it would send to itself)`,
      );
  }
  return problems;
};

/** Knative Services: probes on the runtime's health paths, resources, a concurrency target, metrics port. */
export const functionServices: Rule = (ctx) =>
  kservices(ctx).flatMap((s) => {
    const isEntry = s.metadata.name === PUBLIC_ENTRY;
    const problems: string[] = [];
    const c = at(s, 'spec', 'template', 'spec', 'containers', 0);
    if (at(c, 'readinessProbe', 'httpGet', 'path') !== '/health/readiness')
      problems.push(`${describe(s)} readinessProbe must GET /health/readiness`);
    if (at(c, 'livenessProbe', 'httpGet', 'path') !== '/health/liveness')
      problems.push(`${describe(s)} livenessProbe must GET /health/liveness`);
    if (
      at(c, 'resources', 'requests', 'memory') === undefined ||
      at(c, 'resources', 'limits', 'memory') === undefined
    )
      problems.push(`${describe(s)} needs memory requests and limits`);
    const annotations = at(s, 'spec', 'template', 'metadata', 'annotations');
    if (
      at(s, 'spec', 'template', 'spec', 'containerConcurrency') === undefined &&
      at(annotations, 'autoscaling.knative.dev/target') === undefined
    )
      problems.push(`${describe(s)} sets neither containerConcurrency nor autoscaling.knative.dev/target`);
    // /metrics is on the serving port, or on METRICS_PORT when the function moved it (the public gateway).
    const env = at(c, 'env');
    const metricsPortEnv = Array.isArray(env) ? env.find((e) => at(e, 'name') === 'METRICS_PORT') : undefined;
    const port = str(at(metricsPortEnv, 'value')) ?? String(at(c, 'ports', 0, 'containerPort') ?? '8080');
    if (at(annotations, 'prometheus.io/scrape') !== 'true' || at(annotations, 'prometheus.io/port') !== port)
      problems.push(
        `${describe(s)} must be annotated prometheus.io/scrape "true", prometheus.io/port "${port}"`,
      );
    const envFrom = at(c, 'envFrom');
    const hasEnvSecret =
      Array.isArray(envFrom) && envFrom.some((e) => at(e, 'secretRef', 'name') === 'sluice-function-env');
    if (isEntry && hasEnvSecret)
      problems.push(
        `${describe(s)} is public and must not hold the sluice-function-env Secret (store credentials)`,
      );
    if (!isEntry && !hasEnvSecret)
      problems.push(`${describe(s)} does not take its env from the sluice-function-env Secret`);
    return problems;
  });

/** The data services run what versions.env pins. */
export const pinnedImages: Rule = (ctx) =>
  ofKind(ctx, 'StatefulSet', 'apps').flatMap((s) => {
    if (s.metadata.name !== 'mongodb') return [];
    const image = str(at(s, 'spec', 'template', 'spec', 'containers', 0, 'image'));
    return image === ctx.versions.MONGODB_IMAGE
      ? []
      : [`${describe(s)} runs ${image}, versions.env pins MONGODB_IMAGE=${ctx.versions.MONGODB_IMAGE}`];
  });

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
]);

/** The label that tells an environment's two namespaces apart (each overlay's app/ and data/ namespace.yaml). */
export const NAMESPACE_ROLE_LABEL = 'sluice.dev/namespace-role';

export interface EnvironmentNamespaces {
  /** The functions, the broker, its Triggers and sources: under the reference quota. */
  readonly app: string;
  /** RabbitMQ, MongoDB, Redis and the observability stack. */
  readonly data: string;
}

/** The overlay's app and data namespaces, by their role label; undefined unless there is exactly one of each. */
export function environmentNamespaces(objects: readonly KubeObject[]): EnvironmentNamespaces | undefined {
  const named = (role: string) =>
    objects.filter((o) => o.kind === 'Namespace' && o.metadata.labels?.[NAMESPACE_ROLE_LABEL] === role);
  const app = named('app');
  const data = named('data');
  if (app.length !== 1 || data.length !== 1) return undefined;
  return { app: app[0]?.metadata.name ?? '', data: data[0]?.metadata.name ?? '' };
}

/** What only the data namespace may hold: state and long-running workloads beside the functions. */
const DATA_KINDS = new Set([
  'apps/StatefulSet',
  'apps/Deployment',
  'apps/DaemonSet',
  'batch/Job',
  'batch/CronJob',
  '/PersistentVolumeClaim',
  'rabbitmq.com/RabbitmqCluster',
]);
/** What only the app namespace may hold: the functions and the broker's objects (they count in its quota). */
const APP_KINDS = new Set([
  'serving.knative.dev/Service',
  'eventing.knative.dev/Broker',
  'eventing.knative.dev/Trigger',
  'sources.knative.dev/RabbitmqSource',
  'sources.knative.dev/PingSource',
  'keda.sh/ScaledObject',
]);

/**
 * An overlay is one environment in two namespaces (docs/deploy.md, "Two namespaces per environment"): the app
 * namespace (role `app`) holds the functions and the broker's objects under the reference quota, the data
 * namespace (role `data`) the data services and the observability stack; each has a ResourceQuota and a
 * LimitRange, and every namespaced object is in one of them.
 */
export const environment: Rule = (ctx) => {
  const namespaces = ctx.objects.filter((o) => o.kind === 'Namespace');
  const env = environmentNamespaces(ctx.objects);
  if (namespaces.length !== 2 || env === undefined)
    return [
      `an overlay has exactly two Namespaces, labelled ${NAMESPACE_ROLE_LABEL} app and data; found ${namespaces
        .map((n) => `${n.metadata.name} (${n.metadata.labels?.[NAMESPACE_ROLE_LABEL] ?? 'no role'})`)
        .join(', ')}`,
    ];
  const problems: string[] = [];
  for (const ns of [env.app, env.data])
    for (const kind of ['ResourceQuota', 'LimitRange'])
      if (!ctx.objects.some((o) => o.kind === kind && o.metadata.namespace === ns))
        problems.push(`no ${kind} in ${ns}`);
  for (const o of ctx.objects) {
    if (CLUSTER_SCOPED.has(o.kind)) continue;
    const ns = o.metadata.namespace;
    const kind = `${group(o.apiVersion)}/${o.kind}`;
    if (ns !== env.app && ns !== env.data)
      problems.push(`${describe(o)} is not in the overlay's namespaces ${env.app} or ${env.data}`);
    else if (ns === env.app && DATA_KINDS.has(kind))
      problems.push(`${describe(o)} belongs in the data namespace ${env.data}, not beside the functions`);
    else if (ns === env.data && APP_KINDS.has(kind))
      problems.push(`${describe(o)} belongs in the app namespace ${env.app}, with the functions`);
  }
  return problems;
};

/** The topology operator's allow-list on a RabbitmqCluster (rabbitmq/messaging-topology-operator#201). */
export const TOPOLOGY_ALLOWED_NAMESPACES = 'rabbitmq.com/topology-allowed-namespaces';

/**
 * A RabbitmqBrokerConfig or RabbitmqSource may name a RabbitmqCluster of another namespace only when that
 * cluster lists its namespace in rabbitmq.com/topology-allowed-namespaces: the messaging-topology-operator
 * refuses (and does not retry) the exchanges, queues and bindings of any other (knative/docs#4532). `*` is
 * refused here: another environment's broker could then declare its queues on this cluster.
 */
export const crossNamespaceReferences: Rule = (ctx) => {
  const problems: string[] = [];
  const referrers = [
    ...ofKind(ctx, 'RabbitmqBrokerConfig', 'eventing.knative.dev'),
    ...ofKind(ctx, 'RabbitmqSource', 'sources.knative.dev'),
  ];
  for (const o of referrers) {
    const ref = refAt(o, 'spec', 'rabbitmqClusterReference');
    const namespace = ref?.namespace ?? o.metadata.namespace;
    const cluster = ofKind(ctx, 'RabbitmqCluster', 'rabbitmq.com').find(
      (c) => c.metadata.name === ref?.name && c.metadata.namespace === namespace,
    );
    if (cluster === undefined) {
      problems.push(
        `${describe(o)} rabbitmqClusterReference names ${namespace}/${ref?.name ?? '?'}, no RabbitmqCluster of the overlay`,
      );
      continue;
    }
    if (namespace === o.metadata.namespace) continue;
    const allowed = (cluster.metadata.annotations?.[TOPOLOGY_ALLOWED_NAMESPACES] ?? '')
      .split(',')
      .map((n) => n.trim());
    if (allowed.includes('*'))
      problems.push(
        `${describe(cluster)} allows every namespace (${TOPOLOGY_ALLOWED_NAMESPACES}: "*"): list its environment's app namespace only`,
      );
    else if (!allowed.includes(o.metadata.namespace ?? ''))
      problems.push(
        `${describe(o)} references ${describe(cluster)} across namespaces, but its ${TOPOLOGY_ALLOWED_NAMESPACES} does not list ${o.metadata.namespace}: the topology operator would refuse its queues`,
      );
  }
  return problems;
};

/** The environment whose broker, store and gateway must survive the loss of one node. */
export const HIGHLY_AVAILABLE_ENVIRONMENT = 'production';

/** Members of a set that keeps a majority with one of them lost: odd, and at least 3. */
const quorumReplicas = (n: number): boolean => n >= 3 && n % 2 === 1;

/** Whether a pod spec's affinity keeps two pods with these labels off the same node. */
function spreadOverNodes(affinity: unknown, labels: Labels): boolean {
  const terms = at(affinity, 'podAntiAffinity', 'requiredDuringSchedulingIgnoredDuringExecution');
  return (Array.isArray(terms) ? terms : []).some((t) => {
    const match = at(t, 'labelSelector', 'matchLabels');
    return (
      at(t, 'topologyKey') === 'kubernetes.io/hostname' &&
      isRecord(match) &&
      Object.entries(match).every(([k, v]) => labels[k] === v)
    );
  });
}

/** A PodDisruptionBudget of the namespace that covers these pods and lets a drain take one of `replicas` at most. */
function disruptionBudgeted(ctx: RuleContext, namespace: string, labels: Labels, replicas: number): boolean {
  return ofKind(ctx, 'PodDisruptionBudget', 'policy').some((pdb) => {
    if (pdb.metadata.namespace !== namespace) return false;
    const match = at(pdb, 'spec', 'selector', 'matchLabels');
    if (!isRecord(match) || !Object.entries(match).every(([k, v]) => labels[k] === v)) return false;
    const maxUnavailable = at(pdb, 'spec', 'maxUnavailable');
    const minAvailable = at(pdb, 'spec', 'minAvailable');
    if (maxUnavailable === 1) return true;
    return (
      typeof minAvailable === 'number' &&
      minAvailable >= Math.floor(replicas / 2) + 1 &&
      minAvailable < replicas
    );
  });
}

/**
 * Production has no single point of failure among broker, store and gateway (docs/deploy.md, "High
 * availability"): RabbitMQ and MongoDB run an odd number ≥ 3 of members, one per node (required pod
 * anti-affinity on kubernetes.io/hostname), under a PodDisruptionBudget that lets a drain take one at a time;
 * MongoDB as a replica set; api-gateway at min-scale ≥ 2. Other environments may run one of each.
 */
export const highAvailability: Rule = (ctx) => {
  const env = environmentNamespaces(ctx.objects);
  const appNamespace = ctx.objects.find((o) => o.kind === 'Namespace' && o.metadata.name === env?.app);
  if (
    env === undefined ||
    appNamespace?.metadata.labels?.['sluice.dev/environment'] !== HIGHLY_AVAILABLE_ENVIRONMENT
  )
    return [];
  const problems: string[] = [];
  const clusters = ofKind(ctx, 'RabbitmqCluster', 'rabbitmq.com');
  if (clusters.length === 0) problems.push(`${HIGHLY_AVAILABLE_ENVIRONMENT} has no RabbitmqCluster`);
  for (const c of clusters) {
    const replicas = at(c, 'spec', 'replicas');
    const n = typeof replicas === 'number' ? replicas : 1;
    const labels = { 'app.kubernetes.io/name': c.metadata.name };
    if (!quorumReplicas(n))
      problems.push(
        `${describe(c)} runs ${n} replica(s): ${HIGHLY_AVAILABLE_ENVIRONMENT} needs an odd number ≥ 3, so that its quorum queues keep a majority with one node lost`,
      );
    if (!spreadOverNodes(at(c, 'spec', 'affinity'), labels))
      problems.push(
        `${describe(c)} has no required pod anti-affinity on kubernetes.io/hostname: two nodes of it could share a host`,
      );
    if (!disruptionBudgeted(ctx, c.metadata.namespace ?? '', labels, n))
      problems.push(`${describe(c)} has no PodDisruptionBudget that lets a drain take one node at a time`);
  }
  const stores = ofKind(ctx, 'StatefulSet', 'apps').filter((o) => o.metadata.name === 'mongodb');
  if (stores.length === 0) problems.push(`${HIGHLY_AVAILABLE_ENVIRONMENT} has no MongoDB StatefulSet`);
  for (const m of stores) {
    const replicas = at(m, 'spec', 'replicas');
    const n = typeof replicas === 'number' ? replicas : 1;
    const templateLabels = at(m, 'spec', 'template', 'metadata', 'labels');
    const labels = isRecord(templateLabels) ? (templateLabels as Labels) : {};
    const args = at(m, 'spec', 'template', 'spec', 'containers', 0, 'args');
    if (!quorumReplicas(n))
      problems.push(
        `${describe(m)} runs ${n} member(s): ${HIGHLY_AVAILABLE_ENVIRONMENT} needs a replica set of an odd number ≥ 3, so that a primary is elected with one member lost`,
      );
    if (!(Array.isArray(args) && args.includes('--replSet')))
      problems.push(`${describe(m)} does not run as a replica set (--replSet)`);
    if (!spreadOverNodes(at(m, 'spec', 'template', 'spec', 'affinity'), labels))
      problems.push(
        `${describe(m)} has no required pod anti-affinity on kubernetes.io/hostname: two members could share a host`,
      );
    if (!disruptionBudgeted(ctx, m.metadata.namespace ?? '', labels, n))
      problems.push(`${describe(m)} has no PodDisruptionBudget that lets a drain take one member at a time`);
  }
  const gateway = ctx.manifests.services.find((s) => s.name === PUBLIC_ENTRY && s.namespace === env.app);
  if (gateway !== undefined && gateway.minScale < 2)
    problems.push(
      `${named(gateway)} runs at min-scale ${gateway.minScale}: the public entry needs 2 or more in ${HIGHLY_AVAILABLE_ENVIRONMENT}`,
    );
  return problems;
};

/** The one Knative Service allowed to be public (Kourier's external gateway): the API gateway. */
export const PUBLIC_ENTRY = 'api-gateway';
export const VISIBILITY_LABEL = 'networking.knative.dev/visibility';
const isClusterLocal = (s: KubeObject): boolean => s.metadata.labels?.[VISIBILITY_LABEL] === 'cluster-local';
/** Exposed on purpose, if ever: an observability UI behind its own login. */
const OBSERVABILITY = (o: KubeObject): boolean =>
  o.metadata.labels?.['app.kubernetes.io/component'] === 'observability';

/** One public entry: every Knative Service but the gateway is cluster-local, and nothing else is exposed. */
export const publicEntry: Rule = (ctx) => {
  const problems: string[] = [];
  const services = kservices(ctx);
  if (services.length > 0 && !services.some((s) => s.metadata.name === PUBLIC_ENTRY))
    problems.push(`no Knative Service ${PUBLIC_ENTRY}: the overlay has no public entry`);
  for (const s of services) {
    if (s.metadata.name !== PUBLIC_ENTRY && !isClusterLocal(s))
      problems.push(
        `${describe(s)} is public: only ${PUBLIC_ENTRY} may be; label it ${VISIBILITY_LABEL}: cluster-local`,
      );
    if (s.metadata.name === PUBLIC_ENTRY && isClusterLocal(s))
      problems.push(
        `${describe(s)} is the public entry but cluster-local: nothing can reach it from outside`,
      );
  }
  for (const o of ctx.objects) {
    if (OBSERVABILITY(o)) continue;
    const type = str(at(o, 'spec', 'type'));
    if (o.kind === 'Service' && o.apiVersion === 'v1' && (type === 'LoadBalancer' || type === 'NodePort'))
      problems.push(`${describe(o)} is a ${type}: reach it through ${PUBLIC_ENTRY} or a port-forward`);
    if (o.kind === 'Ingress' || o.kind === 'HTTPRoute' || o.kind === 'IngressRoute')
      problems.push(`${describe(o)} exposes something beside ${PUBLIC_ENTRY}`);
  }
  return problems;
};

/** Every Knative Service that receives events, with what sends them. */
function eventEndpoints(ctx: RuleContext): Map<KubeObject, string[]> {
  const fed = new Map<KubeObject, string[]>();
  const add = (o: KubeObject, field: string, ref: Ref | undefined): void => {
    if (ref?.kind !== 'Service' || group(ref.apiVersion ?? '') !== 'serving.knative.dev') return;
    const svc = findKService(ctx, ref.name, ref.namespace ?? o.metadata.namespace);
    if (svc !== undefined) fed.set(svc, [...(fed.get(svc) ?? []), `${describe(o)} ${field}`]);
  };
  for (const t of triggers(ctx)) {
    add(t, 'subscriber', refAt(t, 'spec', 'subscriber', 'ref'));
    add(t, 'deadLetterSink', refAt(t, 'spec', 'delivery', 'deadLetterSink', 'ref'));
  }
  for (const b of brokers(ctx))
    add(b, 'deadLetterSink', refAt(b, 'spec', 'delivery', 'deadLetterSink', 'ref'));
  for (const src of ofKind(ctx, 'RabbitmqSource', 'sources.knative.dev'))
    add(src, 'sink', refAt(src, 'spec', 'sink', 'ref'));
  return fed;
}

/** A Knative Service the broker or a source delivers to must be cluster-local: no event endpoint in public. */
export const noPublicEventEndpoint: Rule = (ctx) =>
  [...eventEndpoints(ctx)].flatMap(([svc, senders]) =>
    isClusterLocal(svc)
      ? []
      : [
          `${describe(svc)} is a public event endpoint (fed by ${senders.join(', ')}): label it ${VISIBILITY_LABEL}: cluster-local`,
        ],
  );

/** Pods the policies are judged against: the peers each target needs, and others that must stay out. `namespace`
 * is the app namespace (functions, broker), `data` the data namespace (Prometheus, the data services). */
function peers(namespace: string, data: string) {
  const pod = (name: string, ns: string, labels: Labels): PodIdentity => ({ name, namespace: ns, labels });
  const broker = 'eventing.knative.dev/broker';
  const role = 'eventing.knative.dev/brokerRole';
  return {
    kourier: pod("Kourier's gateway", 'kourier-system', { app: '3scale-kourier-gateway' }),
    activator: pod('the activator', 'knative-serving', { app: 'activator', role: 'activator' }),
    autoscaler: pod('the autoscaler', 'knative-serving', { app: 'autoscaler' }),
    dispatcher: pod('a trigger dispatcher', namespace, { [broker]: 'default', [role]: 'dispatcher' }),
    dlqDispatcher: pod('the dead-letter dispatcher', namespace, {
      [broker]: 'default',
      [role]: 'dispatcher-dlq',
    }),
    gateway: pod(PUBLIC_ENTRY, namespace, { 'serving.knative.dev/service': PUBLIC_ENTRY }),
    prometheus: pod('Prometheus', data, { 'app.kubernetes.io/name': 'prometheus' }),
    exporter: pod('the MongoDB exporter', data, { 'app.kubernetes.io/name': 'mongodb-exporter' }),
    mongodbMember: pod('a MongoDB member', data, { 'app.kubernetes.io/name': 'mongodb' }),
    foreignGateway: pod("another environment's gateway", 'elsewhere', {
      'serving.knative.dev/service': PUBLIC_ENTRY,
    }),
    foreignDispatcher: pod("another environment's trigger dispatcher", 'elsewhere', {
      [broker]: 'default',
      [role]: 'dispatcher',
    }),
    foreignFunction: pod("another environment's function", 'elsewhere', {
      'serving.knative.dev/service': 'some-function',
    }),
    source: pod('a RabbitmqSource adapter', namespace, {
      'eventing.knative.dev/source': 'rabbitmq-source-controller',
    }),
    brokerIngress: pod('the broker ingress', namespace, { [broker]: 'default', [role]: 'ingress' }),
    rabbitmqOperator: pod('the messaging-topology-operator', 'rabbitmq-system', {
      'app.kubernetes.io/name': 'messaging-topology-operator',
    }),
    eventingRabbitmqController: pod("eventing-rabbitmq's broker controller", 'knative-eventing', {
      app: 'rabbitmq-broker-controller',
    }),
    keda: pod("KEDA's operator", 'keda', { app: 'keda-operator' }),
    rabbitmqMember: pod('a RabbitMQ member', data, { 'app.kubernetes.io/name': 'rabbitmq' }),
    function: pod('another function', namespace, { 'serving.knative.dev/service': 'some-function' }),
    stranger: pod('any other pod of the namespace', namespace, { app: 'stranger' }),
    elsewhere: pod('a pod of another namespace', 'elsewhere', { app: 'stranger' }),
    servingWebhook: pod('another knative-serving pod', 'knative-serving', { app: 'webhook' }),
    kourierController: pod('another kourier-system pod', 'kourier-system', { app: 'net-kourier-controller' }),
  };
}

type PeerName = keyof ReturnType<typeof peers>;

function judge(
  env: EnvironmentNamespaces,
  what: string,
  pod: PodIdentity,
  policies: readonly KubeObject[],
  allowed: readonly PeerName[],
  required: readonly PeerName[],
): string[] {
  if (!policies.some((p) => policyApplies(p, pod)))
    return [`${what}: no NetworkPolicy selects its pods, so anything in the cluster can connect`];
  const known = peers(env.app, env.data);
  const verdict = ingressTo(pod, policies, Object.values(known));
  const problems = verdict.open.map((o) => `${what}: ${o}`);
  for (const [name, peer] of Object.entries(known) as [PeerName, PodIdentity][]) {
    const admissions = verdict.admitted.filter((a) => a.from === peer);
    if (admissions.length > 0 && !allowed.includes(name))
      problems.push(`${what}: NetworkPolicy lets ${peer.name} in`);
    if (name === 'prometheus' && admissions.some((a) => a.ports === undefined))
      problems.push(`${what}: Prometheus may reach every port; allow its metrics port only`);
    if (admissions.length === 0 && required.includes(name))
      problems.push(`${what}: NetworkPolicy keeps out ${peer.name}, which must reach it`);
  }
  return problems;
}

/**
 * NetworkPolicies: event endpoints take traffic only from the Knative data path, the broker's dispatchers,
 * the gateway and Prometheus (metrics port); the gateway only from the Knative data path and Prometheus; the
 * broker ingress only from the gateway, the dispatchers and sources. Judged on the policies' own selectors.
 */
export const networkPolicies: Rule = (ctx) => {
  const policies = ctx.objects.filter(
    (o) => o.kind === 'NetworkPolicy' && group(o.apiVersion) === 'networking.k8s.io',
  );
  const problems: string[] = [];
  const envOf = (namespace: string): EnvironmentNamespaces =>
    environmentNamespaces(ctx.objects) ?? { app: namespace, data: namespace };
  for (const s of kservices(ctx)) {
    const namespace = s.metadata.namespace ?? '';
    const templateLabels = at(s, 'spec', 'template', 'metadata', 'labels');
    const pod: PodIdentity = {
      name: s.metadata.name,
      namespace,
      labels: {
        ...(isRecord(templateLabels) ? (templateLabels as Labels) : {}),
        'serving.knative.dev/service': s.metadata.name,
      },
    };
    problems.push(
      ...(s.metadata.name === PUBLIC_ENTRY
        ? judge(
            envOf(namespace),
            describe(s),
            pod,
            policies,
            ['kourier', 'activator', 'autoscaler', 'prometheus'],
            ['kourier', 'activator', 'prometheus'],
          )
        : judge(
            envOf(namespace),
            describe(s),
            pod,
            policies,
            ['kourier', 'activator', 'autoscaler', 'dispatcher', 'dlqDispatcher', 'gateway', 'prometheus'],
            ['kourier', 'activator', 'prometheus'],
          )),
    );
  }
  for (const b of brokers(ctx)) {
    const env = envOf(b.metadata.namespace ?? '');
    const pod = peers(env.app, env.data).brokerIngress;
    problems.push(
      ...judge(
        env,
        `the ingress of ${describe(b)}`,
        { ...pod, labels: { ...pod.labels, 'eventing.knative.dev/broker': b.metadata.name } },
        policies,
        ['gateway', 'dispatcher', 'dlqDispatcher', 'source', 'prometheus'],
        ['gateway', 'dispatcher'],
      ),
    );
  }
  // The data services the functions reach across namespaces: Redis (the gateway's rate limits) and MongoDB.
  const env = environmentNamespaces(ctx.objects);
  const dataServices: [string, string, PeerName[], PeerName[]][] = [
    ['Deployment', 'redis', ['gateway'], ['gateway']],
    ['StatefulSet', 'mongodb', ['function', 'exporter', 'mongodbMember'], ['function', 'exporter']],
  ];
  for (const [kind, name, allowed, required] of env === undefined ? [] : dataServices) {
    const workload = ofKind(ctx, kind, 'apps').find(
      (o) => o.metadata.name === name && o.metadata.namespace === env?.data,
    );
    if (workload === undefined || env === undefined) continue;
    const labels = at(workload, 'spec', 'template', 'metadata', 'labels');
    const pod: PodIdentity = {
      name,
      namespace: env.data,
      labels: isRecord(labels) ? (labels as Labels) : {},
    };
    problems.push(...judge(env, describe(workload), pod, policies, allowed, required));
  }
  // RabbitMQ's pods are the cluster-operator's: it labels them with the RabbitmqCluster's name.
  for (const cluster of ofKind(ctx, 'RabbitmqCluster', 'rabbitmq.com')) {
    if (env === undefined || cluster.metadata.namespace !== env.data) continue;
    const pod: PodIdentity = {
      name: cluster.metadata.name,
      namespace: env.data,
      labels: { 'app.kubernetes.io/name': cluster.metadata.name },
    };
    const clients: PeerName[] = ['brokerIngress', 'dispatcher', 'dlqDispatcher', 'source'];
    const operators: PeerName[] = ['rabbitmqOperator', 'eventingRabbitmqController', 'keda'];
    problems.push(
      ...judge(
        env,
        describe(cluster),
        pod,
        policies,
        [...clients, ...operators, 'prometheus', 'rabbitmqMember'],
        [...clients, 'rabbitmqOperator', 'keda', 'prometheus', 'rabbitmqMember'],
      ),
    );
  }
  return problems;
};

/** The gateway's mounted route table parses, and every proxy route targets a cluster-local Service of the overlay. */
export const gatewayRoutes: Rule = (ctx) =>
  kservices(ctx)
    .filter((s) => s.metadata.name === PUBLIC_ENTRY)
    .flatMap((gw) => {
      const volumes = at(gw, 'spec', 'template', 'spec', 'volumes');
      const names = (Array.isArray(volumes) ? volumes : []).map((v) => str(at(v, 'configMap', 'name')));
      const tables = ctx.objects.filter(
        (o) =>
          o.kind === 'ConfigMap' &&
          o.metadata.namespace === gw.metadata.namespace &&
          names.includes(o.metadata.name),
      );
      if (tables.length !== 1)
        return [`${describe(gw)} must mount exactly one route ConfigMap of the overlay`];
      const cm = tables[0] as KubeObject;
      const data = at(cm, 'data');
      const documents: RouteDocument[] = [];
      const problems: string[] = [];
      for (const [key, text] of Object.entries(isRecord(data) ? data : {})) {
        const file = `${describe(cm)} ${key}`;
        try {
          documents.push({ system: key.replace(/\.ya?ml$/, ''), file, document: parse(String(text)) });
        } catch (err) {
          problems.push(`${file}: invalid YAML: ${(err as Error).message}`);
        }
      }
      if (problems.length > 0) return problems;
      try {
        return buildRouteTable(documents).routes.flatMap((route) => {
          if (route.kind !== ROUTE_KIND.proxy) return [];
          const target = findKService(ctx, route.service, gw.metadata.namespace);
          if (target === undefined)
            return [
              `${route.file}: ${route.prefix} proxies to ${route.service}, which is not in the overlay`,
            ];
          return isClusterLocal(target)
            ? []
            : [`${route.file}: ${route.prefix} proxies to ${describe(target)}, which is public`];
        });
      } catch (err) {
        if (err instanceof RouteTableError) return err.problems.map((p) => p);
        throw err;
      }
    });

/** Every secretKeyRef anywhere in an object (containers, init containers, templates). */
function secretKeyRefs(
  value: unknown,
  found: { name: string; key: string }[] = [],
): { name: string; key: string }[] {
  if (Array.isArray(value)) for (const v of value) secretKeyRefs(v, found);
  else if (isRecord(value)) {
    const ref = value.secretKeyRef;
    if (isRecord(ref) && typeof ref.name === 'string' && typeof ref.key === 'string')
      found.push({ name: ref.name, key: ref.key });
    for (const v of Object.values(value)) secretKeyRefs(v, found);
  }
  return found;
}

/** MongoDB's own administration: its members, and the Job that initiates the replica set (replSetInitiate). */
const MONGODB_ADMINISTRATION = new Set(['StatefulSet/mongodb', 'Job/mongodb-replica-set-init']);

/** MongoDB's root credentials stay with MongoDB: every other workload uses a user of its own, with less. */
export const rootCredentialsStayHome: Rule = (ctx) =>
  ctx.objects.flatMap((o) => {
    if (MONGODB_ADMINISTRATION.has(`${o.kind}/${o.metadata.name}`)) return [];
    return secretKeyRefs(o)
      .filter((r) => r.name === 'mongodb-credentials' && r.key.startsWith('root-'))
      .map((r) => `${describe(o)} reads MongoDB's ${r.key}: give it a least-privilege user of its own`);
  });

/** Every container list anywhere in an object (Pod templates of every workload kind, CronJob's Job template). */
function containerLists(value: unknown, found: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const v of value) containerLists(v, found);
  else if (isRecord(value))
    for (const [key, v] of Object.entries(value)) {
      if ((key === 'containers' || key === 'initContainers') && Array.isArray(v)) found.push(...v);
      else containerLists(v, found);
    }
  return found;
}

/**
 * No Secret on a process's command line: the kubelet expands `$(VAR)` in `command`/`args` before it starts the
 * container, so a Secret's value would sit in argv (`ps`, /proc/<pid>/cmdline, audit logs, the container's spec on
 * the node). Mount the Secret as a file, or read the env inside the process.
 */
export const secretsOffCommandLine: Rule = (ctx) =>
  ctx.objects.flatMap((o) =>
    containerLists(o).flatMap((c) => {
      if (!isRecord(c)) return [];
      const env = Array.isArray(c.env) ? c.env.filter(isRecord) : [];
      const fromSecret = new Map<string, string>();
      const plain = new Set<string>();
      for (const e of env) {
        const name = str(e.name);
        if (name === undefined) continue;
        const ref = at(e, 'valueFrom', 'secretKeyRef');
        if (isRecord(ref)) fromSecret.set(name, `Secret ${str(ref.name)} key ${str(ref.key)}`);
        else plain.add(name);
      }
      const envFromSecret = (Array.isArray(c.envFrom) ? c.envFrom : [])
        .map((e) => str(at(e, 'secretRef', 'name')))
        .find((name) => name !== undefined);
      const line = [c.command, c.args].flatMap((l) =>
        Array.isArray(l) ? l.filter((a): a is string => typeof a === 'string') : [],
      );
      const names = new Set(
        line.flatMap((arg) =>
          [...arg.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1] ?? ''),
        ),
      );
      return [...names].flatMap((name) => {
        const source =
          fromSecret.get(name) ??
          (envFromSecret !== undefined && !plain.has(name) ? `Secret ${envFromSecret} (envFrom)` : undefined);
        const container = str(c.name) === undefined ? 'its container' : `container ${str(c.name)}`;
        return source === undefined
          ? []
          : [
              `${describe(o)} puts $(${name}), ${source}, on the command line of ${container}: mount the Secret as a file instead`,
            ];
      });
    }),
  );

export const RULES = {
  triggerDelivery,
  referencesExist,
  brokerSetup,
  noReplyLoops,
  imagesMatchFunctions,
  noSecretLiterals,
  deadLetterSinkWarm,
  consumerTimeout,
  retryOutlastsLock,
  deadLetterExchangeExists,
  deadLetterSinkAddress,
  functionServices,
  pinnedImages,
  environment,
  publicEntry,
  noPublicEventEndpoint,
  networkPolicies,
  gatewayRoutes,
  rootCredentialsStayHome,
  secretsOffCommandLine,
  crossNamespaceReferences,
  highAvailability,
} as const satisfies Record<string, Rule>;

export function checkRules(ctx: RuleContext): string[] {
  return Object.values(RULES).flatMap((rule) => rule(ctx));
}
