/**
 * The Broker and its RabbitmqBrokerConfig as YAML text, for tests and benchmarks that build their
 * manifests in memory (one place, so every fixture has the shape `eventing/manifests/broker.yaml` has).
 */
import { type EventingManifests, parseEventingManifests } from '../manifests.ts';

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

export interface TriggerDef {
  readonly name: string;
  readonly filter?: Record<string, string>;
  readonly parallelism?: number;
  /** YAML of spec.delivery without deadLetterSink (added: dead-letter-sink). */
  readonly delivery?: string;
}

const DELIVERY = 'retry: 2\n    backoffPolicy: exponential\n    backoffDelay: PT0.01S\n    timeout: PT5S';

export function contractManifests(triggers: readonly TriggerDef[]): EventingManifests {
  const broker = brokerYaml({ deadLetterSink: 'dead-letter-sink' });
  const texts = [{ file: 'broker.yaml', text: broker }];
  for (const t of triggers) {
    const filter = Object.entries(t.filter ?? {})
      .map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`)
      .join('\n');
    texts.push({
      file: `triggers/${t.name}.yaml`,
      text: `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: ${t.name}
  namespace: sluice
  annotations: { rabbitmq.eventing.knative.dev/parallelism: "${t.parallelism ?? 1}" }
spec:
  broker: default
${filter === '' ? '' : `  filter:\n    attributes:\n${filter}\n`}  subscriber:
    ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${t.name} }
  delivery:
    ${t.delivery ?? DELIVERY}
    deadLetterSink:
      ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter-sink }
`,
    });
  }
  return parseEventingManifests(texts);
}

const noop = (): void => {};
/** A logger that drops everything (tests that assert on behaviour, not on log lines). */
export const quietLog = { debug: noop, info: noop, warn: noop, error: noop };
