/**
 * Trigger filters as the RabbitMQ broker applies them: each trigger queue is bound to the broker's
 * headers exchange with `x-match: all` plus `spec.filter.attributes` as binding arguments, so an event
 * matches when every filter attribute equals the message header of the same name, exactly (case
 * sensitive, no prefix or suffix matching, no wildcard). Headers are the event's attributes and
 * extensions by name (`wire.ts`); `x-` arguments never take part in matching (RabbitMQ ignores them).
 * An empty filter matches every event. The memory backend calls this; RabbitMQ does the same itself.
 */
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { eventHeaders } from './wire.ts';

export function matchesHeaders(
  filter: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>>,
): boolean {
  for (const [name, value] of Object.entries(filter)) {
    if (name.startsWith('x-')) continue;
    if (headers[name] !== value) return false;
  }
  return true;
}

export function matchesFilter(filter: Readonly<Record<string, string>>, event: CloudEvent): boolean {
  return matchesHeaders(filter, eventHeaders(event));
}
