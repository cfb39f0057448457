/**
 * The one way manifests are read: each object is validated once against its upstream schema (schemas.ts), then
 * read by its kind's reader into a typed, frozen object with upstream's defaults applied. Kinds no reader models
 * (Namespaces, StatefulSets … of a rendered overlay) are schema-checked and kept as they are.
 */
import { type Broker, type RabbitmqBrokerConfig, readBroker, readRabbitmqBrokerConfig } from './broker.ts';
import {
  type KubeObject,
  type ManifestDocument,
  ManifestError,
  type ManifestText,
  parseDocuments,
  readManifestFiles,
} from './documents.ts';
import { type KnativeService, readKnativeService } from './knative-service.ts';
import { type Findings, ObjectReader } from './object-reader.ts';
import { readScaledObject, type ScaledObject } from './scaled-object.ts';
import { loadSchemas, type SchemaOptions, type Schemas } from './schemas.ts';
import { type PingSource, type RabbitmqSource, readPingSource, readRabbitmqSource } from './sources.ts';
import { readTrigger, type Trigger } from './trigger.ts';

export const KIND = {
  service: { apiVersion: 'serving.knative.dev/v1', kind: 'Service' },
  broker: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker' },
  trigger: { apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger' },
  brokerConfig: { apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'RabbitmqBrokerConfig' },
  rabbitmqSource: { apiVersion: 'sources.knative.dev/v1alpha1', kind: 'RabbitmqSource' },
  pingSource: { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource' },
  scaledObject: { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject' },
} as const;

export interface ManifestSet {
  readonly services: readonly KnativeService[];
  readonly brokers: readonly Broker[];
  readonly triggers: readonly Trigger[];
  readonly brokerConfigs: readonly RabbitmqBrokerConfig[];
  readonly rabbitmqSources: readonly RabbitmqSource[];
  readonly pingSources: readonly PingSource[];
  readonly scaledObjects: readonly ScaledObject[];
  /** Objects of kinds no reader models, schema-checked only. */
  readonly others: readonly ManifestDocument[];
  /** Things a cluster accepts that do not do what they seem to: logged by `make dev`, refused by the deploy check. */
  readonly warnings: readonly string[];
}

export interface ReadOptions {
  /** Loaded schemas; without them, only the readers' own checks run. */
  readonly schemas?: Schemas;
}

const is = (o: KubeObject, k: { apiVersion: string; kind: string }) =>
  o.apiVersion === k.apiVersion && o.kind === k.kind;

/** Reads what it can and returns the problems instead of throwing (the deploy check reports them all). */
export function collectManifests(
  docs: readonly ManifestDocument[],
  options: ReadOptions = {},
): { readonly set: ManifestSet; readonly problems: readonly string[] } {
  const findings: Findings = { problems: [], warnings: [] };
  const set = {
    services: [] as KnativeService[],
    brokers: [] as Broker[],
    triggers: [] as Trigger[],
    brokerConfigs: [] as RabbitmqBrokerConfig[],
    rabbitmqSources: [] as RabbitmqSource[],
    pingSources: [] as PingSource[],
    scaledObjects: [] as ScaledObject[],
    others: [] as ManifestDocument[],
    warnings: findings.warnings,
  };
  for (const doc of docs) {
    const o = doc.object;
    const schemaProblems = options.schemas?.validate(o) ?? [];
    if (schemaProblems.length > 0) {
      for (const p of schemaProblems)
        findings.problems.push(`${doc.file}: ${o.kind} ${o.metadata.name}: ${p}`);
      continue;
    }
    const r = new ObjectReader(doc, findings);
    const push = <T>(list: T[], value: T | undefined) => {
      if (value !== undefined) list.push(value);
    };
    if (is(o, KIND.service)) push(set.services, readKnativeService(r));
    else if (is(o, KIND.broker)) push(set.brokers, readBroker(r));
    else if (is(o, KIND.trigger)) push(set.triggers, readTrigger(r));
    else if (is(o, KIND.brokerConfig)) push(set.brokerConfigs, readRabbitmqBrokerConfig(r));
    else if (is(o, KIND.rabbitmqSource)) push(set.rabbitmqSources, readRabbitmqSource(r));
    else if (is(o, KIND.pingSource)) push(set.pingSources, readPingSource(r));
    else if (is(o, KIND.scaledObject)) push(set.scaledObjects, readScaledObject(r));
    else set.others.push(doc);
  }
  return { set, problems: findings.problems };
}

/** Reads every object; throws ManifestError listing every problem of every file. */
export function readManifests(docs: readonly ManifestDocument[], options: ReadOptions = {}): ManifestSet {
  const { set, problems } = collectManifests(docs, options);
  if (problems.length > 0) throw new ManifestError(problems);
  return set;
}

/** The schemas of every kind `docs` holds (see schemas.ts for which schema a kind gets). */
export function schemasFor(docs: readonly ManifestDocument[], options: SchemaOptions = {}): Promise<Schemas> {
  return loadSchemas(
    docs.map((d) => d.object),
    options,
  );
}

/** Parses texts, loads their schemas, reads them; throws ManifestError with every problem. */
export async function loadManifests(
  texts: readonly ManifestText[],
  options: SchemaOptions = {},
): Promise<ManifestSet> {
  const problems: string[] = [];
  const docs = parseDocuments(texts, problems);
  if (problems.length > 0) throw new ManifestError(problems);
  return readManifests(docs, { schemas: await schemasFor(docs, options) });
}

/** Every manifest file under a folder (kustomization.yaml aside), read as `loadManifests` does. */
export async function loadManifestDir(dir: string, options: SchemaOptions = {}): Promise<ManifestSet> {
  return loadManifests(await readManifestFiles(dir), options);
}
