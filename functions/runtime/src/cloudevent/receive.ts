/**
 * CloudEvents 1.0 HTTP protocol binding, receiving side, written by hand: strict on the spec's MUSTs,
 * lenient where mainstream producers are not strict (header escapes, see header-value.ts), and keeping the
 * data bytes as they came (`dataBytes`).
 *
 * Why not the SDK's `HTTP.toEvent`: it fills a missing `specversion` and `id`, replaces a bad `time`
 * with "now" (all MUST violations we have to reject), and costs ~20 µs per event in stack-captured
 * errors. This module is pure (headers + body in, event or InvalidEventError out), so the server,
 * the local broker (`receiveVerbatim`) and the benchmarks share it. See docs/runtime.md.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { daysInMonth } from '../calendar.ts';
import { CAUSATION_EXTENSION, CORRELATION_EXTENSION } from '../correlation.ts';
import { InvalidEventError, type InvalidParam } from '../errors.ts';
import { Limits } from '../limits.ts';
import type { CloudEvent, ExtensionValue } from '../types.ts';
import { headerText, readHeaderValue } from './header-value.ts';
import { memberSpan } from './json-span.ts';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

/**
 * The context attributes read so far, one field each: an object of one shape (a keyed store per attribute
 * into a plain object went through V8's megamorphic store, and every read of it through its megamorphic load).
 */
class ContextAttributes {
  specversion: string | undefined = undefined;
  id: string | undefined = undefined;
  source: string | undefined = undefined;
  type: string | undefined = undefined;
  subject: string | undefined = undefined;
  time: string | undefined = undefined;
  datacontenttype: string | undefined = undefined;
  dataschema: string | undefined = undefined;

  /** `name` is one of CONTEXT_ATTRIBUTES. */
  set(name: string, value: string): void {
    switch (name) {
      case 'specversion':
        this.specversion = value;
        break;
      case 'id':
        this.id = value;
        break;
      case 'source':
        this.source = value;
        break;
      case 'type':
        this.type = value;
        break;
      case 'subject':
        this.subject = value;
        break;
      case 'time':
        this.time = value;
        break;
      case 'datacontenttype':
        this.datacontenttype = value;
        break;
      case 'dataschema':
        this.dataschema = value;
        break;
    }
  }
}

/** The spec's context attributes (ContextAttributes' fields): everything else in an event is an extension. */
export const CONTEXT_ATTRIBUTES: ReadonlySet<string> = new Set(Object.keys(new ContextAttributes()));
/**
 * Extensions most events carry: the Distributed Tracing extension's and the lineage ids (correlation.ts).
 * Their names are valid attribute names, so the name check is skipped for them.
 */
const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  'traceparent',
  'tracestate',
  CORRELATION_EXTENSION,
  CAUSATION_EXTENSION,
]);
/**
 * `ce-<attribute>` → `<attribute>`, for the context attributes and the known extensions: a constant name
 * (its hash already computed for the lookups and keyed stores below), not a slice of each event's header.
 */
const KNOWN_HEADERS: ReadonlyMap<string, string> = new Map(
  [...CONTEXT_ATTRIBUTES, ...KNOWN_EXTENSIONS].map((a) => [`ce-${a}`, a]),
);
// Attribute names: lower-case ASCII letters and digits (spec §2); 20 characters is a SHOULD, not enforced.
export const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
// RFC 3339 date-time (spec: Timestamp type).
const RFC3339 =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
// URI-reference (RFC 3986): no whitespace, no control characters, and well-formed percent escapes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is rejected
const URI_REFERENCE = /^(?:[^\s\x00-\x1f\x7f%]|%[0-9A-Fa-f]{2})+$/;
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export type Mode = 'binary' | 'structured';

export interface Received {
  readonly event: CloudEvent;
  readonly mode: Mode;
}

/** True when the request looks like a CloudEvent in any mode (used to route plain HTTP elsewhere). */
export function looksLikeCloudEvent(headers: IncomingHttpHeaders): boolean {
  if (headers['ce-specversion'] !== undefined) return true;
  const ct = headers['content-type'];
  return ct?.startsWith('application/cloudevents') === true;
}

