/**
 * The Broker and its RabbitmqBrokerConfig as YAML text, for tests and benchmarks that build their
 * manifests in memory (one place, so every fixture has the shape `eventing/manifests/broker.yaml` has).
 */
export interface TestBrokerOptions {
  /** @default 'quorum' (what the cluster uses); benchmarks compare against classic queues. */
  readonly queueType?: 'quorum' | 'classic';
  /** Knative Service name of the Broker's dead-letter sink; no `delivery` when unset. */
  readonly deadLetterSink?: string;
}

export function brokerYaml(options: TestBrokerOptions = {}): string {
  const delivery =
    options.deadLetterSink === undefined
      ? ''
      : `  delivery:
    retry: 0
    deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${options.deadLetterSink} } }
`;
  return `
apiVersion: eventing.knative.dev/v1alpha1
kind: RabbitmqBrokerConfig
metadata: { name: default-config, namespace: sluice }
spec:
  rabbitmqClusterReference: { name: rabbitmq, namespace: sluice }
  queueType: ${options.queueType ?? 'quorum'}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: sluice
  annotations: { eventing.knative.dev/broker.class: RabbitMQBroker }
spec:
  config: { apiVersion: eventing.knative.dev/v1alpha1, kind: RabbitmqBrokerConfig, name: default-config, namespace: sluice }
${delivery}`;
}
