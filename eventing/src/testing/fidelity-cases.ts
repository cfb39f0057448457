/**
 * The event fidelity cases (issue 12): events a mainstream producer sends, each written by hand in every
 * way a producer can put it on the wire, and what a subscriber behind the broker must then receive —
 * header bytes and body bytes, compared exactly. Shared by `fidelity.contract.ts` (our producer, both
 * backends) and `sdk-go-fidelity.int.test.ts` (the CloudEvents Go SDK as producer and receiver).
 *
 * Nothing here goes through the runtime's encoder: the requests are built from the cases' text, so a bug
 * in `encode.ts` cannot hide a bug in the broker.
 */

/** CloudEvents types of extension values (spec "Type System"); in binary mode all travel as strings. */
export type ExtensionCase =
  | { readonly type: 'Boolean'; readonly value: boolean }
  | { readonly type: 'Integer'; readonly value: number }
  | {
      readonly type: 'String' | 'Binary' | 'URI' | 'URI-reference' | 'Timestamp';
      readonly value: string;
    };

export type DataCase =
  | { readonly kind: 'json'; readonly text: string }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'bytes'; readonly bytes: readonly number[] };

export interface FidelityCase {
  readonly name: string;
  readonly source: string;
  readonly subject?: string;
  readonly time?: string;
  readonly dataschema?: string;
  readonly datacontenttype?: string;
  readonly extensions: Readonly<Record<string, ExtensionCase>>;
  readonly data?: DataCase;
}

export const FIDELITY_CASES: readonly FidelityCase[] = [
  {
    name: 'json-large-integers',
    source: '/fidelity',
    datacontenttype: 'application/json',
    extensions: {},
    data: {
      kind: 'json',
      text: '{"id":9007199254740993,"neg":-9007199254740993,"huge":123456789012345678901234567890}',
    },
  },
  {
    name: 'json-decimals',
    source: '/fidelity',
    datacontenttype: 'application/json; charset=utf-8',
    extensions: {},
    data: { kind: 'json', text: '{"price":1.10,"rate":0.500,"exp":1.5E+10,"negzero":-0.0,"n":[1.0,2.00]}' },
  },
  {
    name: 'json-html-escapes-numeric-keys',
    source: '/fidelity',
    datacontenttype: 'application/json',
    extensions: {},
    data: {
      kind: 'json',
      text: '{\n  "z": "<b>&amp;</b>",\n  "esc": "\\u003cscript\\u003e \\/ caf\\u00e9 \\ud83d\\ude00",\n  "b": 1,\n  "2": "two",\n  "10": "ten",\n  "1": "one"\n}',
    },
  },
  {
    name: 'json-scalar-number',
    source: '/fidelity',
    datacontenttype: 'application/json',
    extensions: {},
    data: { kind: 'json', text: '9007199254740993' },
  },
  {
    name: 'text',
    source: '/fidelity',
    datacontenttype: 'text/plain; charset=utf-8',
    extensions: {},
    data: { kind: 'text', text: 'héllo\n"world" ☕ 100%\r\n' },
  },
  {
    name: 'xml-text',
    source: '/fidelity',
    datacontenttype: 'application/xml',
    extensions: {},
    data: { kind: 'text', text: '<a b="c">é &amp; ☕</a>' },
  },
  {
    name: 'raw-bytes',
    source: '/fidelity',
    datacontenttype: 'application/octet-stream',
    extensions: {},
    data: { kind: 'bytes', bytes: [0, 1, 2, 0x7f, 0x80, 0xc3, 0x28, 0xfe, 0xff, 0x0d, 0x0a] },
  },
  { name: 'no-data', source: '/fidelity', extensions: {} },
  {
    name: 'no-datacontenttype-json',
    source: '/fidelity',
    extensions: {},
    data: { kind: 'json', text: '{"a":1.10,"b":[9007199254740993]}' },
  },
  {
    name: 'no-datacontenttype-bytes',
    source: '/fidelity',
    extensions: {},
    data: { kind: 'bytes', bytes: [0xff, 0xd8, 0xff, 0xe0] },
  },
  {
    name: 'extensions-every-type',
    source: '/fidelity',
    datacontenttype: 'application/json',
    extensions: {
      flag: { type: 'Boolean', value: true },
      off: { type: 'Boolean', value: false },
      count: { type: 'Integer', value: 42 },
      minint: { type: 'Integer', value: -2147483648 },
      label: { type: 'String', value: 'plain' },
      blob: { type: 'Binary', value: 'AAEC/w==' },
      link: { type: 'URI', value: 'https://example.com/x?y=1&z=%20' },
      ref: { type: 'URI-reference', value: '/rel/path#frag' },
      at: { type: 'Timestamp', value: '2024-05-01T10:00:00.123456789+02:00' },
    },
    data: { kind: 'json', text: '{}' },
  },
  {
    name: 'time-offset-nanoseconds',
    source: '/fidelity',
    time: '2024-02-29T23:59:59.123456789+05:30',
    dataschema: 'https://example.com/schemas/fidelity.json',
    extensions: {},
  },
  {
    name: 'time-negative-offset',
    source: '/fidelity',
    time: '1999-12-31T23:59:59.000000001-08:00',
    extensions: {},
  },
  {
    name: 'non-ascii-and-percent',
    source: '/sources/café',
    subject: 'café ☕ save 50% "quoted" item%41',
    datacontenttype: 'application/json',
    extensions: {
      note: { type: 'String', value: '100%25 %zz ünï' },
      emoji: { type: 'String', value: '😀' },
    },
    data: { kind: 'json', text: '{"s":"é"}' },
  },
];

