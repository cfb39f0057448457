/**
 * The eventing manifests the cluster applies (eventing/manifests/), as the local broker runs them: every object is
 * read by the shared readers of platform/manifests (validated against its upstream schema, defaulted as upstream
 * defaults it), then put together the way `make dev` needs: one Broker with its RabbitmqBrokerConfig resolved, the
 * Triggers of that Broker, the RabbitmqSources. Every problem names its file, object and field.
 *
 * Delivery follows the RabbitMQ trigger reconciler: a Trigger's `spec.delivery` replaces the Broker's entirely
 * (dead-letter sink included); a Broker without one has the stock cluster default (platform/manifests/broker.ts).
 */
import {
  BACKOFF_POLICY,
  type BackoffPolicy,
  type Broker,
  type DeliverySpec,
  type Destination,
  type KReference,
  loadSchemas,
  type ManifestDocument,
  ManifestError,
  type ManifestText,
  type PingSource,
  parseDocuments,
  QUEUE_TYPE,
  type QueueType,
  type RabbitmqSource,
  type ReadOptions,
  readManifestFiles,
  readManifests,
  type ScaledObject,
  type SchemaOptions,
  type Trigger,
} from '../../platform/manifests/index.ts';

export {
  BACKOFF_POLICY,
  type BackoffPolicy,
  type DeliverySpec,
  type Destination,
  type KReference,
  ManifestError,
  QUEUE_TYPE,
  type QueueType,
};

const HEADING = 'invalid eventing manifests';

/** The Broker with what the local broker takes from its RabbitmqBrokerConfig (or RabbitmqCluster). */
export interface BrokerManifest extends Broker {
  readonly queueType: QueueType;
  readonly vhost: string | undefined;
  readonly clusterName: string | undefined;
}

export type TriggerManifest = Trigger;

/** A ScaledObject whose target is the dispatcher Deployment eventing-rabbitmq runs for one Trigger. */
export interface DispatcherScaling {
  readonly scaledObject: ScaledObject;
  readonly trigger: string;
}

/** eventing-rabbitmq 1.22.1 `MakeDispatcherDeployment`: a Trigger's dispatcher Deployment is `<trigger>-dispatcher`. */
export const dispatcherDeploymentOf = (trigger: string): string => `${trigger}-dispatcher`;
export type SourceManifest = RabbitmqSource;

export interface EventingManifests {
  readonly broker: BrokerManifest;
  readonly triggers: readonly TriggerManifest[];
  readonly sources: readonly SourceManifest[];
  /** Fired on their schedule by the local broker (ping-source.ts). */
  readonly pingSources: readonly PingSource[];
  /** KEDA ScaledObjects on a Trigger's dispatcher (`<trigger>-dispatcher`), which the local broker scales (queue-scaler.ts). */
  readonly scaledObjects: readonly DispatcherScaling[];
  /** Things a cluster accepts but that do not do what they seem to (logged at start-up). */
  readonly warnings: readonly string[];
}

/** Reads every *.yaml under `dir` (broker.yaml, each system's triggers/ and sources/), sorted by path. */
export async function loadEventingManifests(
  dir: string,
  options: SchemaOptions = {},
): Promise<EventingManifests> {
  const texts = await readManifestFiles(dir);
  const problems: string[] = [];
  const docs = parseDocuments(texts, problems);
  if (problems.length > 0) throw new ManifestError(problems, HEADING);
  return assemble(docs, {
    schemas: await loadSchemas(
      docs.map((d) => d.object),
      options,
    ),
  });
}

/** Parses and checks manifest texts (structural checks only: tests, benchmarks); throws ManifestError. */
export function parseEventingManifests(
  texts: readonly ManifestText[],
  options: ReadOptions = {},
): EventingManifests {
  const problems: string[] = [];
  const docs = parseDocuments(texts, problems);
  if (problems.length > 0) throw new ManifestError(problems, HEADING);
  return assemble(docs, options);
}

