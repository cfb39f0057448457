/**
 * KEDA, locally: a ScaledObject on a Trigger's dispatcher (`<trigger>-dispatcher`, eventing-rabbitmq 1.22.1's
 * Deployment name) scales that dispatcher's replicas on its queue's depth, as KEDA's rabbitmq scaler in
 * `QueueLength` mode feeds the HPA:
 * - every `pollingInterval`: depth = messages ready + unacknowledged (the management API's `messages`, what the
 *   scaler reads over http unless `excludeUnacknowledged`);
 * - desired = ceil(depth / value) (the HPA's AverageValue target), within [minReplicaCount, maxReplicaCount];
 *   0 only after `cooldownPeriod` with an empty queue, when minReplicaCount is 0;
 * - the HPA's stabilization: a scale-up takes the lowest recommendation of the last `scaleUp` window (0 s by
 *   default: at once), a scale-down the highest of the last `scaleDown` window (300 s by default).
 * Each replica is one more consumer with the trigger's prefetch and parallelism, so concurrent deliveries
 * grow with the replicas and the subscriber's own autoscaler (the local KPA) adds instances on concurrency.
 * Every change is logged (`event.action: dispatcher-scaled`) and counted (`metrics()`, Prometheus text).
 */
import type { Logger } from '../../functions/runtime/src/index.ts';
import type { ScaledObject } from '../../platform/manifests/index.ts';
import type { WallClock } from './ping-source.ts';

export interface ScalableDispatcher {
  replicasOf(trigger: string): { readonly replicas: number; readonly held: number };
  scale(trigger: string, replicas: number): Promise<void>;
  /** A paused trigger is not scaled (KEDA's `autoscaling.keda.sh/paused`); its depth is still measured. */
  isPaused?(trigger: string): boolean;
}

export interface QueueScalerOptions {
  readonly scaledObject: ScaledObject;
  readonly trigger: string;
  readonly queue: string;
  readonly dispatcher: ScalableDispatcher;
  /** Messages ready in the queue. */
  readonly depth: (queue: string) => Promise<number>;
  readonly log: Logger;
  readonly clock: WallClock;
  /** Told of every scale decision (`make dev`'s console records them). */
  readonly onChange?: (trigger: string, change: ScaleChange) => void;
}

/** The QueueLength target of the ScaledObject's rabbitmq trigger (`value`, or the older `queueLength`). */
export function queueLengthTarget(so: ScaledObject): number {
  const t = so.triggers.find((x) => x.type === 'rabbitmq');
  const raw = t?.metadata.value ?? t?.metadata.queueLength ?? '20';
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : 20;
}

/** The replicas KEDA + the HPA want for `depth` messages, before stabilization. */
export function recommend(so: ScaledObject, depth: number): number {
  const wanted = Math.ceil(depth / queueLengthTarget(so));
  return Math.min(Math.max(wanted, so.minReplicaCount, depth > 0 ? 1 : 0), so.maxReplicaCount);
}

export interface ScaleChange {
  readonly at: number;
  readonly from: number;
  readonly to: number;
  readonly depth: number;
}

export class QueueScaler {
  readonly #o: QueueScalerOptions;
  readonly #history: { at: number; replicas: number }[] = [];
  readonly changes: ScaleChange[] = [];
  #cancel: (() => void) | undefined;
  #stopped = false;
  #lastActiveAt: number;
  #polling: Promise<void> | undefined;
  #lastDepth = 0;

  constructor(options: QueueScalerOptions) {
    this.#o = options;
    this.#lastActiveAt = options.clock.now();
  }

  get trigger(): string {
    return this.#o.trigger;
  }

  get replicas(): number {
    return this.#o.dispatcher.replicasOf(this.#o.trigger).replicas;
  }

  get depth(): number {
    return this.#lastDepth;
  }

  start(): void {
    const every = Math.max(1, this.#o.scaledObject.pollingIntervalSeconds) * 1000;
    const arm = (): void => {
      if (this.#stopped) return;
      this.#cancel = this.#o.clock.setTimer(every, () => {
        this.#polling = this.poll()
          .catch((err: unknown) =>
            this.#o.log.warn(`ScaledObject ${this.#o.scaledObject.name}: poll failed: ${String(err)}`),
          )
          .finally(arm);
      });
    };
    arm();
  }

