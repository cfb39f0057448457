/**
 * What the broker saw, as records for `make dev`'s event console (platform/local/src/console/):
 *
 * - one `accepted` record per event the broker took in (ingress, a reply, a source, a PingSource), handed to
 *   `StartBrokerOptions.onAccepted`;
 * - one `delivery` record per (trigger, event): the outcome the dispatcher reached (delivered, refused,
 *   dead-lettered…), every attempt (status, latency, the wait before it), the reply it published and the
 *   knativeerror* of a dead letter, handed to `StartBrokerOptions.onTrail`.
 *
 * An event's path is rebuilt from them: a reply's `causationId` is the id of the event whose delivery produced
 * it. On a cluster the same facts are the ingress's and dispatcher's log lines (`event.action: deliver`,
 * `dead-letter`, `refused-*`), which carry the same ids (docs/observability.md).
 */
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import {
  CAUSATION_EXTENSION,
  correlationOf,
  isJsonMediaType,
  mediaType,
} from '../../functions/runtime/src/index.ts';
import type { AttemptRecord } from './delivery.ts';

export const TRAIL_OUTCOME = {
  /** 2xx: done (a reply, if any, is in `reply`). */
  delivered: 'delivered',
  /** A refusal the subscriber kept in its dead-letter sink itself (Sluice-Dead-Lettered). */
  refusedKept: 'refused-kept',
  /** A refusal acked as delivered, as upstream does: nothing was dead-lettered. */
  refusedAcked: 'refused-acked',
  /** Retries exhausted (or the reply could not be published): sent to the dead-letter sink. */
  deadLettered: 'dead-lettered',
  /** Failed for good, and no dead-letter sink, or the dead letter could not be published: gone. */
  lost: 'lost',
} as const;
export type TrailOutcome = (typeof TRAIL_OUTCOME)[keyof typeof TRAIL_OUTCOME];

/** A reply's data is kept up to this size (its JSON); a larger one is recorded without it. */
export const TRAIL_MAX_DATA_BYTES = 4096;

export interface TrailReply {
  readonly id: string;
  readonly type: string;
  /** false: the reply could not be published (the original event was dead-lettered). */
  readonly published: boolean;
  /** The reply's data, when JSON of at most TRAIL_MAX_DATA_BYTES. */
  readonly data?: unknown;
}

/** How an accepted event came in. */
export const ACCEPTED_VIA = {
  ingress: 'ingress',
  /** A subscriber's reply, published by the dispatcher (sluice data plane; upstream's come via the ingress). */
  reply: 'reply',
  source: 'source',
  ping: 'ping',
} as const;
export type AcceptedVia = (typeof ACCEPTED_VIA)[keyof typeof ACCEPTED_VIA];

/** The ids that place an event in its flow. */
export interface TrailEventIds {
  readonly eventId: string;
  readonly eventType: string;
  readonly eventSource: string;
  readonly correlationId: string;
  /** The id of the event whose delivery produced this one (`causationid`), for a reply. */
  readonly causationId?: string;
  /** The W3C trace id, when the event carries a `traceparent`. */
  readonly traceId?: string;
}

/** An event the broker accepted (durably, for RabbitMQ). */
export interface AcceptedRecord extends TrailEventIds {
  readonly kind: 'accepted';
  readonly time: string;
  readonly via: AcceptedVia;
  readonly subject?: string;
  /** The event's own `time` attribute, when it has one. */
  readonly eventTime?: string;
}

export type OnAccepted = (record: AcceptedRecord) => void;

/** A scale decision on a Trigger's dispatcher (KEDA's ScaledObject, queue-scaler.ts). */
export interface DispatcherScaleRecord {
  readonly kind: 'dispatcher-scale';
  readonly time: string;
  readonly trigger: string;
  readonly from: number;
  readonly to: number;
  /** The queue depth the decision was made on. */
  readonly depth: number;
}

export type OnDispatcherScale = (record: DispatcherScaleRecord) => void;

export interface TrailRecord extends TrailEventIds {
  readonly kind: 'delivery';
  readonly time: string;
  readonly trigger: string;
  /** The Knative Service the Trigger delivers to, when its subscriber is one. */
  readonly subscriber?: string;
  readonly outcome: TrailOutcome;
  /** The subscriber's last status; -1 for no answer. */
  readonly status: number;
  readonly attempts: number;
  /** Each attempt: status (-1 no answer), latency, the wait before it (the retry delay). */
  readonly attemptLog: readonly AttemptRecord[];
  readonly reply?: TrailReply;
  /** The dead-letter sink's URL, for dead-lettered events. */
  readonly deadLetterSink?: string;
  /** `knativeerrorcode` / `knativeerrordata` of the dead letter, as the sink receives them. */
  readonly knativeErrorCode?: number;
  readonly knativeErrorData?: string;
  readonly error?: string;
}

export type OnTrail = (record: TrailRecord) => void;

/** A reply's data as JSON can show it: the dispatcher keeps a binary-mode body as bytes. */
function readable(reply: CloudEvent): unknown {
  if (!(reply.data instanceof Uint8Array)) return reply.data;
  const text = Buffer.from(reply.data).toString('utf8');
  if (!isJsonMediaType(mediaType(reply.datacontenttype ?? 'application/json'))) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The reply as the trail keeps it: its data only when small. */
export function trailReply(reply: CloudEvent, published: boolean): TrailReply {
  let data: unknown;
  try {
    const value = readable(reply);
    const text = JSON.stringify(value);
    if (text !== undefined && Buffer.byteLength(text) <= TRAIL_MAX_DATA_BYTES) data = value;
  } catch {
    data = undefined;
  }
  return { id: reply.id, type: reply.type, published, ...(data === undefined ? {} : { data }) };
}

const TRACE_ID = /^[0-9a-f]{2}-([0-9a-f]{32})-/;

/** The fields every record of `event` carries. */
export function trailEvent(event: CloudEvent): TrailEventIds {
  const causation = event.extensions[CAUSATION_EXTENSION];
  const traceparent = event.extensions.traceparent;
  const traceId = typeof traceparent === 'string' ? TRACE_ID.exec(traceparent)?.[1] : undefined;
  return {
    eventId: event.id,
    eventType: event.type,
    eventSource: event.source,
    correlationId: correlationOf(event),
    ...(causation === undefined || causation === '' ? {} : { causationId: String(causation) }),
    ...(traceId === undefined ? {} : { traceId }),
  };
}

/** The record of an accepted event. */
export function trailAccepted(event: CloudEvent, via: AcceptedVia): AcceptedRecord {
  return {
    kind: 'accepted',
    time: new Date().toISOString(),
    via,
    ...trailEvent(event),
    ...(event.subject === undefined ? {} : { subject: event.subject }),
    ...(event.time === undefined ? {} : { eventTime: event.time }),
  };
}
