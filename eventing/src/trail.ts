/**
 * What became of each delivery, as one record per (trigger, event): the outcome the dispatcher reached
 * (delivered, refused, dead-lettered…), the last status, the attempts, and the reply it published. The
 * broker hands every record to `StartBrokerOptions.onTrail`; `make dev` keeps the last ones in memory and
 * `make try` reads them (platform/local/src/event-trail.ts). On a cluster the same facts are the
 * dispatcher's log lines (`event.action: deliver`, `dead-letter`, `refused-*`).
 */
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { correlationOf, isJsonMediaType, mediaType } from '../../functions/runtime/src/index.ts';

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

export interface TrailRecord {
  readonly time: string;
  readonly trigger: string;
  /** The Knative Service the Trigger delivers to, when its subscriber is one. */
  readonly subscriber?: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly eventSource: string;
  readonly correlationId: string;
  readonly outcome: TrailOutcome;
  /** The subscriber's last status; -1 for no answer. */
  readonly status: number;
  readonly attempts: number;
  readonly reply?: TrailReply;
  /** The dead-letter sink's URL, for dead-lettered events. */
  readonly deadLetterSink?: string;
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

/** The fields every record of `event` carries. */
export function trailEvent(
  event: CloudEvent,
): Pick<TrailRecord, 'eventId' | 'eventType' | 'eventSource' | 'correlationId'> {
  return {
    eventId: event.id,
    eventType: event.type,
    eventSource: event.source,
    correlationId: correlationOf(event),
  };
}
