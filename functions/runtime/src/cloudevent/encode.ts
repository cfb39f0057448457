/**
 * CloudEvents 1.0 HTTP binding, sending side: an event to binary-mode headers and body, or to a
 * structured-mode JSON document. Shared by function replies, the local broker's dispatcher and the
 * injectors, so every hop writes events the same way.
 */
import type { CloudEvent } from '../types.ts';
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

export interface HttpMessage {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Binary mode: attributes as `ce-*` headers, data as the body with its Content-Type. */
export function toBinary(event: CloudEvent): HttpMessage {
  const headers: Record<string, string> = {
    'ce-specversion': event.specversion,
    'ce-id': encodeHeaderValue(event.id),
    'ce-source': encodeHeaderValue(event.source),
    'ce-type': encodeHeaderValue(event.type),
  };
  if (event.subject !== undefined) headers['ce-subject'] = encodeHeaderValue(event.subject);
  if (event.time !== undefined) headers['ce-time'] = event.time;
  if (event.dataschema !== undefined) headers['ce-dataschema'] = encodeHeaderValue(event.dataschema);
  for (const name in event.extensions) {
    headers[`ce-${name}`] = encodeHeaderValue(String(event.extensions[name]));
  }
  const { body, contentType } = encodeData(event);
  if (contentType !== undefined) headers['content-type'] = contentType;
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
  if (event.data instanceof Uint8Array) doc.data_base64 = Buffer.from(event.data).toString('base64');
  else if (event.data !== undefined) {
    const media = mediaType(event.datacontenttype);
    doc.data =
      media === '' || isJsonMediaType(media) || typeof event.data !== 'object'
        ? event.data
        : JSON.stringify(event.data);
  }
  return {
    headers: { 'content-type': `${STRUCTURED_CONTENT_TYPE}; charset=utf-8` },
    body: Buffer.from(JSON.stringify(doc)),
  };
}

function encodeData(event: CloudEvent): { body: Buffer; contentType: string | undefined } {
  const { data, datacontenttype } = event;
  if (data === undefined) return { body: Buffer.alloc(0), contentType: datacontenttype };
  if (data instanceof Uint8Array) {
    return { body: Buffer.from(data), contentType: datacontenttype ?? 'application/octet-stream' };
  }
  if (
    typeof data === 'string' &&
    datacontenttype !== undefined &&
    !isJsonMediaType(mediaType(datacontenttype))
  ) {
    return { body: Buffer.from(data), contentType: datacontenttype };
  }
  return { body: Buffer.from(JSON.stringify(data)), contentType: datacontenttype ?? 'application/json' };
}
