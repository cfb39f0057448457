/**
 * CloudEvents 1.0 HTTP binding, sending side: an event to binary-mode headers and body, or to a
 * structured-mode JSON document. Shared by function replies, the local broker's dispatcher and the
 * injectors, so every hop writes events the same way.
 *
 * Data: an event's `dataBytes` (what it arrived with) are written as they are; only an event built in code
 * without them has its `data` serialised. `datacontenttype` is written when the event has one and never
 * invented for received data.
 */
import { isUtf8 } from 'node:buffer';
import type { CloudEvent } from '../types.ts';
import { rawHeaderValue } from './header-value.ts';
import { isJsonMediaType, mediaType, STRUCTURED_CONTENT_TYPE } from './receive.ts';

// HTTP binding §3.1.3.2: percent-encode space, `"`, `%` and anything outside printable US-ASCII.
const NEEDS_ENCODING = /[^\x21\x23-\x24\x26-\x7e]/;

export function encodeHeaderValue(value: string): string {
  if (!NEEDS_ENCODING.test(value)) return value;
  let out = '';
  // A lone surrogate (possible in JSON text) has no UTF-8 form and makes encodeURIComponent throw;
  // it becomes U+FFFD so a reply can always be written (and replayed).
  for (const ch of value.toWellFormed()) {
    const code = ch.codePointAt(0) ?? 0;
    if (code > 0x20 && code < 0x7f && ch !== '"' && ch !== '%') out += ch;
    else out += encodeURIComponent(ch); // UTF-8 bytes as %XX; space is %20 as the binding requires
  }
  return out;
}

/** How attribute values become `ce-*` header values. */
export const HEADER_ENCODING = {
  /** The binding's percent-encoding (§3.1.3.2): what a spec-following sender writes. */
  percent: 'percent',
  /**
   * The UTF-8 bytes as they are, as eventing-rabbitmq's Go data plane writes them (sdk-go `types.Format`,
   * no encoding), so values pass a broker verbatim; only what a header cannot carry is percent-encoded.
   */
  raw: 'raw',
} as const;
export type HeaderEncoding = (typeof HEADER_ENCODING)[keyof typeof HEADER_ENCODING];

export interface BinaryOptions {
  /** @default 'percent' */
  readonly headerEncoding?: HeaderEncoding;
}

export interface HttpMessage {
  /** Values are header strings: one character per byte, as node:http and fetch write them. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Binary mode: attributes as `ce-*` headers, data as the body with its Content-Type. */
export function toBinary(event: CloudEvent, options?: BinaryOptions): HttpMessage {
  const encode = options?.headerEncoding === HEADER_ENCODING.raw ? rawHeaderValue : encodeHeaderValue;
  const headers: Record<string, string> = {
    'ce-specversion': event.specversion,
    'ce-id': encode(event.id),
    'ce-source': encode(event.source),
    'ce-type': encode(event.type),
  };
  if (event.subject !== undefined) headers['ce-subject'] = encode(event.subject);
  if (event.time !== undefined) headers['ce-time'] = encode(event.time);
  if (event.dataschema !== undefined) headers['ce-dataschema'] = encode(event.dataschema);
  for (const name in event.extensions) {
    headers[`ce-${name}`] = encode(String(event.extensions[name]));
  }
  const { body, contentType } = encodeData(event);
  if (contentType !== undefined) headers['content-type'] = rawHeaderValue(contentType);
  return { headers, body };
}

/** Structured mode: the whole event as one `application/cloudevents+json` document. */
export function toStructured(event: CloudEvent): HttpMessage {
  const doc: Record<string, unknown> = {
    specversion: event.specversion,
    id: event.id,
    source: event.source,
    type: event.type,
  };
  if (event.subject !== undefined) doc.subject = event.subject;
  if (event.time !== undefined) doc.time = event.time;
  if (event.datacontenttype !== undefined) doc.datacontenttype = event.datacontenttype;
  if (event.dataschema !== undefined) doc.dataschema = event.dataschema;
  for (const name in event.extensions) doc[name] = event.extensions[name];
  const media = mediaType(event.datacontenttype);
  const json = media === '' || isJsonMediaType(media);
  const bytes = event.dataBytes;
  let rawData: string | undefined;
  if (bytes !== undefined) {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (json && isJsonText(text))
      rawData = text.toString('utf8'); // written as it came, byte for byte
    else if (!json && media.startsWith('text/') && isUtf8(text)) doc.data = text.toString('utf8');
    else doc.data_base64 = text.toString('base64');
  } else if (event.data instanceof Uint8Array) {
    doc.data_base64 = Buffer.from(event.data).toString('base64');
  } else if (event.data !== undefined) {
    doc.data = json || typeof event.data !== 'object' ? event.data : JSON.stringify(event.data);
  }
  let text = JSON.stringify(doc);
  if (rawData !== undefined) text = `${text.slice(0, -1)},"data":${rawData}}`;
  return {
    headers: { 'content-type': `${STRUCTURED_CONTENT_TYPE}; charset=utf-8` },
    body: Buffer.from(text),
  };
}

function isJsonText(bytes: Buffer): boolean {
  if (!isUtf8(bytes)) return false;
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function encodeData(event: CloudEvent): { body: Buffer; contentType: string | undefined } {
  const { data, dataBytes, datacontenttype } = event;
  if (dataBytes !== undefined) {
    return {
      body: Buffer.from(dataBytes.buffer, dataBytes.byteOffset, dataBytes.byteLength),
      contentType: datacontenttype,
    };
  }
  if (data === undefined) return { body: Buffer.alloc(0), contentType: datacontenttype };
  if (data instanceof Uint8Array) {
    return { body: Buffer.from(data.buffer, data.byteOffset, data.byteLength), contentType: datacontenttype };
  }
  if (
    typeof data === 'string' &&
    datacontenttype !== undefined &&
    !isJsonMediaType(mediaType(datacontenttype))
  ) {
    return { body: Buffer.from(data), contentType: datacontenttype };
  }
  // A value built in code: serialised here, so it is labelled as what it now is.
  return { body: Buffer.from(JSON.stringify(data)), contentType: datacontenttype ?? 'application/json' };
}
