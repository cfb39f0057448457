/**
 * What the operators would create, for the kinds nothing reconciles on the check's control plane (no Knative, no
 * RabbitMQ operators, no webhooks): a Deployment per Knative Service, a StatefulSet per RabbitmqCluster, and the
 * Deployments eventing-rabbitmq runs beside a Broker, its Triggers and RabbitmqSources; shaped
 * as upstream shapes them where it counts for admission — containers and their resources, replicas, service
 * account, priority and runtime class, PVCs. Created in the overlay's namespace, their Pods go through the same
 * ResourceQuota, LimitRange, ServiceAccount and Priority admission as everything else, next to the real workloads.
 *
 * Upstream followed: knative.dev/serving knative-v1.22.1 `pkg/reconciler/revision/resources/{deploy,queue}.go`
 * and `pkg/deployment/config.go` (queue-proxy: 25m CPU request, nothing else, unless config-deployment or the
 * `queue.sidecar.serving.knative.dev/*` annotations say otherwise) and the KPA's bounds (a revision starts at
 * its initial scale, is raised to min-scale, may grow to max-scale);
 * rabbitmq/cluster-operator v2.22.3 `internal/resource/statefulset.go` (Parallel pods, setup-container
 * 20m/64Mi, PVC `persistence`) and `api/v1beta1/rabbitmqcluster_types.go` (defaults).
 */
import { at, KEDA_DEFAULTS, type KubeObject } from '../../manifests/index.ts';

export const STAND_IN_LABEL = 'sluice.dev/stand-in-for';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** config-autoscaler `initial-scale` (stock 1). */
export const KNATIVE_INITIAL_SCALE = 1;
/** config-deployment `queue-sidecar-cpu-request` (stock 25m); the other queue-proxy resources are unset. */
export const QUEUE_PROXY_CPU_REQUEST = '25m';

const QUEUE_ANNOTATIONS = {
  'cpu-resource-request': ['requests', 'cpu'],
  'cpu-resource-limit': ['limits', 'cpu'],
  'memory-resource-request': ['requests', 'memory'],
  'memory-resource-limit': ['limits', 'memory'],
  'ephemeral-storage-resource-request': ['requests', 'ephemeral-storage'],
  'ephemeral-storage-resource-limit': ['limits', 'ephemeral-storage'],
} as const;

/** The queue-proxy sidecar's resources, as `createQueueResources` computes them with stock config-deployment. */
export function queueProxyResources(templateAnnotations: Readonly<Record<string, string>>): JsonObject {
  const requests: JsonObject = { cpu: QUEUE_PROXY_CPU_REQUEST };
  const limits: JsonObject = {};
  for (const [suffix, [side, resource]] of Object.entries(QUEUE_ANNOTATIONS)) {
    const value = templateAnnotations[`queue.sidecar.serving.knative.dev/${suffix}`];
    if (value !== undefined) (side === 'requests' ? requests : limits)[resource] = value;
  }
  return Object.keys(limits).length === 0 ? { requests } : { requests, limits };
}

function annotationsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value))) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * The most Pods a revision runs: max-scale when bounded (the quota must let the autoscaler get there, or scale-out
 * stops at a FailedCreate), else its start (initial scale, raised to min-scale at once).
 */
export function knativeReplicas(templateAnnotations: Readonly<Record<string, string>>): number {
  const int = (key: string): number | undefined => {
    const raw = templateAnnotations[`autoscaling.knative.dev/${key}`];
    return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
  };
  const start = Math.max(int('initial-scale') ?? KNATIVE_INITIAL_SCALE, int('min-scale') ?? 0);
  return Math.max(start, int('max-scale') ?? 0);
}

const POD_FIELDS_ADMISSION_READS = ['serviceAccountName', 'priorityClassName', 'runtimeClassName'] as const;

/** The Deployment Knative's revision reconciler would create for the Service's first revision. */
export function knativeStandIn(service: KubeObject): KubeObject {
  const name = service.metadata.name;
  const template = obj(at(service, 'spec', 'template'));
  const templateAnnotations = annotationsOf(obj(template.metadata).annotations);
  const spec = obj(template.spec);
  const userContainers = (Array.isArray(spec.containers) ? spec.containers : []).map(obj);
  const containers: Json[] = userContainers.map((c, i) => ({
    // RevisionSpec.SetDefaults: `user-container`, `user-container-<i>` when there are several.
    name: str(c.name) ?? (userContainers.length > 1 ? `user-container-${i}` : 'user-container'),
    image: str(c.image) ?? 'missing-image',
    ...(c.resources === undefined ? {} : { resources: c.resources }),
    ...(c.securityContext === undefined ? {} : { securityContext: c.securityContext }),
  }));
  containers.push({
    name: 'queue-proxy',
    image: 'knative-queue-proxy',
    resources: queueProxyResources(templateAnnotations),
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  });
  const podSpec: JsonObject = { containers };
  for (const field of POD_FIELDS_ADMISSION_READS) if (spec[field] !== undefined) podSpec[field] = spec[field];
  if (spec.securityContext !== undefined) podSpec.securityContext = spec.securityContext;
  const revision = `${name}-00001`;
  return standIn(service, 'Deployment', `${revision}-deployment`, {
    replicas: knativeReplicas(templateAnnotations),
    selector: { matchLabels: { 'serving.knative.dev/revision': revision } },
    template: { metadata: { labels: { 'serving.knative.dev/revision': revision } }, spec: podSpec },
  });
}

