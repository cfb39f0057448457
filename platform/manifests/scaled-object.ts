/**
 * KEDA ScaledObject (`keda.sh/v1alpha1`), as KEDA v2.20.2 validates (`scaledobject_webhook.go`:
 * `CheckReplicaCountBoundsAreValid`, `ValidateTriggers`, `verifyName`) and defaults it (the operator's
 * `defaultPollingInterval` 30 s, `defaultCooldownPeriod` 300 s, HPA max 100; min 0 when unset).
 */
import type { ObjectMeta, ObjectReader } from './object-reader.ts';

export const KEDA_DEFAULTS = {
  pollingIntervalSeconds: 30,
  cooldownPeriodSeconds: 300,
  minReplicaCount: 0,
  maxReplicaCount: 100,
  /** The HPA's scale-down stabilization window (KEDA's cooldownPeriod applies only to scaling to zero). */
  scaleDownStabilizationSeconds: 300,
  scaleUpStabilizationSeconds: 0,
  /** maxK8sLabelValueLength: the name becomes a label value. */
  maxNameLength: 63,
} as const;

export interface ScaleTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

export interface ScaleTrigger {
  readonly type: string;
  readonly name: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly authenticationRef: string | undefined;
}

export interface ScaledObject extends ObjectMeta {
  readonly kind: 'ScaledObject';
  readonly scaleTargetRef: ScaleTarget;
  readonly pollingIntervalSeconds: number;
  readonly cooldownPeriodSeconds: number;
  readonly minReplicaCount: number;
  readonly maxReplicaCount: number;
  readonly idleReplicaCount: number | undefined;
  /** `advanced.horizontalPodAutoscalerConfig.behavior.scale{Up,Down}.stabilizationWindowSeconds` (HPA defaults). */
  readonly scaleUpStabilizationSeconds: number;
  readonly scaleDownStabilizationSeconds: number;
  readonly triggers: readonly ScaleTrigger[];
}

const INT32 = 2_147_483_647;

export function readScaledObject(r: ObjectReader): ScaledObject | undefined {
  if (r.meta.name.length > KEDA_DEFAULTS.maxNameLength) {
    r.problem(
      'metadata.name',
      `must be at most ${KEDA_DEFAULTS.maxNameLength} characters (it becomes a label value)`,
    );
  }
  const spec = r.object('spec', r.get('spec'), true) ?? {};
  const target = r.object('spec.scaleTargetRef', spec.scaleTargetRef, true);
  const targetName =
    target === undefined ? undefined : r.string('spec.scaleTargetRef.name', target.name, true);
  const pollingIntervalSeconds =
    r.integer('spec.pollingInterval', spec.pollingInterval, 0, INT32) ?? KEDA_DEFAULTS.pollingIntervalSeconds;
  const cooldownPeriodSeconds =
    r.integer('spec.cooldownPeriod', spec.cooldownPeriod, 0, INT32) ?? KEDA_DEFAULTS.cooldownPeriodSeconds;
  const minReplicaCount =
    r.integer('spec.minReplicaCount', spec.minReplicaCount, 0, INT32) ?? KEDA_DEFAULTS.minReplicaCount;
  const maxReplicaCount =
    r.integer('spec.maxReplicaCount', spec.maxReplicaCount, 0, INT32) ?? KEDA_DEFAULTS.maxReplicaCount;
  const idleReplicaCount = r.integer('spec.idleReplicaCount', spec.idleReplicaCount, 0, INT32);
  const behavior = ((
    spec.advanced as { horizontalPodAutoscalerConfig?: { behavior?: Record<string, unknown> } } | undefined
  )?.horizontalPodAutoscalerConfig?.behavior ?? {}) as Record<
    string,
    { stabilizationWindowSeconds?: unknown } | undefined
  >;
  // autoscaling/v2 HPAScalingRules: 0..3600 seconds.
  const stabilization = (dir: 'scaleUp' | 'scaleDown', fallback: number): number =>
    r.integer(
      `spec.advanced.horizontalPodAutoscalerConfig.behavior.${dir}.stabilizationWindowSeconds`,
      behavior[dir]?.stabilizationWindowSeconds,
      0,
      3600,
    ) ?? fallback;
  const scaleUpStabilizationSeconds = stabilization('scaleUp', KEDA_DEFAULTS.scaleUpStabilizationSeconds);
  const scaleDownStabilizationSeconds = stabilization(
    'scaleDown',
    KEDA_DEFAULTS.scaleDownStabilizationSeconds,
  );
  // CheckReplicaCountBoundsAreValid: an explicit min of 0 counts as the HPA's minimum of 1 there.
  const hpaMin = spec.minReplicaCount === undefined ? 0 : Math.max(minReplicaCount, 1);
  if (hpaMin > maxReplicaCount) {
    r.problem('spec.minReplicaCount', `(${hpaMin}) must be less than maxReplicaCount (${maxReplicaCount})`);
  }
  if (idleReplicaCount !== undefined && idleReplicaCount >= hpaMin) {
    r.problem('spec.idleReplicaCount', `(${idleReplicaCount}) must be less than minReplicaCount (${hpaMin})`);
  }
  const triggers: ScaleTrigger[] = [];
  const rawTriggers = spec.triggers;
  if (!Array.isArray(rawTriggers) || rawTriggers.length === 0) {
    r.problem('spec.triggers', 'needs at least one trigger');
  } else {
    const names = new Set<string>();
    rawTriggers.forEach((raw: unknown, i) => {
      const field = `spec.triggers[${i}]`;
      const t = r.object(field, raw, true);
      if (t === undefined) return;
      const type = r.string(`${field}.type`, t.type, true);
      const name = r.string(`${field}.name`, t.name);
      if (name !== undefined) {
        if (names.has(name))
          r.problem(`${field}.name`, `"${name}" is used by two triggers; names must be unique`);
        names.add(name);
      }
      if (t.useCachedMetrics === true && (type === 'cpu' || type === 'memory' || type === 'cron')) {
        r.problem(`${field}.useCachedMetrics`, `is not supported for the ${type} scaler`);
      }
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.object(`${field}.metadata`, t.metadata, true) ?? {})) {
        const value = r.string(`${field}.metadata.${k}`, v);
        if (value !== undefined) metadata[k] = value;
      }
      const auth = r.object(`${field}.authenticationRef`, t.authenticationRef);
      const authName =
        auth === undefined ? undefined : r.string(`${field}.authenticationRef.name`, auth.name, true);
      if (type !== undefined)
        triggers.push({ type, name, metadata: Object.freeze(metadata), authenticationRef: authName });
    });
  }
  if (r.problemCount > 0 || target === undefined || targetName === undefined) return undefined;
  return Object.freeze({
    kind: 'ScaledObject',
    ...r.meta,
    // KEDA's default target is a Deployment (apps/v1).
    scaleTargetRef: {
      apiVersion: typeof target.apiVersion === 'string' ? target.apiVersion : 'apps/v1',
      kind: typeof target.kind === 'string' ? target.kind : 'Deployment',
      name: targetName,
    },
    pollingIntervalSeconds,
    cooldownPeriodSeconds,
    minReplicaCount,
    maxReplicaCount,
    idleReplicaCount,
    scaleUpStabilizationSeconds,
    scaleDownStabilizationSeconds,
    triggers: Object.freeze(triggers),
  });
}