/** Media type without parameters, lower-cased: `Application/JSON; charset=utf-8` → `application/json`. */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  // An event's content type is read four times on its way (receive, data, schema, reply), and a function's
  // events mostly share one: the last answer is kept (a comparison instead of a slice, trim and lower-casing).
  if (contentType === lastContentType) return lastMediaType;
  const semi = contentType.indexOf(';');
  lastMediaType = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  lastContentType = contentType;
  return lastMediaType;
}
let lastContentType = '';
let lastMediaType = '';

export function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || type === 'text/json' || type.endsWith('+json');
}

/** How a reader turns header values and data into an event (see `receive` and `receiveVerbatim`). */
interface Profile {
  /** Lenient percent-decoding of `ce-*` values (the runtime), or values kept as sent (the broker). */
  readonly decode: boolean;
  /** `data` parsed per its content type (the runtime), or left as the bytes (the broker). */
  readonly parseData: boolean;
  /** Header strings hold one character per byte (node:http, fetch); false for text (AMQP headers). */
  readonly headerBytes: boolean;
}

export interface ReceiveOptions {
  /**
   * node:http's `req.rawHeaders`. node joins a repeated header with ", "; with these, a `ce-*` value
   * containing ", " is checked against them, and a repeated `ce-*` header is refused (the binding maps
   * each attribute to one header). Read only then, so passing them costs nothing.
   */
  readonly rawHeaders?: readonly string[];
}

export interface VerbatimOptions extends ReceiveOptions {
  /** False when header values are already text (AMQP headers) rather than one character per byte. @default true */
  readonly headerBytes?: boolean;
}

const RUNTIME: Profile = { decode: true, parseData: true, headerBytes: true };
const VERBATIM: Profile = { decode: false, parseData: false, headerBytes: true };
const VERBATIM_TEXT: Profile = { decode: false, parseData: false, headerBytes: false };

/**
 * Parses one HTTP request into a CloudEvent as a function receives it, or throws InvalidEventError saying
 * exactly why not. `ce-*` values are read as UTF-8 and percent-decoded leniently; `data` is parsed per its
 * content type and `dataBytes` keeps the exact bytes.
 */
export function receive(headers: IncomingHttpHeaders, body: Buffer, options?: ReceiveOptions): Received {
  return read(headers, body, RUNTIME, options?.rawHeaders);
}

/**
 * Parses a request as eventing-rabbitmq's Go data plane does (sdk-go `binding.ToEvent`): `ce-*` values are
 * kept as sent (read as UTF-8, never percent-decoded), and `data` is the exact bytes, never parsed — in
 * binary mode the body, in structured mode the text of the `data` member (or `data_base64` decoded). What
 * the local broker's ingress, its AMQP reader and its reply reader use, so that events leave it as they came.
 */
export function receiveVerbatim(
  headers: IncomingHttpHeaders,
  body: Buffer,
  options?: VerbatimOptions,
): Received {
  return read(headers, body, options?.headerBytes === false ? VERBATIM_TEXT : VERBATIM, options?.rawHeaders);
}

function read(
  headers: IncomingHttpHeaders,
  body: Buffer,
  profile: Profile,
  rawHeaders: readonly string[] | undefined,
): Received {
  const type = mediaType(headers['content-type']);
  if (type === BATCH_CONTENT_TYPE) {
    throw new InvalidEventError(
      'batched mode is not supported: send one event per request (binary or structured mode)',
      [{ name: 'content-type', reason: `${BATCH_CONTENT_TYPE} is not accepted` }],
      415,
    );
  }
  if (type.startsWith('application/cloudevents')) {
    if (type !== STRUCTURED_CONTENT_TYPE) {
      throw new InvalidEventError(
        `unsupported event format "${type}": only ${STRUCTURED_CONTENT_TYPE} is supported`,
        [{ name: 'content-type', reason: 'unsupported event format' }],
        415,
      );
    }
    return { event: parseStructured(body, profile), mode: 'structured' };
  }
  if (headers['ce-specversion'] === undefined && headers['ce-id'] === undefined) {
    throw new InvalidEventError('not a CloudEvent: no ce-specversion header and not structured mode', [
      { name: 'specversion', reason: 'missing' },
    ]);
  }
  return { event: parseBinary(headers, body, profile, rawHeaders), mode: 'binary' };
}