/** rabbitmqcluster_types.go kubebuilder defaults, for an object read without the CRD's defaulting. */
const RABBITMQ_DEFAULT_RESOURCES: JsonObject = {
  limits: { cpu: '2000m', memory: '2Gi' },
  requests: { cpu: '1000m', memory: '2Gi' },
};

/** The StatefulSet the RabbitMQ cluster-operator creates for a RabbitmqCluster (`<name>-server`). */
export function rabbitmqStandIn(cluster: KubeObject): KubeObject {
  const name = cluster.metadata.name;
  const spec = obj(at(cluster, 'spec'));
  const persistence = obj(spec.persistence);
  const storage = str(persistence.storage) ?? '10Gi';
  const hasVolume = !/^0+(\.0*)?([KMGTPE]i?)?$/.test(storage);
  const labels = { 'app.kubernetes.io/name': name };
  const pod = {
    metadata: { labels },
    spec: {
      initContainers: [
        {
          name: 'setup-container',
          image: str(spec.image) ?? 'rabbitmq',
          resources: { limits: { cpu: '20m', memory: '64Mi' }, requests: { cpu: '20m', memory: '64Mi' } },
        },
      ],
      containers: [
        {
          name: 'rabbitmq',
          image: str(spec.image) ?? 'rabbitmq',
          resources: spec.resources ?? RABBITMQ_DEFAULT_RESOURCES,
        },
      ],
    },
  };
  const claim = {
    metadata: { name: 'persistence', labels },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage } },
      ...(persistence.storageClassName === undefined
        ? {}
        : { storageClassName: persistence.storageClassName }),
    },
  };
  return standIn(cluster, 'StatefulSet', `${name}-server`, {
    replicas: typeof spec.replicas === 'number' ? spec.replicas : 1,
    podManagementPolicy: 'Parallel',
    serviceName: `${name}-nodes`,
    selector: { matchLabels: labels },
    template: pod,
    ...(hasVolume ? { volumeClaimTemplates: [claim] } : {}),
  });
}

function standIn(owner: KubeObject, kind: string, name: string, spec: JsonObject): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: {
      name,
      ...(owner.metadata.namespace === undefined ? {} : { namespace: owner.metadata.namespace }),
      labels: { [STAND_IN_LABEL]: `${owner.kind}.${owner.apiVersion.split('/')[0]}.${owner.metadata.name}` },
    },
    spec,
  } as unknown as KubeObject;
}

/** eventing-rabbitmq knative-v1.22.1 `utils.GetResourceRequirements`: the annotations set replace the defaults. */
const RABBITMQ_EVENTING_RESOURCE_ANNOTATIONS = {
  'rabbitmq.eventing.knative.dev/cpu-request': ['requests', 'cpu'],
  'rabbitmq.eventing.knative.dev/cpu-limit': ['limits', 'cpu'],
  'rabbitmq.eventing.knative.dev/memory-request': ['requests', 'memory'],
  'rabbitmq.eventing.knative.dev/memory-limit': ['limits', 'memory'],
} as const;

/** Dispatchers and the source adapter: 50m/64Mi, limits 4000m/600Mi; the broker ingress: 50m/32Mi, 1000m/400Mi. */
const DISPATCHER_RESOURCES: JsonObject = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '4000m', memory: '600Mi' },
};
const INGRESS_RESOURCES: JsonObject = {
  requests: { cpu: '50m', memory: '32Mi' },
  limits: { cpu: '1000m', memory: '400Mi' },
};

export function rabbitmqEventingResources(owner: KubeObject, defaults: JsonObject): JsonObject {
  const annotations = owner.metadata.annotations ?? {};
  const requests: JsonObject = {};
  const limits: JsonObject = {};
  let any = false;
  for (const [key, [side, resource]] of Object.entries(RABBITMQ_EVENTING_RESOURCE_ANNOTATIONS)) {
    const value = annotations[key];
    if (value === undefined) continue;
    any = true;
    (side === 'requests' ? requests : limits)[resource] = value;
  }
  return any ? { requests, limits } : defaults;
}

