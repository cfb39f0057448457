/**
 * What an operator sees of one invocation: one ECS log line and one metrics record per outcome,
 * success or failure, with the event's ids and trace so Kibana finds every line of one event.
 */
import type { ProblemAnswer } from '../cloudevent/problem.ts';
import { CAUSATION_EXTENSION, CAUSATION_FIELD, CORRELATION_FIELD, correlationOf } from '../correlation.ts';
import { errorFields, type JsonLogger } from '../log.ts';
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
      // Added to one object in order: the same line as a spread, one allocation less.
      const fields = eventFields(event, inv.trace);
      fields['event.kind'] = 'event';
      fields['event.outcome'] = 'success';
      fields['event.duration'] = Math.round(durationSeconds * 1e9);
      fields['faas.coldstart'] = inv.coldStart;
      fields['http.response.status_code'] = status;
      fields['sluice.outcome'] = outcome;
      if (reply !== undefined) {
        fields['sluice.reply.id'] = reply.id;
        fields['sluice.reply.type'] = reply.type;
      }
      this.#log.info(
        outcome === 'replayed' ? 'event replayed from idempotency record' : 'event processed',
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
