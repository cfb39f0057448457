/**
 * Which data plane the local broker behaves like. `upstream` (the default) is eventing-rabbitmq
 * knative-v1.22.1's ingress and dispatcher as read from that tag and measured against the local
 * RabbitMQ (docs/eventing.md, "What differs from the cluster"); `sluice` is what this broker does
 * better where the cluster loses data or hides a failure. `make dev` picks one with SLUICE_DATA_PLANE,
 * so `make dev` shows what the cluster will do unless asked otherwise.
 *
 * Each behaviour is a field, so a test can ask for one upstream behaviour in the sluice profile (or
 * the reverse) without a third mode.
 */

export const DATA_PLANE = { upstream: 'upstream', sluice: 'sluice' } as const;
export type DataPlane = (typeof DATA_PLANE)[keyof typeof DATA_PLANE];

/** `ChannelQoS` in pkg/rabbit/connections_handler.go: every upstream dispatcher prefetches 100. */
export const UPSTREAM_PREFETCH = 100;

export interface DataPlaneBehaviour {
  readonly name: DataPlane;
  /**
   * A final answer that `SelectiveRetry` does not retry but is not 2xx (400, 3xx, 401, 413, 422…).
   * `ack`: counted as success, as pkg/dispatcher `getStatus` does (and a CloudEvent in its body is a
   * reply); `dead-letter`: sent to the dead-letter sink, unless the subscriber says it kept the event.
   */
  readonly refusal: 'ack' | 'dead-letter';
  /** `knativeerrordata` (the answer body, base64) on dead letters; upstream never sets it. */
  readonly errorData: boolean;
  /** `ack-first`: ack, then publish the dead letter (lost if that fails), as upstream; else the reverse. */
  readonly deadLetterOrder: 'ack-first' | 'publish-first';
  /** `ingress`: POST replies to the broker ingress with the trigger's retries; `exchange`: publish them. */
  readonly replies: 'ingress' | 'exchange';
  /** Stamp `time` with the send time when an event has none (sdk-go `DefaultTimeToNowIfNotSet`). */
  readonly stampTime: boolean;
  /** Messages a dispatcher holds unacknowledged: a number, or the trigger's parallelism. */
  readonly prefetch: number | 'parallelism';
  /**
   * `http`: the ingress keeps an HTTP `traceparent`/`tracestate` as message headers and the dispatcher
   * sends them as HTTP headers (only when both are present); the `traceparent`/`tracestate` extensions
   * are dropped. `extensions`: they stay extensions, as any other.
   */
  readonly traceContext: 'http' | 'extensions';
  /** Ingress refusals as problem+json and the `/<namespace>/<broker>` path; upstream: bare statuses, `/`. */
  readonly ingressProblems: boolean;
}

export const DATA_PLANES: Readonly<Record<DataPlane, Readonly<DataPlaneBehaviour>>> = Object.freeze({
  upstream: Object.freeze({
    name: DATA_PLANE.upstream,
    refusal: 'ack',
    errorData: false,
    deadLetterOrder: 'ack-first',
    replies: 'ingress',
    stampTime: true,
    prefetch: UPSTREAM_PREFETCH,
    traceContext: 'http',
    ingressProblems: false,
  }),
  sluice: Object.freeze({
    name: DATA_PLANE.sluice,
    refusal: 'dead-letter',
    errorData: true,
    deadLetterOrder: 'publish-first',
    replies: 'exchange',
    stampTime: false,
    prefetch: 'parallelism',
    traceContext: 'extensions',
    ingressProblems: true,
  }),
});

export class DataPlaneError extends Error {
  override name = 'DataPlaneError';
}

/** SLUICE_DATA_PLANE → its behaviour; unset or empty is `upstream`. */
export function dataPlaneFrom(value: string | undefined): Readonly<DataPlaneBehaviour> {
  if (value === undefined || value === '') return DATA_PLANES.upstream;
  if (value === DATA_PLANE.upstream || value === DATA_PLANE.sluice) return DATA_PLANES[value];
  throw new DataPlaneError(`SLUICE_DATA_PLANE="${value}" must be upstream or sluice`);
}

/** The prefetch (unacknowledged messages) a dispatcher of `parallelism` workers holds. */
export function prefetchOf(behaviour: Readonly<DataPlaneBehaviour>, parallelism: number): number {
  return behaviour.prefetch === 'parallelism' ? parallelism : Math.max(behaviour.prefetch, parallelism);
}