function adapter(owner: KubeObject, name: string, resources: JsonObject, replicas = 1): KubeObject {
  const labels = { 'sluice.dev/stand-in': name };
  return standIn(owner, 'Deployment', name, {
    replicas,
    selector: { matchLabels: labels },
    template: {
      metadata: { labels },
      spec: { containers: [{ name: 'main', image: 'eventing-rabbitmq', resources }] },
    },
  });
}

export const RABBITMQ_BROKER_CLASS = 'RabbitMQBroker';
const isRabbitBroker = (o: KubeObject): boolean =>
  o.kind === 'Broker' &&
  o.apiVersion.startsWith('eventing.knative.dev/') &&
  o.metadata.annotations?.['eventing.knative.dev/broker.class'] === RABBITMQ_BROKER_CLASS;
const hasDeadLetterSink = (o: KubeObject): boolean =>
  at(o, 'spec', 'delivery', 'deadLetterSink') !== undefined;

/**
 * The replicas of a Deployment a KEDA ScaledObject of the overlay scales: its maxReplicaCount (KEDA v2.20.2's
 * default 100 when unset), what the HPA may run — the quota must let it get there, as for a Knative max-scale.
 * Upstream creates the dispatcher with `replicas: 1` and rewrites the whole spec only when its pod template
 * changes (trigger.go `reconcileDeployment`), so between such changes the HPA's count stands.
 */
export function scaledReplicas(
  deployment: string,
  namespace: string | undefined,
  overlay: readonly KubeObject[],
): number | undefined {
  const so = overlay.find(
    (o) =>
      o.kind === 'ScaledObject' &&
      o.apiVersion.startsWith('keda.sh/') &&
      o.metadata.namespace === namespace &&
      (str(at(o, 'spec', 'scaleTargetRef', 'kind')) ?? 'Deployment') === 'Deployment' &&
      at(o, 'spec', 'scaleTargetRef', 'name') === deployment,
  );
  if (so === undefined) return undefined;
  const max = at(so, 'spec', 'maxReplicaCount');
  return typeof max === 'number' ? max : KEDA_DEFAULTS.maxReplicaCount;
}

/**
 * The Deployments eventing-rabbitmq knative-v1.22.1 creates in the object's namespace: per RabbitMQ Broker its
 * ingress and, with a dead-letter sink, its dead-letter dispatcher (`pkg/reconciler/broker`); per Trigger of such
 * a Broker a dispatcher and, with its own dead-letter sink, a second one for its dead-letter queue
 * (`pkg/reconciler/trigger`); per RabbitmqSource its receive adapter (`pkg/reconciler/source`). A dispatcher a
 * KEDA ScaledObject scales runs at its maxReplicaCount (`scaledReplicas`).
 */
export function eventingStandIns(object: KubeObject, overlay: readonly KubeObject[]): KubeObject[] {
  const name = object.metadata.name;
  if (isRabbitBroker(object)) {
    const out = [
      adapter(object, `${name}-broker-ingress`, rabbitmqEventingResources(object, INGRESS_RESOURCES)),
    ];
    if (hasDeadLetterSink(object))
      out.push(
        adapter(object, `${name}-broker-dispatcher`, rabbitmqEventingResources(object, DISPATCHER_RESOURCES)),
      );
    return out;
  }
  if (object.kind === 'Trigger' && object.apiVersion.startsWith('eventing.knative.dev/')) {
    const broker = overlay.find(
      (o) =>
        isRabbitBroker(o) &&
        o.metadata.name === at(object, 'spec', 'broker') &&
        o.metadata.namespace === object.metadata.namespace,
    );
    if (broker === undefined) return [];
    const resources = rabbitmqEventingResources(object, DISPATCHER_RESOURCES);
    const dispatcher = `${name}-dispatcher`;
    const replicas = scaledReplicas(dispatcher, object.metadata.namespace, overlay) ?? 1;
    const out = [adapter(object, dispatcher, resources, replicas)];
    if (hasDeadLetterSink(object)) out.push(adapter(object, `${name}-dlx-dispatcher`, resources));
    return out;
  }
  if (object.kind === 'RabbitmqSource' && object.apiVersion.startsWith('sources.knative.dev/'))
    return [
      adapter(
        object,
        `${name}-rabbitmqsource-adapter`,
        rabbitmqEventingResources(object, DISPATCHER_RESOURCES),
      ),
    ];
  return [];
}

/** The stand-ins for an object (`overlay`: the objects around it), none when its Pods are created here. */
export function standInsFor(object: KubeObject, overlay: readonly KubeObject[] = []): KubeObject[] {
  if (object.kind === 'Service' && object.apiVersion.startsWith('serving.knative.dev/'))
    return [knativeStandIn(object)];
  if (object.kind === 'RabbitmqCluster' && object.apiVersion.startsWith('rabbitmq.com/'))
    return [rabbitmqStandIn(object)];
  return eventingStandIns(object, overlay);
}
