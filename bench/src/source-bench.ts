/**
 * What the source paths of `make bench` share (fleet-bench.ts, streams-bench.ts): their manifests, a RabbitmqSource
 * on the run's own exchange and queue (predeclared, classic: bench-processes.ts `declareSourceQueue`) → the broker →
 * one Trigger → the function under test, with what it cannot take going to the dead-letter sink. Pure.
 */
import { type EventingManifests, parseEventingManifests } from '../../eventing/src/index.ts';
import { brokerYaml } from '../../eventing/src/testing/manifests.ts';

/** The run's: where the load publishes, and the source's and the trigger's parallelism. */
export interface SourceBenchRun {
  readonly exchange: string;
  readonly queue: string;
  readonly parallelism: number;
}

export interface SourceBenchPath {
  /** The RabbitmqSource's name. */
  readonly source: string;
  /** The type the Trigger lets through. */
  readonly eventType: string;
  /** The Knative Service under test; its Trigger is `bench-<subscriber>`. */
  readonly subscriber: string;
  readonly deadLetterSink: string;
}

export function sourceBenchManifests(o: SourceBenchRun & SourceBenchPath): EventingManifests {
  const source = `
apiVersion: sources.knative.dev/v1alpha1
kind: RabbitmqSource
metadata: { name: ${o.source}, namespace: sluice }
spec:
  rabbitmqClusterReference: { name: rabbitmq, namespace: sluice }
  rabbitmqResourcesConfig:
    predeclared: true
    exchangeName: ${o.exchange}
    queueName: ${o.queue}
    parallelism: ${o.parallelism}
  delivery: { retry: 10, backoffPolicy: exponential, backoffDelay: PT0.2S }
  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default, namespace: sluice } }
`;
  const trigger = `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: bench-${o.subscriber}
  namespace: sluice
  annotations: { rabbitmq.eventing.knative.dev/parallelism: "${o.parallelism}" }
spec:
  broker: default
  filter: { attributes: { type: ${o.eventType} } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${o.subscriber} } }
  delivery:
    retry: 10
    backoffPolicy: exponential
    backoffDelay: PT0.2S
    timeout: PT30S
    deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${o.deadLetterSink} } }
`;
  return parseEventingManifests([
    { file: 'broker.yaml', text: brokerYaml({ queueType: 'classic', deadLetterSink: o.deadLetterSink }) },
    { file: `sources/${o.source}.yaml`, text: source },
    { file: `triggers/bench-${o.subscriber}.yaml`, text: trigger },
  ]);
}
