/**
 * Validates every rendered object against a schema: Kubernetes core through kubernetes-models, Knative through
 * @kubernetes-models/knative, and the CRDs those packages lack (RabbitmqCluster, RabbitmqBrokerConfig,
 * RabbitmqSource, …) through the JSON Schemas in platform/k3s/schemas/, extracted from the pinned upstream
 * CRDs. An object with no schema is an error: nothing reaches the cluster unchecked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { group, isRecord, type KubeObject } from './manifest.ts';

const SCHEMA_DIR = join(import.meta.dirname, '..', 'schemas');

interface ModelClass {
  new (data: unknown): { validate(): void };
}

export interface SchemaValidator {
  /** Empty when the object is valid; otherwise one line per problem, prefixed with the object. */
  validate(object: KubeObject): Promise<string[]>;
  /** The apiVersion/kind pairs covered by the hand-kept JSON Schemas. */
  readonly crdKinds: readonly string[];
}

/**
 * Knative accepts probes without a port (Serving defaults it to the container's port); the models reuse the
 * core HTTPGetAction/TCPSocketAction schemas, which require one. Fill it in as Serving's defaulting does.
 */
export function withKnativeDefaults(object: KubeObject): KubeObject {
  if (object.kind !== 'Service' || group(object.apiVersion) !== 'serving.knative.dev') return object;
  const copy = structuredClone(object) as KubeObject & {
    spec?: { template?: { spec?: { containers?: unknown } } };
  };
  const containers = copy.spec?.template?.spec?.containers;
  if (!Array.isArray(containers)) return copy;
  for (const container of containers) {
    if (!isRecord(container)) continue;
    const ports = container.ports;
    const port = Array.isArray(ports) && isRecord(ports[0]) ? ports[0].containerPort : 8080;
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const p = container[probe];
      if (!isRecord(p)) continue;
      for (const handler of ['httpGet', 'tcpSocket', 'grpc']) {
        const h = p[handler];
        if (isRecord(h) && h.port === undefined) h.port = port;
      }
    }
  }
  return copy;
}

export function createSchemaValidator(schemaDir = SCHEMA_DIR): SchemaValidator {
  // strict: false — the CRD-derived schemas carry `default` and x-sluice-* annotations.
  const ajv = new Ajv({ allErrors: true, strict: false });
  const crd = new Map<string, ValidateFunction>();
  for (const file of readdirSync(schemaDir).filter((f) => f.endsWith('.json'))) {
    const schema: unknown = JSON.parse(readFileSync(join(schemaDir, file), 'utf8'));
    if (!isRecord(schema)) continue;
    const key = `${String(schema['x-sluice-apiVersion'])}/${String(schema['x-sluice-kind'])}`;
    crd.set(key, ajv.compile(schema));
  }
  const models = new Map<string, ModelClass | null>();

  const loadModel = async (apiVersion: string, kind: string): Promise<ModelClass | null> => {
    const key = `${apiVersion}/${kind}`;
    if (models.has(key)) return models.get(key) ?? null;
    const g = group(apiVersion);
    const candidates = g.endsWith('knative.dev')
      ? [`@kubernetes-models/knative/${apiVersion}/${kind}`]
      : [`kubernetes-models/${apiVersion}/${kind}`];
    let found: ModelClass | null = null;
    for (const specifier of candidates) {
      try {
        const mod = (await import(specifier)) as Record<string, unknown>;
        const model = mod[kind];
        if (typeof model === 'function') found = model as ModelClass;
      } catch {
        // not a kind this package knows
      }
    }
    models.set(key, found);
    return found;
  };

  return {
    crdKinds: [...crd.keys()],
    async validate(object) {
      const where = `${object.kind}/${object.metadata.name} (${object.apiVersion})`;
      const jsonSchema = crd.get(`${object.apiVersion}/${object.kind}`);
      if (jsonSchema !== undefined) {
        if (jsonSchema(object)) return [];
        return (jsonSchema.errors ?? []).map((e) => {
          const extra =
            isRecord(e.params) && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : '';
          return `${where}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
        });
      }
      const model = await loadModel(object.apiVersion, object.kind);
      if (model === null) return [`${where}: no schema for this kind (add one to platform/k3s/schemas/)`];
      try {
        new model(withKnativeDefaults(object)).validate();
        return [];
      } catch (err) {
        return [`${where}: ${err instanceof Error ? err.message : String(err)}`];
      }
    },
  };
}
