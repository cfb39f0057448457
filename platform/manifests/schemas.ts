/**
 * One upstream schema per kind, loaded once, then a synchronous `validate`:
 *
 * | kind                                   | schema                                                          |
 * |----------------------------------------|-----------------------------------------------------------------|
 * | a kind whose CRD is found (crd-sources) | the pinned upstream CRD, made strict (crd-schema.ts)            |
 * | Knative kinds otherwise                | @kubernetes-models/knative (ships with `npm ci`: works offline), |
 * |                                        | after Serving's defaulting (container name, probe port)         |
 * | Kubernetes core kinds                  | kubernetes-models                                               |
 *
 * With `require` (make test, make check-manifests), a kind with a known CRD that cannot be found, or a kind
 * with no schema at all, is a problem; without it (make dev), such a kind is read with the readers'
 * structural checks only.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { extractCrdSchema } from './crd-schema.ts';
import { type CrdLocatorOptions, crdDirOf, findCrd, releaseOf } from './crd-sources.ts';
import { groupOf, isRecord, type KubeObject } from './documents.ts';

export interface SchemaOptions extends CrdLocatorOptions {
  /** A kind without a schema is a problem (make test, make check-manifests). @default false */
  readonly require?: boolean;
}

export interface KindRef {
  readonly apiVersion: string;
  readonly kind: string;
}

export interface Schemas {
  /** Problems of one object, each `<field> <message>` (fields as `spec.template.spec.containers[0].name`). */
  validate(object: KubeObject): string[];
  /** Where each kind's schema came from, for the start-up log and the docs. */
  readonly sources: ReadonlyMap<string, string>;
}

// Parts of a CRD the API server validates itself (or that are huge pod templates): plain objects here.
const FREE_FORM: Readonly<Record<string, readonly string[]>> = {
  'rabbitmq.com/RabbitmqCluster': [
    'spec.override',
    'spec.affinity',
    'spec.tolerations',
    'spec.imagePullSecrets',
    'spec.secretBackend.vault.tls',
    'spec.resources.claims',
  ],
};

interface ModelClass {
  new (data: unknown): { validate(): void };
}

type Check = (object: KubeObject) => string[];

const ajv = new Ajv({ allErrors: true, strict: false });
// Per process: a scaled-down `make dev` compiles each CRD once.
const compiled = new Map<string, ValidateFunction>();

/** `/spec/template/spec/containers/0/name` → `spec.template.spec.containers[0].name` */
export function fieldOf(pointer: string): string {
  return (
    pointer
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce(
        (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path === '' ? part : `${path}.${part}`),
        '',
      ) || '(object)'
  );
}

function ajvProblems(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      return `${fieldOf(`${e.instancePath}/${String(params.additionalProperty)}`)} is not a field of this kind (a typo? the cluster would drop it)`;
    }
    if (e.keyword === 'required') {
      return `${fieldOf(`${e.instancePath}/${String(params.missingProperty)}`)} is required`;
    }
    const allowed = Array.isArray(params.allowedValues) ? ` (${params.allowedValues.join(', ')})` : '';
    return `${fieldOf(e.instancePath)} ${e.message ?? 'is invalid'}${allowed}`;
  });
}

/**
 * Serving's defaulting (RevisionSpec.SetDefaults) before the npm models, which reuse the core Container and
 * Probe schemas: a container without a name gets `user-container`, a probe without a port the container's.
 */
export function withServingDefaults(object: KubeObject): KubeObject {
  if (object.kind !== 'Service' || groupOf(object.apiVersion) !== 'serving.knative.dev') return object;
  const copy = structuredClone(object) as KubeObject & {
    spec?: { template?: { spec?: { containers?: unknown } } };
  };
  const containers = copy.spec?.template?.spec?.containers;
  if (!Array.isArray(containers)) return copy;
  containers.forEach((container, i) => {
    if (!isRecord(container)) return;
    if (container.name === undefined || container.name === '')
      container.name = containers.length === 1 ? 'user-container' : `user-container-${i}`;
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
  });
  return copy;
}

async function npmModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const specifier = groupOf(apiVersion).endsWith('knative.dev')
    ? `@kubernetes-models/knative/${apiVersion}/${kind}`
    : groupOf(apiVersion).includes('.') && !groupOf(apiVersion).endsWith('k8s.io')
      ? undefined
      : `kubernetes-models/${apiVersion}/${kind}`;
  if (specifier === undefined) return undefined;
  try {
    const mod = (await import(specifier)) as Record<string, unknown>;
    const model = mod[kind];
    return typeof model === 'function' ? (model as ModelClass) : undefined;
  } catch {
    return undefined; // not a kind this package knows
  }
}

async function checkFor(
  ref: KindRef,
  options: SchemaOptions,
): Promise<{ check: Check; source: string } | string> {
  const group = groupOf(ref.apiVersion);
  const version = ref.apiVersion.split('/').at(-1) ?? '';
  const key = `${group}/${ref.kind}`;
  const crd = group === '' ? undefined : await findCrd(group, ref.kind, options);
  if (crd !== undefined) {
    const id = `${crd.origin}#${ref.kind}@${version}`;
    let validate = compiled.get(id);
    if (validate === undefined) {
      validate = ajv.compile(extractCrdSchema(crd.crd, version, ['status', ...(FREE_FORM[key] ?? [])]));
      compiled.set(id, validate);
    }
    const fn = validate;
    return { check: (o) => (fn(o) ? [] : ajvProblems(fn.errors)), source: `CRD ${crd.origin}` };
  }
  if (options.require === true && releaseOf(group, ref.kind) !== undefined) {
    return `no CRD for ${ref.kind} (${ref.apiVersion}) in ${crdDirOf(options)} or the cache, and the pinned release could not be fetched (set CRD_DIR)`;
  }
  const model = await npmModel(ref.apiVersion, ref.kind);
  if (model !== undefined) {
    const pkg = group.endsWith('knative.dev') ? '@kubernetes-models/knative' : 'kubernetes-models';
    return {
      check: (o) => {
        try {
          new model(withServingDefaults(o)).validate();
          return [];
        } catch (err) {
          const errors =
            isRecord(err) && Array.isArray(err.errors) ? (err.errors as ErrorObject[]) : undefined;
          return errors === undefined
            ? [String(err instanceof Error ? err.message : err)]
            : ajvProblems(errors);
        }
      },
      source: pkg,
    };
  }
  return options.require === true ? `no schema for ${ref.kind} (${ref.apiVersion})` : '';
}

/** Loads the schema of every kind given (once each); `validate` is then synchronous. */
export async function loadSchemas(kinds: Iterable<KindRef>, options: SchemaOptions = {}): Promise<Schemas> {
  const checks = new Map<string, Check | string>();
  const sources = new Map<string, string>();
  for (const ref of kinds) {
    const key = `${ref.apiVersion}/${ref.kind}`;
    if (checks.has(key)) continue;
    const found = await checkFor(ref, options);
    if (typeof found === 'string') checks.set(key, found);
    else {
      checks.set(key, found.check);
      sources.set(key, found.source);
    }
  }
  return {
    sources,
    validate(object) {
      const check = checks.get(`${object.apiVersion}/${object.kind}`);
      if (check === undefined || check === '') return [];
      return typeof check === 'string' ? [check] : check(object);
    },
  };
}
