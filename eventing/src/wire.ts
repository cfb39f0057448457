/**
 * Events on the wire inside the broker, kept as they came (docs/eventing.md, "Fidelity"): an event read by
 * the ingress (`receiveVerbatim`) carries its attribute values as sent (`ce-*` values never percent-decoded)
 * and its data as the exact bytes (`dataBytes`: the binary-mode body, or the structured-mode `data` text),
 * and every hop writes those again: AMQP body, dispatch body, reply. A `datacontenttype` that was absent
 * stays absent.
 *
 * AMQP messages use the header layout eventing-rabbitmq writes (pkg/rabbit/message.go
 * `CloudEventToRabbitMQMessage` / `NewMessageFromDelivery`): every attribute and extension is a plain
 * message header named after it (`type`, `source`, `id`, `specversion`, `time`, `subject`, `dataschema`,
 * `content-type`, extensions by name), so a headers exchange can match Trigger filters on them. Reading also
 * accepts the `ce-` prefix (upstream strips it) and the CloudEvents AMQP binding prefixes `cloudEvents:` /
 * `cloudEvents_` (producers that follow the spec); `x-` headers (added by RabbitMQ, e.g. `x-delivery-count`,
 * `x-death`) are never attributes.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent, ExtensionValue } from '../../functions/runtime/src/index.ts';
import { mediaType, receiveVerbatim, toBinary } from '../../functions/runtime/src/index.ts';

/** The data bytes an event travels with: its `dataBytes`, else its data as the HTTP binding writes it. */
export function dataBytesOf(event: CloudEvent): Buffer {
  const bytes = event.dataBytes;
  if (bytes !== undefined) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return toBinary(event).body;
}

export interface AmqpPublishing {
  readonly content: Buffer;
  readonly headers: Record<string, string>;
  readonly messageId: string;
  readonly contentType: string | undefined;
}

/** Message headers = attributes and extensions by name, values as strings (see the module comment). */
export function eventHeaders(event: CloudEvent): Record<string, string> {
  const headers: Record<string, string> = {
    specversion: event.specversion,
    id: event.id,
    type: event.type,
    source: event.source,
  };
  if (event.datacontenttype !== undefined) headers['content-type'] = event.datacontenttype;
  if (event.time !== undefined) headers.time = event.time;
  if (event.subject !== undefined) headers.subject = event.subject;
  if (event.dataschema !== undefined) headers.dataschema = event.dataschema;
  for (const [name, value] of Object.entries(event.extensions)) headers[name] = String(value);
  return headers;
}

export function toAmqp(event: CloudEvent): AmqpPublishing {
  return {
    content: dataBytesOf(event),
    headers: eventHeaders(event),
    messageId: event.id,
    contentType: event.datacontenttype,
  };
}

export interface AmqpMessageLike {
  readonly content: Buffer;
  readonly properties: {
    readonly headers?: Record<string, unknown> | undefined;
    readonly contentType?: unknown;
    readonly messageId?: unknown;
    readonly timestamp?: unknown;
  };
}

const PREFIXES = ['ce-', 'cloudevents:', 'cloudevents_'];

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

/**
 * An AMQP message → CloudEvent: structured when the content type is `application/cloudevents+json`,
 * binary when a `specversion` header is present; `undefined` when it is not a CloudEvent at all.
 * Header values are text already (AMQP strings are UTF-8) and are kept as they are; the body is the data.
 * Throws the runtime's InvalidEventError when it claims to be one but is malformed.
 * One pass from the message's headers to the binding's `ce-*` headers (per delivery: no Map, no entries
 * array); a name given twice keeps its first place and its last value.
 */
export function fromAmqp(msg: AmqpMessageLike, defaults: { source?: string } = {}): CloudEvent | undefined {
  const headers: IncomingHttpHeaders = {};
  let contentTypeHeader: string | undefined;
  const table = msg.properties.headers;
  if (table !== undefined) {
    for (const key in table) {
      let name = key.toLowerCase();
      if (name.startsWith('x-')) continue;
      // Every prefix starts with `c`; stripped in turn, as a producer may stack them.
      if (name.charCodeAt(0) === 0x63)
        for (const p of PREFIXES) if (name.startsWith(p)) name = name.slice(p.length);
      const text = headerText(table[key]);
      if (text === undefined) continue;
      if (name === 'content-type') contentTypeHeader = text;
      else if (name !== 'datacontenttype') headers[`ce-${name}`] = text;
    }
  }
  const contentType = headerText(msg.properties.contentType) || contentTypeHeader || undefined;
  if (contentType !== undefined && mediaType(contentType) === 'application/cloudevents+json') {
    return receiveVerbatim({ 'content-type': contentType }, msg.content).event;
  }
  if (headers['ce-specversion'] === undefined) return undefined;
  if (headers['ce-source'] === undefined && defaults.source !== undefined)
    headers['ce-source'] = defaults.source;
  if (contentType !== undefined) headers['content-type'] = contentType;
  return receiveVerbatim(headers, msg.content, { headerBytes: false }).event;
}

/** RabbitmqSource's type for messages that are not CloudEvents (sources/v1alpha1 RabbitmqEventType). */
export const RABBITMQ_EVENT_TYPE = 'dev.knative.rabbitmq.event';

/** sources/v1alpha1 `RabbitmqEventSource`. */
export function rabbitmqEventSource(namespace: string, sourceName: string, queueName: string): string {
  return `/apis/v1/namespaces/${namespace}/rabbitmqsources/${sourceName}#${queueName}`;
}

/** A plain AMQP message wrapped as upstream's `ConvertToCloudEvent` does. */
export function wrapAmqpMessage(msg: AmqpMessageLike, source: string): CloudEvent {
  const messageId = headerText(msg.properties.messageId);
  const id = messageId !== undefined && messageId !== '' ? messageId : randomUUID();
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id,
    source,
    type: RABBITMQ_EVENT_TYPE,
    subject: id,
    data: msg.content.length > 0 ? msg.content : undefined,
    ...(msg.content.length > 0 ? { dataBytes: msg.content } : {}),
    extensions: Object.freeze({} as Record<string, ExtensionValue>),
  };
  const ts = msg.properties.timestamp;
  if (typeof ts === 'number' && ts > 0) event.time = new Date(ts * 1000).toISOString();
  const ct = headerText(msg.properties.contentType);
  if (ct !== undefined && ct !== '') event.datacontenttype = ct;
  return Object.freeze(event) as unknown as CloudEvent;
}
