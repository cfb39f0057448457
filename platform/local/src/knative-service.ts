/**
 * Reads the Knative Service manifests (`functions/<name>/service.yaml`) the cluster applies, and
 * keeps what the local platform uses: autoscaling annotations, containerConcurrency, timeoutSeconds
 * and plain env values. Anything the platform cannot honour locally is reported, never guessed.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { parse } from 'yaml';
import { listFunctions } from '../../../functions/runtime/src/index.ts';

export const ANNOTATION = {
  minScale: 'autoscaling.knative.dev/min-scale',
  maxScale: 'autoscaling.knative.dev/max-scale',
  target: 'autoscaling.knative.dev/target',
  targetUtilization: 'autoscaling.knative.dev/target-utilization-percentage',
  retention: 'autoscaling.knative.dev/scale-to-zero-pod-retention-period',
  window: 'autoscaling.knative.dev/window',
} as const;

/** Knative's defaults where the manifest is silent (config-autoscaler / config-defaults). */
export const KNATIVE_DEFAULTS = {
  target: 100,
  /** config-autoscaler `container-concurrency-target-percentage`: the KPA aims below the target. */
  targetUtilizationPercentage: 70,
  timeoutSeconds: 300,
} as const;

export interface KnativeServiceSpec {
  readonly name: string;
  readonly namespace: string;
  /** Folder of the function: the manifest's folder. */
  readonly functionDir: string;
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
}

export class KnativeServiceError extends Error {
  readonly file: string;
  constructor(file: string, problems: readonly string[]) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'KnativeServiceError';
    this.file = file;
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parses Knative duration annotations: "30s", "1m", "1.5h", "250ms" (Go durations without mixing units). */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (m === null) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates one parsed manifest; `file` names it in every problem. */
export function toServiceSpec(doc: unknown, file: string, folderName: string): KnativeServiceSpec {
  const problems: string[] = [];
  if (!isObject(doc)) throw new KnativeServiceError(file, ['not a YAML mapping']);
  if (doc.apiVersion !== 'serving.knative.dev/v1' || doc.kind !== 'Service') {
    problems.push(
      `expected apiVersion serving.knative.dev/v1 and kind Service, got ${String(doc.apiVersion)} ${String(doc.kind)}`,
    );
  }
  const metadata = isObject(doc.metadata) ? doc.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  if (name !== folderName) {
    problems.push(`metadata.name "${name}" must equal the function folder name "${folderName}"`);
  }
  const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : 'default';
  const spec = isObject(doc.spec) ? doc.spec : {};
  const template = isObject(spec.template) ? spec.template : {};
  const tmeta = isObject(template.metadata) ? template.metadata : {};
  const annotations = isObject(tmeta.annotations) ? tmeta.annotations : {};
  const tspec = isObject(template.spec) ? template.spec : {};

  const int = (value: unknown, what: string, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
      problems.push(`${what} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return n;
  };
  const duration = (key: string): number | undefined => {
    const raw = annotations[key];
    if (raw === undefined) return undefined;
    const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
    if (ms === undefined) problems.push(`annotation ${key} must be a duration like "30s" or "1m"`);
    return ms;
  };

  const minScale = int(annotations[ANNOTATION.minScale], `annotation ${ANNOTATION.minScale}`, 0, 0);
  const maxScale = int(annotations[ANNOTATION.maxScale], `annotation ${ANNOTATION.maxScale}`, 0, 0);
  if (maxScale > 0 && minScale > maxScale) {
    problems.push(`min-scale (${minScale}) exceeds max-scale (${maxScale})`);
  }
  const containerConcurrency = int(
    tspec.containerConcurrency,
    'spec.template.spec.containerConcurrency',
    0,
    0,
  );
  const rawTarget = annotations[ANNOTATION.target];
  let target = KNATIVE_DEFAULTS.target as number;
  if (rawTarget !== undefined) {
    const n = typeof rawTarget === 'string' ? Number(rawTarget) : Number.NaN;
    if (!(n > 0)) problems.push(`annotation ${ANNOTATION.target} must be a number > 0`);
    else target = n;
  }
  // Like the KPA: a hard limit caps the soft target.
  if (containerConcurrency > 0) target = Math.min(target, containerConcurrency);
  const rawUtilization = annotations[ANNOTATION.targetUtilization];
  let targetUtilization = KNATIVE_DEFAULTS.targetUtilizationPercentage / 100;
  if (rawUtilization !== undefined) {
    const n = typeof rawUtilization === 'string' ? Number(rawUtilization) : Number.NaN;
    if (!(n >= 1 && n <= 100))
      problems.push(`annotation ${ANNOTATION.targetUtilization} must be a number from 1 to 100`);
    else targetUtilization = n / 100;
  }
  const timeoutSeconds = int(
    tspec.timeoutSeconds,
    'spec.template.spec.timeoutSeconds',
    KNATIVE_DEFAULTS.timeoutSeconds,
    1,
  );
  const retentionMs = duration(ANNOTATION.retention);
  const windowMs = duration(ANNOTATION.window);

  const containers = Array.isArray(tspec.containers) ? tspec.containers : [];
  const container = containers[0];
  if (!isObject(container)) problems.push('spec.template.spec.containers[0] is missing');
  const env: Record<string, string> = {};
  const skippedEnv: string[] = [];
  if (isObject(container)) {
    const list = container.env === undefined ? [] : container.env;
    if (!Array.isArray(list)) problems.push('containers[0].env must be a list');
    else {
      for (const [i, entry] of list.entries()) {
        if (!isObject(entry) || typeof entry.name !== 'string') {
          problems.push(`containers[0].env[${i}] needs a name`);
          continue;
        }
        if (entry.valueFrom !== undefined) skippedEnv.push(entry.name);
        else if (entry.value === undefined) env[entry.name] = '';
        else if (typeof entry.value === 'string') env[entry.name] = entry.value;
        else problems.push(`containers[0].env ${entry.name}: value must be a string (quote numbers)`);
      }
    }
    if (Array.isArray(container.envFrom)) {
      for (const ref of container.envFrom) {
        const src = isObject(ref) ? (ref.secretRef ?? ref.configMapRef) : undefined;
        const refName = isObject(src) && typeof src.name === 'string' ? src.name : '?';
        skippedEnv.push(`envFrom:${refName}`);
      }
    }
  }
  if (problems.length > 0) throw new KnativeServiceError(file, problems);
  return Object.freeze({
    name,
    namespace,
    functionDir: dirname(file),
    file,
    minScale,
    maxScale,
    target,
    targetUtilization,
    containerConcurrency,
    timeoutSeconds,
    retentionMs,
    windowMs,
    env: Object.freeze(env),
    skippedEnv: Object.freeze(skippedEnv),
  });
}

export async function loadKnativeService(file: string): Promise<KnativeServiceSpec> {
  const text = await readFile(file, 'utf8');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new KnativeServiceError(file, [`invalid YAML: ${(err as Error).message}`]);
  }
  return toServiceSpec(doc, file, basename(dirname(file)));
}

/** Every `functions/<system>/<name>/service.yaml` under `functionsDir`, sorted by name. */
export async function loadKnativeServices(functionsDir: string): Promise<KnativeServiceSpec[]> {
  const folders = listFunctions(functionsDir).filter((f) => f.hasService);
  return Promise.all(folders.map((f) => loadKnativeService(join(f.dir, 'service.yaml'))));
}

/** Path of a manifest relative to the working folder, for messages. */
export function displayPath(file: string): string {
  return relative(process.cwd(), file) || file;
}
