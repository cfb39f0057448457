/**
 * What an operator sees of one invocation: one ECS log line and one metrics record per outcome,
 * success or failure, with the event's ids and trace so Kibana finds every line of one event.
 */
import type { ProblemAnswer } from '../cloudevent/problem.ts';
import { CAUSATION_EXTENSION, CAUSATION_FIELD, CORRELATION_FIELD, correlationOf } from '../correlation.ts';
import { errorFields, type JsonLogger, jsonString } from '../log.ts';
import type { Metrics, Outcome } from '../ports/metrics.ts';
import type { TraceContext } from '../trace.ts';
import type { CloudEvent } from '../types.ts';

/** One invocation as the report needs it: what came in, when, and whether the process was cold. */
export interface Invocation {
  readonly event: CloudEvent | undefined;
  readonly trace: TraceContext;
  readonly started: number;
  readonly coldStart: boolean;
}

/** The fields every line about an event carries (the runtime's and the handler's own). */
export function eventFields(event: CloudEvent | undefined, trace: TraceContext): Record<string, unknown> {
  const fields: Record<string, unknown> = { 'trace.id': trace.traceId, 'span.id': trace.spanId };
  if (event !== undefined) {
    fields['event.id'] = event.id;
    fields['event.action'] = event.type;
    fields['cloudevents.event_id'] = event.id;
    fields['cloudevents.event_type'] = event.type;
    fields['cloudevents.event_source'] = event.source;
    if (event.subject !== undefined) fields['cloudevents.event_subject'] = event.subject;
    // Lineage: joins one flow's lines across steps even where the trace context is lost (correlation.ts).
    fields[CORRELATION_FIELD] = correlationOf(event);
    const causation = event.extensions[CAUSATION_EXTENSION];
    if (causation !== undefined) fields[CAUSATION_FIELD] = causation;
  }
  return fields;
}

/** `eventFields` of an event as JSON members, in the same order (the outcome line's fast path). */
function eventMembers(event: CloudEvent, trace: TraceContext): string {
  // Trace and span ids are lower-case hex (trace.ts): nothing to escape. A function's events mostly share their
  // type and source: their JSON is kept from the event before.
  const id = jsonString(event.id);
  if (event.type !== lastType) {
    lastType = event.type;
    lastTypeJson = jsonString(lastType);
  }
  if (event.source !== lastSource) {
    lastSource = event.source;
    lastSourceJson = jsonString(lastSource);
  }
  const type = lastTypeJson;
  let members = `"trace.id":"${trace.traceId}","span.id":"${trace.spanId}","event.id":${id},"event.action":${type},"cloudevents.event_id":${id},"cloudevents.event_type":${type},"cloudevents.event_source":${lastSourceJson}`;
  if (event.subject !== undefined) members += `,"cloudevents.event_subject":${jsonString(event.subject)}`;
  const correlation = correlationOf(event);
  members += `,"${CORRELATION_FIELD}":${correlation === event.id ? id : jsonString(correlation)}`;
  const causation = event.extensions[CAUSATION_EXTENSION];
  if (causation !== undefined) members += `,"${CAUSATION_FIELD}":${JSON.stringify(causation)}`;
  return members;
}
let lastType = '';
let lastTypeJson = '""';
let lastSource = '';
let lastSourceJson = '""';

export class Reporter {
  readonly #log: JsonLogger;
  readonly #metrics: Metrics;

  constructor(log: JsonLogger, metrics: Metrics) {
    this.#log = log;
    this.#metrics = metrics;
  }

  /**
   * The event was processed (`success`) or answered from its record (`replayed`); `reply` names the event it
   * answered with, so the line is the edge from this event to its reply in the tree Kibana rebuilds.
   */
  succeeded(
    inv: Invocation,
    outcome: Outcome,
    status: number,
    reply: { readonly id: string; readonly type: string } | undefined,
  ): void {
    const event = inv.event as CloudEvent;
    const durationSeconds = (performance.now() - inv.started) / 1000;
    if (this.#log.enabled('info')) {
      const durationNs = Math.round(durationSeconds * 1e9);
      const fields = (): Record<string, unknown> => {
        const f = eventFields(event, inv.trace);
        f['event.kind'] = 'event';
        f['event.outcome'] = 'success';
        f['event.duration'] = durationNs;
        f['faas.coldstart'] = inv.coldStart;
        f['http.response.status_code'] = status;
        f['sluice.outcome'] = outcome;
        if (reply !== undefined) {
          f['sluice.reply.id'] = reply.id;
          f['sluice.reply.type'] = reply.type;
        }
        return f;
      };
      // The line `fields()` would give, written as one string: this line is written for every event.
      let members = `${eventMembers(event, inv.trace)},"event.kind":"event","event.outcome":"success","event.duration":${durationNs},"faas.coldstart":${inv.coldStart},"http.response.status_code":${status},"sluice.outcome":"${outcome}"`;
      if (reply !== undefined) {
        members += `,"sluice.reply.id":${jsonString(reply.id)},"sluice.reply.type":${jsonString(reply.type)}`;
      }
      this.#log.logMembers(
        'info',
        outcome === 'replayed' ? 'event replayed from idempotency record' : 'event processed',
        members,
        fields,
      );
    }
    this.#metrics.invocation({
      eventType: event.type,
      outcome,
      durationSeconds,
      coldStart: inv.coldStart,
      replied: reply !== undefined,
    });
  }

  /** The event failed: invalid, rejected, transient or an error (a bug). */
  failed(inv: Invocation, err: unknown, answer: ProblemAnswer): void {
    const level = answer.outcome === 'error' ? 'error' : answer.outcome === 'transient' ? 'warn' : 'info';
    const fields = eventFields(inv.event, inv.trace);
    fields['event.kind'] = 'event';
    fields['event.outcome'] = 'failure';
    fields['event.duration'] = Math.round((performance.now() - inv.started) * 1e6);
    fields['event.reason'] = answer.reason;
    fields['faas.coldstart'] = inv.coldStart;
    fields['http.response.status_code'] = answer.status;
    fields['sluice.outcome'] = answer.outcome;
    if (answer.outcome === 'error' || answer.outcome === 'transient') Object.assign(fields, errorFields(err));
    else fields['error.message'] = answer.problem.detail;
    this.#log.log(level, `event ${answer.outcome}: ${answer.problem.detail}`, fields);
    this.#metrics.invocation({
      eventType: inv.event?.type ?? 'unknown',
      outcome: answer.outcome,
      durationSeconds: (performance.now() - inv.started) / 1000,
      coldStart: inv.coldStart,
      reason: answer.reason,
      replied: false,
    });
  }

  /** A store write the runtime needed failed after the answer was decided. */
  storeFailed(message: string, err: unknown): void {
    this.#log.error(message, errorFields(err));
  }
}
