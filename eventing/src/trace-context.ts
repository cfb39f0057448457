/**
 * W3C trace context through the upstream data plane, with tracing off (its default), as
 * eventing-rabbitmq knative-v1.22.1 carries it:
 *
 * - ingress (cmd/ingress `send`): the request's HTTP `traceparent` (when valid) and `tracestate` become
 *   message headers `traceparent`/`tracestate` (tracestate present even when empty), then every
 *   extension is written over them (`CloudEventToRabbitMQMessage`), so a `ce-traceparent` extension wins;
 * - dispatcher (`NewMessageFromDelivery`, `readSpan`): the `traceparent`/`tracestate` headers are never
 *   event attributes (the extensions are dropped); only when both headers are there and the traceparent
 *   is valid does the HTTP client send `traceparent` (and a non-empty `tracestate`) to the subscriber,
 *   the replies' ingress and on the dead letter. A `ce-traceparent` extension alone is lost.
 *
 * In this broker both message headers are the event's `traceparent`/`tracestate` extensions (wire.ts
 * writes extensions as headers by name, exactly what upstream's headers are).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent, ExtensionValue } from '../../functions/runtime/src/index.ts';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** As the OpenTelemetry TraceContext propagator re-writes it, or undefined when it would not parse. */
export function normalizeTraceparent(value: string): string | undefined {
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  // Only the sampled bit survives the propagator.
  const sampled = (Number.parseInt(flags as string, 16) & 1) === 1;
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

const single = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/** The event as the upstream ingress stores it: HTTP trace headers under its extensions. */
export function traceAtIngress(event: CloudEvent, headers: IncomingHttpHeaders): CloudEvent {
  const raw = single(headers.traceparent);
  const tp = raw === undefined ? undefined : normalizeTraceparent(raw);
  if (tp === undefined) return event;
  const extensions: Record<string, ExtensionValue> = {
    traceparent: tp,
    tracestate: single(headers.tracestate) ?? '',
    ...event.extensions,
  };
  return Object.freeze({ ...event, extensions: Object.freeze(extensions) });
}

export interface DispatchTrace {
  /** The event without its `traceparent`/`tracestate` extensions. */
  readonly event: CloudEvent;
  /** HTTP headers for the subscriber, the reply and the dead letter's span headers. */
  readonly headers: Readonly<Record<string, string>>;
}

/** What the upstream dispatcher makes of the two message headers. */
export function traceAtDispatch(event: CloudEvent): DispatchTrace {
  const { traceparent, tracestate, ...rest } = event.extensions;
  if (traceparent === undefined && tracestate === undefined) return { event, headers: {} };
  const stripped = Object.freeze({ ...event, extensions: Object.freeze(rest) });
  const tp = traceparent === undefined ? undefined : normalizeTraceparent(String(traceparent));
  if (tp === undefined || tracestate === undefined) return { event: stripped, headers: {} };
  const ts = String(tracestate);
  return { event: stripped, headers: ts === '' ? { traceparent: tp } : { traceparent: tp, tracestate: ts } };
}

/** The dead letter upstream publishes: the span's headers (tracestate even when empty) under the event. */
export function traceOnDeadLetter(event: CloudEvent, headers: Readonly<Record<string, string>>): CloudEvent {
  const tp = headers.traceparent;
  if (tp === undefined) return event;
  const extensions = { ...event.extensions, traceparent: tp, tracestate: headers.tracestate ?? '' };
  return Object.freeze({ ...event, extensions: Object.freeze(extensions) });
}