function assemble(docs: readonly ManifestDocument[], options: ReadOptions): EventingManifests {
  let set: ReturnType<typeof readManifests>;
  try {
    set = readManifests(docs, options);
  } catch (err) {
    if (err instanceof ManifestError) throw new ManifestError(err.problems, HEADING);
    throw err;
  }
  const problems: string[] = [];
  const warnings = [...set.warnings];
  for (const o of set.services) {
    warnings.push(`${o.file}: ${o.kind} ${o.name}: not read by the local broker (it belongs elsewhere)`);
  }
  const scaledObjects: DispatcherScaling[] = [];
  for (const o of set.scaledObjects) {
    const ref = o.scaleTargetRef;
    const trigger = set.triggers.find((t) => dispatcherDeploymentOf(t.name) === ref.name);
    if (ref.kind !== 'Deployment' || trigger === undefined) {
      warnings.push(
        `${o.file}: ScaledObject ${o.name}: targets ${ref.kind} ${ref.name}, not a Trigger's dispatcher (<trigger>-dispatcher): not run locally`,
      );
    } else if (!o.triggers.some((t) => t.type === 'rabbitmq')) {
      warnings.push(`${o.file}: ScaledObject ${o.name}: no rabbitmq trigger: not run locally`);
    } else scaledObjects.push({ scaledObject: o, trigger: trigger.name });
  }
  for (const d of set.others) {
    // KEDA's credentials for the management API: the local broker measures its own queues.
    if (d.object.kind === 'TriggerAuthentication') continue;
    warnings.push(`${d.file}: ${d.object.kind} ${d.object.metadata.name}: not read by the local broker`);
  }

  const [b, ...more] = set.brokers;
  if (b === undefined || more.length > 0) {
    problems.push(
      b === undefined
        ? 'no Broker (eventing.knative.dev/v1) found: expected broker.yaml'
        : `${set.brokers.length} Brokers found (${set.brokers.map((x) => `${x.file}:${x.name}`).join(', ')}); the local platform runs one`,
    );
  }
  let broker: BrokerManifest | undefined;
  if (b !== undefined) {
    const where = `${b.file}: Broker ${b.name}`;
    if (b.config.kind === 'RabbitmqCluster') {
      broker = { ...b, queueType: QUEUE_TYPE.quorum, vhost: undefined, clusterName: b.config.name };
    } else {
      const config = set.brokerConfigs.find(
        (c) => c.name === b.config.name && c.namespace === b.config.namespace,
      );
      if (config === undefined) {
        problems.push(
          `${where}: spec.config names RabbitmqBrokerConfig ${b.config.name}, which is not defined`,
        );
      } else {
        broker = {
          ...b,
          queueType: config.queueType,
          vhost: config.vhost,
          clusterName: config.rabbitmqClusterReference.name,
        };
      }
    }
  }
  const names = new Set<string>();
  for (const t of set.triggers) {
    if (names.has(t.name)) problems.push(`${t.file}: Trigger ${t.name} is defined twice`);
    names.add(t.name);
    if (b !== undefined && (t.broker !== b.name || t.namespace !== b.namespace)) {
      problems.push(
        `${t.file}: Trigger ${t.name} names broker ${t.namespace}/${t.broker}, but the Broker is ${b.namespace}/${b.name}`,
      );
    }
  }
  for (const s of [...set.rabbitmqSources, ...set.pingSources]) {
    const ref = s.sink.ref;
    if (ref?.kind === 'Broker' && b !== undefined && ref.name !== b.name) {
      problems.push(`${s.file}: ${s.kind} ${s.name} sinks into Broker ${ref.name}, which is not defined`);
    }
  }
  if (problems.length > 0 || broker === undefined) throw new ManifestError(problems, HEADING);
  return {
    broker,
    triggers: set.triggers,
    sources: set.rabbitmqSources,
    pingSources: set.pingSources,
    scaledObjects,
    warnings,
  };
}
