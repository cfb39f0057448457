/**
 * Broker (`eventing.knative.dev/v1`) of class RabbitMQBroker and its RabbitmqBrokerConfig
 * (`eventing.knative.dev/v1alpha1`), as knative.dev/eventing knative-v1.22.2 and eventing-rabbitmq
 * knative-v1.22.1 validate and default them:
 * - `BrokerSpec.SetDefaults`: a Broker without `spec.delivery` gets the cluster's config-br-defaults delivery
 *   (stock: retry 10, exponential, PT0.2S, no dead-letter sink); `spec.config.namespace` defaults to the Broker's.
 * - `RabbitBroker.Validate`: `spec.config` is required, a RabbitmqCluster (rabbitmq.com/v1beta1) or a
 *   RabbitmqBrokerConfig (eventing.knative.dev/v1alpha1).
 * - RabbitmqBrokerConfig: `queueType` quorum (CRD default) or classic; `rabbitmqClusterReference` needs a name or
 *   a connectionSecret, not both; its namespace defaults to the config's.
 */
import { type DeliverySpec, readDelivery } from './delivery.ts';
import type { ObjectMeta, ObjectReader } from './object-reader.ts';

export const BROKER_CLASS = 'RabbitMQBroker';
export const BROKER_CLASS_ANNOTATION = 'eventing.knative.dev/broker.class';

export const QUEUE_TYPE = { quorum: 'quorum', classic: 'classic' } as const;
export type QueueType = (typeof QUEUE_TYPE)[keyof typeof QUEUE_TYPE];

/** config-br-defaults `clusterDefault.delivery` of a stock Knative Eventing 1.22 (config/core/configmaps). */
export const STOCK_BROKER_DELIVERY: DeliverySpec = Object.freeze({
  retry: 10,
  backoffPolicy: 'exponential',
  backoffDelayMs: 200,
});

export interface BrokerConfigRef {
  readonly apiVersion: string;
  readonly kind: 'RabbitmqBrokerConfig' | 'RabbitmqCluster';
  readonly name: string;
  readonly namespace: string;
}

export interface Broker extends ObjectMeta {
  readonly kind: 'Broker';
  readonly brokerClass: string;
  readonly config: BrokerConfigRef;
  /** As written, or STOCK_BROKER_DELIVERY when the manifest has none (then `deliveryDefaulted`). */
  readonly delivery: DeliverySpec;
  readonly deliveryDefaulted: boolean;
}

export interface ClusterReference {
  readonly name: string | undefined;
  readonly namespace: string;
  readonly connectionSecret: string | undefined;
}

export interface RabbitmqBrokerConfig extends ObjectMeta {
  readonly kind: 'RabbitmqBrokerConfig';
  readonly queueType: QueueType;
  readonly vhost: string | undefined;
  readonly rabbitmqClusterReference: ClusterReference;
}

const CONFIG_KINDS: Readonly<Record<string, string>> = {
  RabbitmqBrokerConfig: 'eventing.knative.dev/v1alpha1',
  RabbitmqCluster: 'rabbitmq.com/v1beta1',
};

export function readClusterReference(
  r: ObjectReader,
  raw: unknown,
  field: string,
): ClusterReference | undefined {
  const ref = r.object(field, raw, true);
  if (ref === undefined) return undefined;
  const name = r.string(`${field}.name`, ref.name);
  const secret = r.object(`${field}.connectionSecret`, ref.connectionSecret);
  const connectionSecret =
    secret === undefined ? undefined : r.string(`${field}.connectionSecret.name`, secret.name, true);
  // utils.ValidateRabbitMQClusterReference
  if (name === undefined && secret === undefined)
    r.problem(`${field}.name`, 'is required (or a connectionSecret)');
  if (name !== undefined && secret !== undefined)
    r.problem(`${field}.connectionSecret`, 'must not be set with a name');
  return {
    name,
    namespace: r.string(`${field}.namespace`, ref.namespace) ?? r.meta.namespace,
    connectionSecret,
  };
}

export function readBroker(r: ObjectReader): Broker | undefined {
  const brokerClass = r.meta.annotations[BROKER_CLASS_ANNOTATION];
  if (brokerClass !== BROKER_CLASS) {
    r.problem(
      `annotation ${BROKER_CLASS_ANNOTATION}`,
      `must be ${BROKER_CLASS} (got ${String(brokerClass)})`,
    );
  }
  const config = r.object('spec.config', r.get('spec', 'config'));
  let configRef: BrokerConfigRef | undefined;
  if (config === undefined) r.problem('spec.config', 'is required by the RabbitMQ broker webhook');
  else {
    const kind = r.string('spec.config.kind', config.kind, true);
    const apiVersion = r.string('spec.config.apiVersion', config.apiVersion, true);
    const name = r.string('spec.config.name', config.name, true);
    if (kind !== undefined && apiVersion !== undefined && CONFIG_KINDS[kind] !== apiVersion) {
      r.problem(
        'spec.config',
        'must be a RabbitmqBrokerConfig (eventing.knative.dev/v1alpha1) or a RabbitmqCluster (rabbitmq.com/v1beta1)',
      );
    } else if (kind !== undefined && apiVersion !== undefined && name !== undefined) {
      configRef = {
        apiVersion,
        kind: kind as BrokerConfigRef['kind'],
        name,
        namespace: r.string('spec.config.namespace', config.namespace) ?? r.meta.namespace,
      };
    }
  }
  const written = readDelivery(r, r.get('spec', 'delivery'), 'spec.delivery');
  if (written === undefined) {
    r.warn(
      'spec.delivery',
      'is not set: a stock cluster defaults it (config-br-defaults: retry 10, exponential, PT0.2S) with no dead-letter sink, and a RabbitMQ Broker spec is immutable',
    );
  }
  if (r.problemCount > 0 || configRef === undefined) return undefined;
  return Object.freeze({
    kind: 'Broker',
    ...r.meta,
    brokerClass: BROKER_CLASS,
    config: configRef,
    delivery: written ?? STOCK_BROKER_DELIVERY,
    deliveryDefaulted: written === undefined,
  });
}

export function readRabbitmqBrokerConfig(r: ObjectReader): RabbitmqBrokerConfig | undefined {
  const raw = r.get('spec', 'queueType') ?? QUEUE_TYPE.quorum;
  let queueType: QueueType = QUEUE_TYPE.quorum;
  if (raw === QUEUE_TYPE.quorum || raw === QUEUE_TYPE.classic) queueType = raw;
  else r.problem('spec.queueType', `must be quorum or classic (got ${JSON.stringify(raw)})`);
  const ref = readClusterReference(
    r,
    r.get('spec', 'rabbitmqClusterReference'),
    'spec.rabbitmqClusterReference',
  );
  const vhost = r.string('spec.vhost', r.get('spec', 'vhost'));
  if (r.problemCount > 0 || ref === undefined) return undefined;
  return Object.freeze({
    kind: 'RabbitmqBrokerConfig',
    ...r.meta,
    queueType,
    vhost,
    rabbitmqClusterReference: ref,
  });
}
