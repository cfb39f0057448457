/**
 * Knative Service (`serving.knative.dev/v1`), validated as Serving's webhook validates the parts sluice reads
 * (knative.dev/serving knative-v1.22.1 `pkg/apis/autoscaling/annotation_validation.go`,
 * `pkg/apis/serving/v1/revision_validation.go`) and defaulted as `RevisionSpec.SetDefaults` and the stock
 * config-defaults / config-autoscaler do.
 */
import { DurationError, parseGoDuration } from './duration.ts';
import type { ObjectMeta, ObjectReader } from './object-reader.ts';
import { quantity } from './quantity.ts';

export const SERVICE_API_VERSION = 'serving.knative.dev/v1';

export const AUTOSCALING_ANNOTATION = {
  minScale: 'autoscaling.knative.dev/min-scale',
  maxScale: 'autoscaling.knative.dev/max-scale',
  target: 'autoscaling.knative.dev/target',
  targetUtilization: 'autoscaling.knative.dev/target-utilization-percentage',
  retention: 'autoscaling.knative.dev/scale-to-zero-pod-retention-period',
  window: 'autoscaling.knative.dev/window',
} as const;

export const VISIBILITY_LABEL = 'networking.knative.dev/visibility';

/** Stock config-defaults and config-autoscaler (Knative 1.22), used where the manifest is silent. */
export const SERVING_DEFAULTS = {
  /** container-concurrency-target-default */
  target: 100,
  /** container-concurrency-target-percentage: the KPA aims below the target. */
  targetUtilizationPercentage: 70,
  /** revision-timeout-seconds (also what 0 means) */
  timeoutSeconds: 300,
  /** max-revision-timeout-seconds */
  maxTimeoutSeconds: 600,
  /** container-concurrency (0 = unlimited) */
  containerConcurrency: 0,
  /** container-concurrency-max-limit */
  maxContainerConcurrency: 1000,
  /** container-name-template */
  containerName: 'user-container',
  /** autoscaling.WindowMin / WindowMax */
  windowMinMs: 6_000,
  windowMaxMs: 3_600_000,
  /** autoscaling.TargetMin */
  targetMin: 0.01,
} as const;

export type EnvVar =
  | { readonly name: string; readonly value: string }
  /** A value only the cluster can resolve: a Secret, ConfigMap, field or resource reference. */
  | { readonly name: string; readonly valueFrom: string; readonly secretKeyRef?: SecretKeyRef };

/** `valueFrom.secretKeyRef`: which Secret key fills the variable (`make dev` generates required ones). */
export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional: boolean;
}

export interface EnvFrom {
  readonly kind: 'secretRef' | 'configMapRef';
  readonly name: string;
}

export interface Container {
  /** Defaulted to `user-container` (`user-container-<i>` with several), as Serving does. */
  readonly name: string;
  readonly image: string | undefined;
  readonly env: readonly EnvVar[];
  readonly envFrom: readonly EnvFrom[];
  /** `ports[0].containerPort`, else 8080 (Serving's default user port). */
  readonly port: number;
  /** `resources.limits.memory` in bytes, when set. */
  readonly memoryLimitBytes?: number;
}

export interface KnativeService extends ObjectMeta {
  readonly kind: 'Service';
  /** `networking.knative.dev/visibility` label: `cluster-local`, or `public` when unset. */
  readonly visibility: string;
  readonly minScale: number;
  /** 0 = no bound (Knative: unlimited). */
  readonly maxScale: number;
  /** Soft concurrency target per instance, capped at containerConcurrency as the KPA does. */
  readonly target: number;
  /** Fraction of `target` the autoscaler aims for (stock 0.7). */
  readonly targetUtilization: number;
  /** Hard limit of in-flight requests per instance; 0 = unlimited. */
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  /** undefined when the manifest does not set it. */
  readonly retentionMs: number | undefined;
  readonly windowMs: number | undefined;
  readonly templateAnnotations: Readonly<Record<string, string>>;
  readonly containers: readonly Container[];
}

function scale(r: ObjectReader, annotations: Readonly<Record<string, string>>, key: string): number {
  const raw = annotations[key];
  if (raw === undefined) return 0;
  // getIntGE0: strconv.ParseInt(v, 10, 32), then ≥ 0.
  if (!/^[+-]?\d+$/.test(raw) || Number(raw) < 0 || Number(raw) > 2_147_483_647) {
    r.problem(`annotation ${key}`, `must be an integer ≥ 0, got ${JSON.stringify(raw)}`);
    return 0;
  }
  return Number(raw);
}

