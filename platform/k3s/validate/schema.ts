/**
 * Every rendered object against its upstream schema, through platform/manifests' schemas with `require`: a kind
 * with a CRD (Knative, eventing-rabbitmq, RabbitMQ, KEDA …) is checked against the pinned CRD (CRD_DIR, the
 * per-machine cache, or the pinned release file, fetched once); Kubernetes core kinds against kubernetes-models.
 * An object with no schema is an error: nothing reaches the cluster unchecked.
 */
import { type KubeObject, loadSchemas, type SchemaOptions, type Schemas } from '../../manifests/index.ts';

export interface SchemaValidator {
  /** Empty when the object is valid; otherwise one line per problem, prefixed with the object. */
  validate(object: KubeObject): Promise<string[]>;
  /** Where each kind's schema came from (`CRD <file>`, `kubernetes-models` …), for the tests and the docs. */
  sources(): Promise<ReadonlyMap<string, string>>;
}

/** `make check-manifests` and the tests: schemas required, a missing CRD fetched from the pinned release. */
export const DEPLOY_SCHEMAS: SchemaOptions = { require: true, download: true };

export function createSchemaValidator(options: SchemaOptions = DEPLOY_SCHEMAS): SchemaValidator {
  const loaded = new Map<string, Promise<Schemas>>();
  const schemasOf = (object: KubeObject): Promise<Schemas> => {
    const key = `${object.apiVersion}/${object.kind}`;
    let schemas = loaded.get(key);
    if (schemas === undefined) {
      schemas = loadSchemas([object], options);
      loaded.set(key, schemas);
    }
    return schemas;
  };
  return {
    async validate(object) {
      const where = `${object.kind}/${object.metadata.name} (${object.apiVersion})`;
      return (await schemasOf(object)).validate(object).map((p) => `${where}: ${p}`);
    },
    async sources() {
      const all = new Map<string, string>();
      for (const schemas of loaded.values()) for (const [k, v] of (await schemas).sources) all.set(k, v);
      return all;
    },
  };
}
