/**
 * The Knative Service manifests (`functions/<system>/<name>/service.yaml`) the cluster applies, as the local
 * platform runs them. Reading is platform/manifests' (schema-validated, Serving's defaults); this keeps what a
 * process needs — autoscaling, containerConcurrency, timeoutSeconds, plain env values — and the local rule that
 * a Service is named after its folder. Anything the platform cannot honour locally is reported, never guessed.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { parse } from 'yaml';
import { listFunctions } from '../../../functions/runtime/src/index.ts';
import {
  AUTOSCALING_ANNOTATION,
  collectManifests,
  isRecord,
  type KnativeService,
  type KubeObject,
  loadSchemas,
  parseGoDuration,
  type SchemaOptions,
  type Schemas,
  SERVICE_API_VERSION,
  SERVING_DEFAULTS,
} from '../../manifests/index.ts';

export const ANNOTATION = AUTOSCALING_ANNOTATION;

/** `networking.knative.dev/visibility`: absent = public (Kourier's external gateway), else cluster-local only. */
export const VISIBILITY = { public: 'public', clusterLocal: 'cluster-local' } as const;
export type Visibility = (typeof VISIBILITY)[keyof typeof VISIBILITY];

/** Knative's defaults where the manifest is silent (config-autoscaler / config-defaults). */
export const KNATIVE_DEFAULTS = {
  target: SERVING_DEFAULTS.target,
  targetUtilizationPercentage: SERVING_DEFAULTS.targetUtilizationPercentage,
  timeoutSeconds: SERVING_DEFAULTS.timeoutSeconds,
} as const;

export interface KnativeServiceSpec {
  readonly name: string;
  readonly namespace: string;
  /** Locally the public Service (the gateway) is served on GATEWAY_PORT; cluster-local ones on loopback ports. */
  readonly visibility: Visibility;
  /** Folder of the function: the manifest's folder (a revision's snapshot of it under `make dev`). */
  readonly functionDir: string;
  /** The Knative revision this is (`K_REVISION`); undefined = the first, `<name>-00001`. */
  readonly revision?: string;
  readonly file: string;
  readonly minScale: number;
  /** 0 = no bound set in the manifest (Knative: unlimited). */
  readonly maxScale: number;
  /** Soft concurrency target per instance (in-flight requests). */
  readonly target: number;
  /** Fraction of `target` the autoscaler aims for (Knative default 0.7); unset = 1 (tests, fakes). */
  readonly targetUtilization?: number;
  /** Hard limit of in-flight requests per instance; 0 = unlimited. */
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  /** undefined when the manifest does not set it. */
  readonly retentionMs: number | undefined;
  readonly windowMs: number | undefined;
  /** Plain `value` env entries of containers[0]. */
  readonly env: Readonly<Record<string, string>>;
  /** Env entries that only the cluster can resolve (secret/config refs), skipped locally. */
  readonly skippedEnv: readonly string[];
  /** Required `secretKeyRef` entries: `make dev` generates their values per run (dev-secrets.ts). */
  readonly secretEnv: readonly { readonly env: string; readonly secret: string; readonly key: string }[];
  /** containers[0]'s memory limit in bytes, when set: an instance's heap is sized from it (process-host.ts). */
  readonly memoryLimitBytes?: number;
}

export class KnativeServiceError extends Error {
  readonly file: string;
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    // The shared readers' problems already start with the file; others get it prepended.
    super(problems.map((p) => (p.startsWith(`${file}: `) ? p : `${file}: ${p}`)).join('; '));
    this.name = 'KnativeServiceError';
    this.file = file;
    this.problems = problems;
  }
}