const REPEATED = 'header given more than once (the binding maps an attribute to one header)';
/**
 * True when `value` holds a `%` (an escape), a byte above 0x7F (UTF-8 to read) or a comma (node joins a
 * repeated header with ", "): /[%,\u0080-\uffff]/, as a loop (every `ce-*` header of every event runs it).
 */
function special(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 || c === 0x2c || c > 0x7f) return true;
  }
  return false;
}

/** True when `header` (lower-case) occurs more than once in node's rawHeaders (name, value, name, …). */
function repeated(rawHeaders: readonly string[], header: string): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === header.length && name.toLowerCase() === header && ++seen > 1) return true;
  }
  return false;
}

function parseBinary(
  headers: IncomingHttpHeaders,
  body: Buffer,
  profile: Profile,
  rawHeaders: readonly string[] | undefined,
): CloudEvent {
  const problems: InvalidParam[] = [];
  const attrs = new ContextAttributes();
  const extensions: Record<string, ExtensionValue> = {};
  let uris: Record<string, string> | undefined;
  for (const header in headers) {
    if (!header.startsWith('ce-')) continue;
    const known = KNOWN_HEADERS.get(header);
    const name = known ?? header.slice(3);
    const raw = headers[header];
    if (typeof raw !== 'string') {
      problems.push({ name, reason: REPEATED });
      continue;
    }
    // One scan on the common path: a value with no `%`, no non-ASCII byte and no ", " needs nothing more.
    const plain = !special(raw);
    if (!plain && rawHeaders !== undefined && raw.includes(', ') && repeated(rawHeaders, header)) {
      problems.push({ name, reason: REPEATED });
      continue;
    }
    const context = known !== undefined && CONTEXT_ATTRIBUTES.has(known);
    if (known === undefined && !ATTRIBUTE_NAME.test(name)) {
      problems.push({ name, reason: 'attribute names must be lower-case letters and digits' });
      continue;
    }
    if (name === 'datacontenttype') {
      problems.push({
        name,
        reason: 'in binary mode datacontenttype is the Content-Type header, not ce-datacontenttype',
      });
      continue;
    }
    if (name === 'data' || name === 'data_base64') {
      problems.push({ name, reason: 'data travels in the body in binary mode' });
      continue;
    }
    const value = plain
      ? raw
      : profile.decode
        ? readHeaderValue(raw)
        : profile.headerBytes
          ? headerText(raw)
          : raw;
    if (context) {
      attrs.set(name, value);
      // A URI-reference is checked as it travelled: decoding `%25` in a producer's `a%25b` must not make it invalid.
      if (value !== raw && (name === 'source' || name === 'dataschema')) {
        uris ??= {};
        uris[name] = profile.headerBytes ? headerText(raw) : raw;
      }
    } else extensions[name] = value;
  }
  const contentType = headers['content-type'];
  if (contentType !== undefined)
    attrs.datacontenttype = profile.headerBytes ? headerText(contentType) : contentType;
  checkContextAttributes(attrs, problems, uris);
  if (problems.length > 0) throw new InvalidEventError(describe(problems), problems);

  if (body.length === 0) return freeze(attrs, undefined, extensions, undefined);
  return freeze(attrs, profile.parseData ? decodeData(attrs.datacontenttype, body) : body, extensions, body);
}

/**
 * Binary-mode data as a function reads it: JSON parsed, text as a string, anything else the bytes.
 * Without a Content-Type the body is JSON when it parses as JSON (a structured-mode event without
 * datacontenttype, which brokers deliver in binary mode without one), else the bytes.
 */