/** How the producer puts the event on the wire. */
export const PRODUCER_MODE = {
  /** Binary mode, `ce-*` values as raw UTF-8 bytes: what sdk-go and most HTTP clients send. */
  binaryRaw: 'binary-raw',
  /** Binary mode, values percent-encoded as the HTTP binding §3.1.3.2 says. */
  binaryPercent: 'binary-percent',
  /** Structured mode (`application/cloudevents+json`). */
  structured: 'structured',
} as const;
export type ProducerMode = (typeof PRODUCER_MODE)[keyof typeof PRODUCER_MODE];
export const PRODUCER_MODES: readonly ProducerMode[] = Object.values(PRODUCER_MODE);

/** A request or response as it goes on the wire: header values one character per byte. */
export interface WireMessage {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** What a subscriber must receive: `ce-*` and Content-Type header bytes, and the body. */
export interface WireExpectation {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

const bytes = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

function percent(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    out += code > 0x20 && code < 0x7f && ch !== '"' && ch !== '%' ? ch : encodeURIComponent(ch);
  }
  return out;
}

export function dataBytes(data: DataCase | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  return data.kind === 'bytes' ? Buffer.from(data.bytes) : Buffer.from(data.text, 'utf8');
}

/** Attribute → canonical string, in header order: the values a binary-mode message carries. */
function attributeStrings(c: FidelityCase, id: string, type: string): [string, string][] {
  const list: [string, string][] = [
    ['specversion', '1.0'],
    ['id', id],
    ['source', c.source],
    ['type', type],
  ];
  if (c.subject !== undefined) list.push(['subject', c.subject]);
  if (c.time !== undefined) list.push(['time', c.time]);
  if (c.dataschema !== undefined) list.push(['dataschema', c.dataschema]);
  for (const [name, ext] of Object.entries(c.extensions)) list.push([name, String(ext.value)]);
  return list;
}

/** The message a producer sends in `mode` for case `c` under the given id and type. */
export function producerMessage(c: FidelityCase, mode: ProducerMode, id: string, type: string): WireMessage {
  if (mode === PRODUCER_MODE.structured) {
    // Written as text, so the data member is exactly the case's text.
    const members = [
      ...attributeStrings(c, id, type)
        .filter(([name]) => c.extensions[name] === undefined)
        .map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`),
      ...Object.entries(c.extensions).map(
        ([name, ext]) => `${JSON.stringify(name)}:${JSON.stringify(ext.value)}`,
      ),
    ];
    if (c.datacontenttype !== undefined)
      members.push(`"datacontenttype":${JSON.stringify(c.datacontenttype)}`);
    const d = c.data;
    if (d?.kind === 'json') members.push(`"data":${d.text}`);
    else if (d?.kind === 'text') members.push(`"data":${JSON.stringify(d.text)}`);
    else if (d?.kind === 'bytes') members.push(`"data_base64":"${Buffer.from(d.bytes).toString('base64')}"`);
    return {
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
      body: Buffer.from(`{${members.join(',')}}`, 'utf8'),
    };
  }
  const encode = mode === PRODUCER_MODE.binaryRaw ? bytes : percent;
  const headers: Record<string, string> = {};
  for (const [name, value] of attributeStrings(c, id, type)) headers[`ce-${name}`] = encode(value);
  if (c.datacontenttype !== undefined) headers['content-type'] = bytes(c.datacontenttype);
  return { headers, body: dataBytes(c.data) };
}

/**
 * What the subscriber receives (binary mode, as eventing-rabbitmq's dispatcher writes it): a binary-mode
 * event's header bytes exactly as sent; a structured one's attributes as raw UTF-8 header bytes; the data
 * bytes exactly; Content-Type only when the event has a datacontenttype.
 */
export function expectedAtSubscriber(
  c: FidelityCase,
  mode: ProducerMode,
  id: string,
  type: string,
): WireExpectation {
  if (mode !== PRODUCER_MODE.structured) return producerMessage(c, mode, id, type);
  const headers: Record<string, string> = {};
  for (const [name, value] of attributeStrings(c, id, type)) headers[`ce-${name}`] = bytes(value);
  if (c.datacontenttype !== undefined) headers['content-type'] = bytes(c.datacontenttype);
  return { headers, body: dataBytes(c.data) };
}

/** The `ce-*` and Content-Type headers of node's rawHeaders, names lower-cased, values as bytes. */
export function eventHeadersOf(rawHeaders: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name.startsWith('ce-') || name === 'content-type') out[name] = rawHeaders[i + 1] as string;
  }
  return out;
}

/** Readable form of header bytes for failure messages. */
export function asText(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Buffer.from(v, 'latin1').toString('utf8')]),
  );
}

// RFC 3339 in UTC, as a send time is written (sdk-go `types.FormatTime`, `Date.toISOString`).
const SEND_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/**
 * Headers without the `ce-time` the upstream data plane stamps on an event that had none (sdk-go
 * `DefaultTimeToNowIfNotSet`, eventing/src/data-plane.ts `stampTime`): checked to be a send time, then
 * dropped, so the rest can be compared exactly. Anything else — a time that should not be there, or one
 * that is not a timestamp — is left in and fails the comparison.
 */
export function withoutStampedTime(
  headers: Readonly<Record<string, string>>,
  sentTime: string | undefined,
  stampTime: boolean,
): Record<string, string> {
  const out = { ...headers };
  const time = out['ce-time'];
  if (stampTime && sentTime === undefined && time !== undefined && SEND_TIME.test(time))
    delete out['ce-time'];
  return out;
}