function goDuration(
  r: ObjectReader,
  annotations: Readonly<Record<string, string>>,
  key: string,
  minMs: number,
  maxMs: number,
): number | undefined {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  try {
    const ms = parseGoDuration(raw);
    if (ms < minMs || ms > maxMs) {
      r.problem(`annotation ${key}`, `must be from ${minMs / 1000}s to ${maxMs / 1000}s, got "${raw}"`);
      return undefined;
    }
    return ms;
  } catch (err) {
    if (!(err instanceof DurationError)) throw err;
    r.problem(`annotation ${key}`, `must be a duration like "30s" or "1m": ${err.message}`);
    return undefined;
  }
}

function readContainer(r: ObjectReader, raw: unknown, i: number, count: number): Container | undefined {
  const field = `spec.template.spec.containers[${i}]`;
  const c = r.object(field, raw, true);
  if (c === undefined) return undefined;
  const name =
    r.string(`${field}.name`, c.name) ??
    (count === 1 ? SERVING_DEFAULTS.containerName : `${SERVING_DEFAULTS.containerName}-${i}`);
  const env: EnvVar[] = [];
  const list = c.env ?? [];
  if (!Array.isArray(list)) r.problem(`${field}.env`, 'must be a list');
  else {
    list.forEach((entry: unknown, j) => {
      const e = r.object(`${field}.env[${j}]`, entry, true);
      const envName = e === undefined ? undefined : r.string(`${field}.env[${j}].name`, e.name, true);
      if (e === undefined || envName === undefined) return;
      if (e.valueFrom !== undefined) {
        const from = r.object(`${field}.env[${j}].valueFrom`, e.valueFrom);
        const kind = Object.keys(from ?? {})[0] ?? 'valueFrom';
        const ref =
          kind === 'secretKeyRef'
            ? r.object(`${field}.env[${j}].valueFrom.secretKeyRef`, from?.[kind])
            : undefined;
        const secretName =
          ref === undefined
            ? undefined
            : r.string(`${field}.env[${j}].valueFrom.secretKeyRef.name`, ref.name, true);
        const secretKey =
          ref === undefined
            ? undefined
            : r.string(`${field}.env[${j}].valueFrom.secretKeyRef.key`, ref.key, true);
        env.push(
          secretName === undefined || secretKey === undefined
            ? { name: envName, valueFrom: kind }
            : {
                name: envName,
                valueFrom: kind,
                secretKeyRef: { name: secretName, key: secretKey, optional: ref?.optional === true },
              },
        );
      } else if (e.value === undefined || e.value === null) env.push({ name: envName, value: '' });
      else if (typeof e.value === 'string') env.push({ name: envName, value: e.value });
      else r.problem(`${field}.env[${j}].value`, `of ${envName} must be a string (quote numbers)`);
    });
  }
  const envFrom: EnvFrom[] = [];
  if (Array.isArray(c.envFrom)) {
    c.envFrom.forEach((entry: unknown, j) => {
      const e = r.object(`${field}.envFrom[${j}]`, entry);
      const kind =
        e?.secretRef !== undefined ? 'secretRef' : e?.configMapRef !== undefined ? 'configMapRef' : undefined;
      const ref = kind === undefined ? undefined : r.object(`${field}.envFrom[${j}].${kind}`, e?.[kind]);
      const refName =
        ref === undefined || kind === undefined
          ? undefined
          : r.string(`${field}.envFrom[${j}].${kind}.name`, ref.name, true);
      if (kind !== undefined && refName !== undefined) envFrom.push({ kind, name: refName });
    });
  } else if (c.envFrom !== undefined) r.problem(`${field}.envFrom`, 'must be a list');
  const ports = Array.isArray(c.ports) ? c.ports : [];
  const port = r.integer(
    `${field}.ports[0].containerPort`,
    (ports[0] as { containerPort?: unknown } | undefined)?.containerPort,
    1,
    65_535,
  );
  const resources = r.object(`${field}.resources`, c.resources);
  const memoryLimit = r.object(`${field}.resources.limits`, resources?.limits)?.memory;
  const memoryLimitBytes = memoryLimit === undefined ? undefined : quantity(memoryLimit);
  if (memoryLimit !== undefined && memoryLimitBytes === undefined) {
    r.problem(
      `${field}.resources.limits.memory`,
      `must be a quantity like "256Mi", got ${JSON.stringify(memoryLimit)}`,
    );
  }
  return {
    name,
    image: r.string(`${field}.image`, c.image),
    env,
    envFrom,
    port: port ?? 8080,
    ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
  };
}