function decodeData(contentType: string | undefined, body: Buffer): unknown {
  const media = mediaType(contentType);
  if (isJsonMediaType(media)) return parseJson(body, 'data');
  if (media === '') {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      return body;
    }
  }
  if (media.startsWith('text/')) return body.toString('utf8');
  return body;
}

function parseStructured(body: Buffer, profile: Profile): CloudEvent {
  const parsed = parseJson(body, 'body');
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidEventError('structured-mode body must be a JSON object', [
      { name: 'body', reason: 'not an object' },
    ]);
  }
  const problems: InvalidParam[] = [];
  const attrs = new ContextAttributes();
  const extensions: Record<string, ExtensionValue> = {};
  const object = parsed as Record<string, unknown>;
  for (const name in object) {
    if (name === 'data' || name === 'data_base64') continue;
    const value = object[name];
    if (!ATTRIBUTE_NAME.test(name)) {
      problems.push({ name, reason: 'attribute names must be lower-case letters and digits' });
      continue;
    }
    // JSON format §2.2: null for an attribute is the same as leaving it out (a REQUIRED one is then missing).
    if (value === null) continue;
    if (CONTEXT_ATTRIBUTES.has(name)) {
      if (typeof value !== 'string') problems.push({ name, reason: 'must be a string' });
      else attrs.set(name, value);
    } else if (typeof value === 'string' || typeof value === 'boolean') {
      extensions[name] = value;
    } else if (
      typeof value === 'number' &&
      Number.isInteger(value) &&
      value >= -2147483648 &&
      value <= 2147483647
    ) {
      extensions[name] = value; // spec Integer: 32-bit signed
    } else {
      problems.push({ name, reason: 'extension values must be a string, a boolean or a 32-bit integer' });
    }
  }
  checkContextAttributes(attrs, problems, undefined);
  const hasData = Object.hasOwn(object, 'data');
  const hasBase64 = Object.hasOwn(object, 'data_base64') && object.data_base64 !== null;
  if (hasData && hasBase64)
    problems.push({ name: 'data_base64', reason: 'data and data_base64 are mutually exclusive' });
  let bytes: Uint8Array | (() => Uint8Array) | undefined;
  let data: unknown;
  if (hasBase64) {
    const b64 = object.data_base64;
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      problems.push({ name: 'data_base64', reason: 'must be a base64 string' });
    } else {
      bytes = Buffer.from(b64, 'base64');
      data = bytes;
    }
  } else if (hasData) {
    const value = object.data;
    const media = mediaType(attrs.datacontenttype);
    if (typeof value === 'string' && media !== '' && !isJsonMediaType(media)) {
      // JSON format: data of a non-JSON media type is a JSON string holding the text itself.
      bytes = Buffer.from(value);
      data = value;
    } else {
      // JSON (or no datacontenttype, which means JSON here): the member's exact text, found only when asked for.
      bytes = profile.parseData ? () => dataMemberBytes(body) : dataMemberBytes(body);
      data = value;
    }
  }
  if (problems.length > 0) throw new InvalidEventError(describe(problems), problems);
  // The broker's reading: data is the bytes themselves, so nothing downstream can re-serialise a value.
  return freeze(attrs, profile.parseData ? data : bytes, extensions, bytes);
}

function dataMemberBytes(body: Buffer): Buffer {
  const span = memberSpan(body, 'data');
  // Unreachable for a body JSON.parse accepted with a data member; the empty buffer keeps the type total.
  return span === undefined ? Buffer.alloc(0) : body.subarray(span.start, span.end);
}