  /** One polling round: measure, recommend, stabilize, scale. */
  async poll(): Promise<void> {
    const so = this.#o.scaledObject;
    const now = this.#o.clock.now();
    const { replicas, held } = this.#o.dispatcher.replicasOf(this.#o.trigger);
    const depth = (await this.#o.depth(this.#o.queue)) + held;
    this.#lastDepth = depth;
    if (this.#o.dispatcher.isPaused?.(this.#o.trigger) === true) return;
    if (depth > 0) this.#lastActiveAt = now;
    let raw = recommend(so, depth);
    // KEDA deactivates (→ minReplicaCount 0) only after cooldownPeriod without activity.
    if (raw === 0 && now - this.#lastActiveAt < so.cooldownPeriodSeconds * 1000) raw = Math.max(1, raw);
    this.#history.push({ at: now, replicas: raw });
    const horizon = Math.max(so.scaleDownStabilizationSeconds, so.scaleUpStabilizationSeconds) * 1000;
    while ((this.#history[0]?.at ?? now) < now - horizon) this.#history.shift();
    const within = (seconds: number) =>
      this.#history.filter((h) => h.at >= now - seconds * 1000).map((h) => h.replicas);
    let desired = replicas;
    if (raw > replicas) desired = Math.max(replicas, Math.min(...within(so.scaleUpStabilizationSeconds)));
    else if (raw < replicas)
      desired = Math.min(replicas, Math.max(...within(so.scaleDownStabilizationSeconds)));
    if (desired === replicas) return;
    // Recorded when decided: a replica going away first finishes what it is handling.
    const change = { at: now, from: replicas, to: desired, depth };
    this.changes.push(change);
    try {
      this.#o.onChange?.(this.#o.trigger, change);
    } catch {
      // an observer never touches scaling
    }
    const scaled = this.#o.dispatcher.scale(this.#o.trigger, desired);
    const up = desired > replicas;
    this.#o.log.info(
      `trigger ${this.#o.trigger}: dispatcher scaled ${up ? 'up' : 'down'} ${replicas} → ${desired} (queue depth ${depth}, ${queueLengthTarget(so)} per replica; ScaledObject ${so.name})`,
      {
        'event.action': 'dispatcher-scaled',
        'event.reason': up
          ? 'queue depth above target'
          : 'queue depth below target, stabilization window passed',
        'sluice.trigger': this.#o.trigger,
        'sluice.scaled_object': so.name,
        'sluice.replicas_from': replicas,
        'sluice.replicas': desired,
        'sluice.queue_depth': depth,
      },
    );
    await scaled;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#polling;
  }
}

/** Prometheus text exposition of the scalers (hand-written: three series, no exporter needed in the broker). */
export function scalingMetrics(scalers: readonly QueueScaler[]): string {
  const lines = [
    '# HELP sluice_dispatcher_replicas Replicas of a trigger dispatcher scaled on queue depth (KEDA ScaledObject).',
    '# TYPE sluice_dispatcher_replicas gauge',
    ...scalers.map((s) => `sluice_dispatcher_replicas{trigger="${s.trigger}"} ${s.replicas}`),
    '# HELP sluice_dispatcher_queue_depth Messages ready or unacknowledged in the trigger queue at the last poll.',
    '# TYPE sluice_dispatcher_queue_depth gauge',
    ...scalers.map((s) => `sluice_dispatcher_queue_depth{trigger="${s.trigger}"} ${s.depth}`),
    "# HELP sluice_dispatcher_scale_events_total Changes of a dispatcher's replicas.",
    '# TYPE sluice_dispatcher_scale_events_total counter',
    ...scalers.flatMap((s) => [
      `sluice_dispatcher_scale_events_total{trigger="${s.trigger}",direction="up"} ${s.changes.filter((c) => c.to > c.from).length}`,
      `sluice_dispatcher_scale_events_total{trigger="${s.trigger}",direction="down"} ${s.changes.filter((c) => c.to < c.from).length}`,
    ]),
  ];
  return `${lines.join('\n')}\n`;
}
