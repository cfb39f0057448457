/**
 * An event's lineage across pipeline steps. Every reply carries two extensions: `causationid` (the id
 * of the event that caused it) and `correlationid` (the id of the chain's first event). They are plain
 * extensions, which every data plane carries end to end; eventing-rabbitmq's dispatcher drops the
 * `traceparent` extension (docs/eventing.md), so on a cluster the correlation id is what always joins
 * the log lines of one flow, step after step, broker lines included.
 */
import type { CloudEvent } from './types.ts';

export const CORRELATION_EXTENSION = 'correlationid';
export const CAUSATION_EXTENSION = 'causationid';
/** ECS custom fields on every log line about an event (the runtime's and the broker's). */
export const CORRELATION_FIELD = 'sluice.correlation_id';
export const CAUSATION_FIELD = 'sluice.causation_id';

/** The id of the chain's first event: the event's `correlationid`, else its own id. */
export function correlationOf(event: Pick<CloudEvent, 'id' | 'extensions'>): string {
  const value = event.extensions[CORRELATION_EXTENSION];
  return value === undefined || value === '' ? event.id : String(value);
}