/** `uris`: source / dataschema as they travelled, when that differs from the decoded value. */
function checkContextAttributes(
  attrs: ContextAttributes,
  problems: InvalidParam[],
  uris: Record<string, string> | undefined,
): void {
  const { specversion, id, subject, time, type } = attrs;
  const source = uris?.source ?? attrs.source;
  const dataschema = uris?.dataschema ?? attrs.dataschema;
  if (specversion === undefined) problems.push({ name: 'specversion', reason: 'missing' });
  else if (specversion !== '1.0')
    problems.push({ name: 'specversion', reason: `unsupported version "${specversion}", expected "1.0"` });
  if (id === undefined || id === '')
    problems.push({ name: 'id', reason: id === undefined ? 'missing' : 'must not be empty' });
  if (source === undefined || source === '') {
    problems.push({ name: 'source', reason: source === undefined ? 'missing' : 'must not be empty' });
  } else if (!URI_REFERENCE.test(source))
    problems.push({ name: 'source', reason: 'must be a URI-reference' });
  if (type === undefined || type === '')
    problems.push({ name: 'type', reason: type === undefined ? 'missing' : 'must not be empty' });
  if (subject === '') problems.push({ name: 'subject', reason: 'must not be empty when present' });
  if (time !== undefined && !isRfc3339(time))
    problems.push({ name: 'time', reason: 'must be an RFC 3339 timestamp' });
  if (dataschema !== undefined && !(URI_REFERENCE.test(dataschema) && ABSOLUTE_URI.test(dataschema))) {
    problems.push({ name: 'dataschema', reason: 'must be an absolute URI' });
  }
  if (attrs.datacontenttype === '')
    problems.push({ name: 'datacontenttype', reason: 'must not be empty when present' });
}

function isRfc3339(value: string): boolean {
  if (!RFC3339.test(value)) return false;
  // Reject calendar-impossible days such as 2024-02-30. The pattern fixed where the digits are: read them
  // from there (no match array, no substrings, no string-to-number: every event with a time runs this).
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  return day <= daysInMonth(year, month);
}

/** The decimal number of `length` ASCII digits of `text` from `at`. */
function digits(text: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidEventError(`${what} is not valid JSON`, [
      { name: what, reason: (err as Error).message },
    ]);
  }
}

function describe(problems: readonly InvalidParam[]): string {
  // The first few only: the message is an answer and a log line, not a copy of the input.
  const shown = problems.slice(0, Limits.problems).map((p) => `${p.name} ${p.reason}`);
  const more = problems.length - shown.length;
  return `invalid CloudEvent: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * A received event: attributes, data and extensions as own properties; `dataBytes` a getter on the
 * prototype, so that a copy made by spreading (`{ ...event, data: other }`) does not carry bytes that no
 * longer match its data, and the structured-mode `data` text is located only when read.
 */
class ReceivedEvent {
  readonly specversion = '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly data: unknown;
  readonly extensions: Readonly<Record<string, ExtensionValue>>;
  #bytes: Uint8Array | (() => Uint8Array) | undefined;

  constructor(
    attrs: ContextAttributes,
    data: unknown,
    extensions: Record<string, ExtensionValue>,
    bytes: Uint8Array | (() => Uint8Array) | undefined,
  ) {
    this.id = attrs.id as string;
    this.source = attrs.source as string;
    this.type = attrs.type as string;
    this.data = data;
    this.extensions = Object.freeze(extensions);
    this.#bytes = bytes;
  }

  get dataBytes(): Uint8Array | undefined {
    const bytes = this.#bytes;
    if (typeof bytes !== 'function') return bytes;
    const located = bytes();
    this.#bytes = located; // a private field: writable although the event is frozen
    return located;
  }
}

function freeze(
  attrs: ContextAttributes,
  data: unknown,
  extensions: Record<string, ExtensionValue>,
  bytes: Uint8Array | (() => Uint8Array) | undefined,
): CloudEvent {
  const event = new ReceivedEvent(attrs, data, extensions, bytes) as unknown as Record<string, unknown>;
  if (attrs.subject !== undefined) event.subject = attrs.subject;
  if (attrs.time !== undefined) event.time = attrs.time;
  if (attrs.datacontenttype !== undefined) event.datacontenttype = attrs.datacontenttype;
  if (attrs.dataschema !== undefined) event.dataschema = attrs.dataschema;
  return Object.freeze(event) as unknown as CloudEvent;
}
