/**
 * The handler's reply → the event the runtime records and sends: it fills `id` (deterministic),
 * `source`, `time`, trace context and the causation/correlation ids, and holds the reply to its
 * schema here, where a bug in the function would be.
 */
import { ATTRIBUTE_NAME, CONTEXT_ATTRIBUTES } from '../cloudevent/receive.ts';
import { CAUSATION_EXTENSION, CORRELATION_EXTENSION, correlationOf } from '../correlation.ts';
import { InvalidReplyError } from '../errors.ts';
import { sha256 } from '../lazy-crypto.ts';
import type { StoredReply } from '../ports/idempotency-store.ts';
import type { SchemaSet } from '../schema-set.ts';
import { formatTraceparent, type TraceContext } from '../trace.ts';
import type { CloudEvent, ExtensionValue, ReplyEvent } from '../types.ts';

/** Deterministic reply id: a redelivered event that runs again emits the same id, so consumers dedupe. */
export function replyId(serviceName: string, source: string, id: string, type: string): string {
  const h = sha256(`${serviceName}\0${source}\0${id}\0${type}`, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? '0', 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export type ReplyShaper = (event: CloudEvent, reply: ReplyEvent, trace: TraceContext) => StoredReply;

export interface ReplyOptions {
  readonly schemas: SchemaSet;
  readonly serviceName: string;
  /** `source` of replies. */
  readonly eventSource: string;
  /** Types the function declared in `emits`; undefined when it declared none (any type with a schema). */
  readonly emits: readonly string[] | undefined;
}

/** Throws InvalidReplyError (500: a bug in the function) when the reply is not what was declared. */
export function replyShaper(options: ReplyOptions): ReplyShaper {
  const emits = options.emits === undefined ? undefined : new Set(options.emits);
  return (event, reply, trace) => {
    if (typeof reply !== 'object' || reply === null || typeof reply.type !== 'string' || reply.type === '') {
      throw new InvalidReplyError('handler returned something that is not a reply event ({ type, data? })');
    }
    if (emits !== undefined && !emits.has(reply.type)) {
      throw new InvalidReplyError(`handler replied with type ${reply.type}, which is not listed in emits`);
    }
    // The reply is the next function's input: hold it to its schema here, where the bug is.
    const invalid = options.schemas.check(reply.type, reply.data);
    if (invalid.length > 0) {
      throw new InvalidReplyError(
        `reply of type ${reply.type} does not match its schema: ${invalid.map((p) => `${p.name} ${p.reason}`).join('; ')}`,
      );
    }
    const extensions: Record<string, ExtensionValue> = {};
    for (const [name, value] of Object.entries(reply.extensions ?? {})) {
      if (!ATTRIBUTE_NAME.test(name) || CONTEXT_ATTRIBUTES.has(name) || name === 'data')
        throw new InvalidReplyError(`invalid reply extension name "${name}"`);
      extensions[name] = value;
    }
    extensions.traceparent = formatTraceparent(trace);
    if (trace.tracestate !== undefined) extensions.tracestate = trace.tracestate;
    // Correlation: the id of the event that caused this reply, and the id that started the chain.
    extensions[CAUSATION_EXTENSION] = event.id;
    extensions[CORRELATION_EXTENSION] = correlationOf(event);
    const stored: Record<string, unknown> = {
      id: replyId(options.serviceName, event.source, event.id, reply.type),
      source: options.eventSource,
      type: reply.type,
      time: new Date().toISOString(),
      extensions,
    };
    if (reply.subject !== undefined) stored.subject = reply.subject;
    if (reply.data !== undefined) {
      stored.datacontenttype = 'application/json';
      stored.data = JSON.stringify(reply.data);
    }
    return stored as unknown as StoredReply;
  };
}
