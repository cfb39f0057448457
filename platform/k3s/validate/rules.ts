/**
 * The project's own rules over a rendered overlay — what a schema cannot say but the RabbitMQ broker and
 * Knative need to behave as docs/deploy.md describes. Each rule is a pure function of the objects (and of their
 * typed reading by platform/manifests, `ctx.manifests`: durations, delivery, defaults are read there, once) and
 * returns problems as sentences naming the object; an empty list means the overlay passes.
 */
import {
  collectManifests,
  type DeliverySpec,
  findReplyLoops,
  type ManifestSet,
  type ObjectMeta,
  type Schemas,
} from '../../manifests/index.ts';
import { at, describe, group, isKnativeService, isRecord, type KubeObject, str } from './manifest.ts';

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
    for (const t of ctx.manifests.triggers.filter((x) => x.namespace === cluster.metadata.namespace)) {
      const needed = longestDeliveryMs(t.delivery);
      if (needed >= limit)
        problems.push(`${named(t)} may hold a message ${needed} ms, not below consumer_timeout ${limit} ms`);
    }
  }
  return problems;
};

/** Knative Services: probes on the runtime's health paths, resources, a concurrency target, metrics port. */
export const functionServices: Rule = (ctx) =>
  kservices(ctx).flatMap((s) => {
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
    const port = String(at(c, 'ports', 0, 'containerPort') ?? '8080');
    if (at(annotations, 'prometheus.io/scrape') !== 'true' || at(annotations, 'prometheus.io/port') !== port)
      problems.push(
        `${describe(s)} must be annotated prometheus.io/scrape "true", prometheus.io/port "${port}"`,
      );
    const envFrom = at(c, 'envFrom');
    if (!Array.isArray(envFrom) || !envFrom.some((e) => at(e, 'secretRef', 'name') === 'sluice-function-env'))
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

/** One Namespace per overlay, with a ResourceQuota and a LimitRange; every namespaced object inside it. */
export const environment: Rule = (ctx) => {
  const namespaces = ctx.objects.filter((o) => o.kind === 'Namespace');
  if (namespaces.length !== 1) return [`an overlay has exactly one Namespace, found ${namespaces.length}`];
  const ns = namespaces[0]?.metadata.name;
  const problems: string[] = [];
  for (const kind of ['ResourceQuota', 'LimitRange'])
    if (!ctx.objects.some((o) => o.kind === kind && o.metadata.namespace === ns))
      problems.push(`no ${kind} in ${ns}`);
  for (const o of ctx.objects) {
    if (CLUSTER_SCOPED.has(o.kind)) continue;
    if (o.metadata.namespace !== ns) problems.push(`${describe(o)} is not in the overlay's namespace ${ns}`);
  }
  return problems;
};

export const RULES = {
  triggerDelivery,
  referencesExist,
  brokerSetup,
  noReplyLoops,
  imagesMatchFunctions,
  noSecretLiterals,
  deadLetterSinkWarm,
  consumerTimeout,
  functionServices,
  pinnedImages,
  environment,
} as const satisfies Record<string, Rule>;

export function checkRules(ctx: RuleContext): string[] {
  return Object.values(RULES).flatMap((rule) => rule(ctx));
}