/** Parses Go durations as Knative reads its annotations ("30s", "1m30s", "250ms"); undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  try {
    return parseGoDuration(text);
  } catch {
    return undefined;
  }
}

function toSpec(s: KnativeService, file: string): KnativeServiceSpec {
  const container = s.containers[0];
  const env: Record<string, string> = {};
  const skippedEnv: string[] = [];
  const secretEnv: { env: string; secret: string; key: string }[] = [];
  for (const e of container?.env ?? []) {
    if ('value' in e) env[e.name] = e.value;
    else if (e.secretKeyRef !== undefined && !e.secretKeyRef.optional)
      secretEnv.push({ env: e.name, secret: e.secretKeyRef.name, key: e.secretKeyRef.key });
    else skippedEnv.push(e.name);
  }
  for (const ref of container?.envFrom ?? []) skippedEnv.push(`envFrom:${ref.name}`);
  return Object.freeze({
    name: s.name,
    namespace: s.namespace,
    visibility: s.visibility === VISIBILITY.clusterLocal ? VISIBILITY.clusterLocal : VISIBILITY.public,
    functionDir: dirname(file),
    file,
    minScale: s.minScale,
    maxScale: s.maxScale,
    target: s.target,
    targetUtilization: s.targetUtilization,
    containerConcurrency: s.containerConcurrency,
    timeoutSeconds: s.timeoutSeconds,
    retentionMs: s.retentionMs,
    windowMs: s.windowMs,
    env: Object.freeze(env),
    skippedEnv: Object.freeze(skippedEnv),
    secretEnv: Object.freeze(secretEnv),
    ...(container?.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: container.memoryLimitBytes }),
  });
}

/** Validates one parsed manifest; `file` names it in every problem. */
export function toServiceSpec(
  doc: unknown,
  file: string,
  folderName: string,
  schemas?: Schemas,
): KnativeServiceSpec {
  if (!isRecord(doc)) throw new KnativeServiceError(file, ['not a YAML mapping']);
  if (doc.apiVersion !== SERVICE_API_VERSION || doc.kind !== 'Service') {
    throw new KnativeServiceError(file, [
      `expected apiVersion ${SERVICE_API_VERSION} and kind Service, got ${String(doc.apiVersion)} ${String(doc.kind)}`,
    ]);
  }
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const problems: string[] = [];
  if (name !== folderName) {
    problems.push(`metadata.name "${name}" must equal the function folder name "${folderName}"`);
  }
  const object = { ...doc, metadata: { ...metadata, name: name || folderName } } as unknown as KubeObject;
  const read = collectManifests([{ file, index: 0, object }], schemas === undefined ? {} : { schemas });
  problems.push(...read.problems);
  const [service] = read.set.services;
  if (problems.length > 0 || service === undefined) throw new KnativeServiceError(file, problems);
  return toSpec(service, file);
}

async function parseFile(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return parse(text) as unknown;
  } catch (err) {
    throw new KnativeServiceError(file, [`invalid YAML: ${(err as Error).message}`]);
  }
}

const SERVICE_KIND = [{ apiVersion: SERVICE_API_VERSION, kind: 'Service' }];

/**
 * One service.yaml. `schemas` (SchemaOptions) says where the Service schema comes from: by default the pinned
 * CRD when CRD_DIR or the cache has it, else the @kubernetes-models/knative model (offline, from npm).
 */
export async function loadKnativeService(
  file: string,
  options: SchemaOptions = {},
): Promise<KnativeServiceSpec> {
  const doc = await parseFile(file);
  return toServiceSpec(doc, file, basename(dirname(file)), await loadSchemas(SERVICE_KIND, options));
}

/** Every `functions/<system>/<name>/service.yaml` under `functionsDir`, sorted by name. */
export async function loadKnativeServices(
  functionsDir: string,
  options: SchemaOptions = {},
): Promise<KnativeServiceSpec[]> {
  const schemas = await loadSchemas(SERVICE_KIND, options);
  const folders = listFunctions(functionsDir).filter((f) => f.hasService);
  return Promise.all(
    folders.map(async (f) => {
      const file = join(f.dir, 'service.yaml');
      return toServiceSpec(await parseFile(file), file, f.name, schemas);
    }),
  );
}

/** Path of a manifest relative to the working folder, for messages. */
export function displayPath(file: string): string {
  return relative(process.cwd(), file) || file;
}