export function readKnativeService(r: ObjectReader): KnativeService | undefined {
  const template = r.object('spec.template', r.get('spec', 'template'), true) ?? {};
  const tmeta = r.object('spec.template.metadata', template.metadata) ?? {};
  const annotations: Record<string, string> = {};
  const rawAnnotations = r.object('spec.template.metadata.annotations', tmeta.annotations) ?? {};
  for (const [k, v] of Object.entries(rawAnnotations)) {
    if (typeof v === 'string') annotations[k] = v;
    else r.problem(`annotation ${k}`, `must be a string (got ${JSON.stringify(v)}; quote it in YAML)`);
  }
  const tspec = r.object('spec.template.spec', template.spec, true) ?? {};

  const minScale = scale(r, annotations, AUTOSCALING_ANNOTATION.minScale);
  const maxScale = scale(r, annotations, AUTOSCALING_ANNOTATION.maxScale);
  if (maxScale > 0 && minScale > maxScale) {
    r.problem(
      `annotation ${AUTOSCALING_ANNOTATION.minScale}`,
      `(${minScale}) exceeds max-scale (${maxScale})`,
    );
  }
  const containerConcurrency =
    r.integer(
      'spec.template.spec.containerConcurrency',
      tspec.containerConcurrency,
      0,
      SERVING_DEFAULTS.maxContainerConcurrency,
    ) ?? SERVING_DEFAULTS.containerConcurrency;
  // SetDefaults: nil or 0 → revision-timeout-seconds; validation: 0..max-revision-timeout-seconds.
  const timeoutSeconds =
    r.integer(
      'spec.template.spec.timeoutSeconds',
      tspec.timeoutSeconds,
      0,
      SERVING_DEFAULTS.maxTimeoutSeconds,
    ) || SERVING_DEFAULTS.timeoutSeconds;

  let target: number = SERVING_DEFAULTS.target;
  const rawTarget = annotations[AUTOSCALING_ANNOTATION.target];
  if (rawTarget !== undefined) {
    const n = Number(rawTarget);
    if (rawTarget.trim() === '' || !(n >= SERVING_DEFAULTS.targetMin)) {
      r.problem(
        `annotation ${AUTOSCALING_ANNOTATION.target}`,
        `must be a number ≥ ${SERVING_DEFAULTS.targetMin}, got ${JSON.stringify(rawTarget)}`,
      );
    } else target = n;
  }
  // The KPA: a hard limit caps the soft target.
  if (containerConcurrency > 0) target = Math.min(target, containerConcurrency);
  let targetUtilization = SERVING_DEFAULTS.targetUtilizationPercentage / 100;
  const rawUtilization = annotations[AUTOSCALING_ANNOTATION.targetUtilization];
  if (rawUtilization !== undefined) {
    const n = Number(rawUtilization);
    if (rawUtilization.trim() === '' || !(n >= 1 && n <= 100)) {
      r.problem(
        `annotation ${AUTOSCALING_ANNOTATION.targetUtilization}`,
        `must be a number from 1 to 100, got ${JSON.stringify(rawUtilization)}`,
      );
    } else targetUtilization = n / 100;
  }
  const retentionMs = goDuration(
    r,
    annotations,
    AUTOSCALING_ANNOTATION.retention,
    0,
    SERVING_DEFAULTS.windowMaxMs,
  );
  const windowMs = goDuration(
    r,
    annotations,
    AUTOSCALING_ANNOTATION.window,
    SERVING_DEFAULTS.windowMinMs,
    SERVING_DEFAULTS.windowMaxMs,
  );
  if (windowMs !== undefined && windowMs % 1000 !== 0) {
    r.problem(
      `annotation ${AUTOSCALING_ANNOTATION.window}`,
      'must be specified with at most second precision',
    );
  }

  // networking's ValidateVisibility: the label means cluster-local, or it is absent (public).
  const visibility = r.meta.labels[VISIBILITY_LABEL];
  if (visibility !== undefined && visibility !== 'cluster-local') {
    r.problem(`label ${VISIBILITY_LABEL}`, 'must be "cluster-local" or absent (public)');
  }

  const rawContainers = tspec.containers;
  const containers: Container[] = [];
  if (!Array.isArray(rawContainers) || rawContainers.length === 0) {
    r.problem('spec.template.spec.containers[0]', 'is missing');
  } else {
    rawContainers.forEach((c: unknown, i) => {
      const container = readContainer(r, c, i, rawContainers.length);
      if (container !== undefined) containers.push(container);
    });
  }
  if (r.problemCount > 0) return undefined;
  return Object.freeze({
    kind: 'Service',
    ...r.meta,
    visibility: visibility ?? 'public',
    minScale,
    maxScale,
    target,
    targetUtilization,
    containerConcurrency,
    timeoutSeconds,
    retentionMs,
    windowMs,
    templateAnnotations: Object.freeze(annotations),
    containers: Object.freeze(containers),
  });
}
