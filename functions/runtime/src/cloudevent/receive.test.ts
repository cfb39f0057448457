import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../errors.ts';
import type { CloudEvent } from '../types.ts';
import { looksLikeCloudEvent, mediaType, receive, receiveVerbatim } from './receive.ts';

const BINARY: IncomingHttpHeaders = {
  'ce-specversion': '1.0',
  'ce-id': 'e-1',
  'ce-source': '/tests',
  'ce-type': 'dev.sluice.test.thing.happened.v1',
  'content-type': 'application/json',
};
const STRUCTURED = {
  specversion: '1.0',
  id: 'e-1',
  source: '/tests',
  type: 'dev.sluice.test.thing.happened.v1',
  data: { n: 1 },
};
const JSON_BODY = Buffer.from('{"n":1}');

function binary(overrides: Record<string, string | undefined>, body = JSON_BODY) {
  const headers: IncomingHttpHeaders = { ...BINARY };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return receive(headers, body);
}

function structured(doc: Record<string, unknown>, contentType = 'application/cloudevents+json') {
  return receive({ 'content-type': contentType }, Buffer.from(JSON.stringify(doc)));
}

/** Runs `act`, expects an InvalidEventError and returns it. */
function rejection(act: () => unknown): InvalidEventError {
  try {
    act();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidEventError);
    return err as InvalidEventError;
  }
  throw new Error('expected an InvalidEventError, but the event was accepted');
}

function paramNames(err: InvalidEventError): string[] {
  return err.invalidParams.map((p) => p.name);
}

describe('receive', () => {
  describe('binary mode', () => {
    it('parses a valid event with JSON data', () => {
      const { event, mode } = binary({});
      expect(mode).toBe('binary');
      expect(event).toEqual({
        specversion: '1.0',
        id: 'e-1',
        source: '/tests',
        type: 'dev.sluice.test.thing.happened.v1',
        datacontenttype: 'application/json',
        data: { n: 1 },
        extensions: {},
      });
      expect(event.dataBytes).toBe(JSON_BODY);
      expect(Object.isFrozen(event)).toBe(true);
    });

    it('does not carry dataBytes into a copy made by spreading, whose data may differ', () => {
      const { event } = binary({});
      const copy: CloudEvent = { ...event, data: { n: 2 } };
      expect(copy.dataBytes).toBeUndefined();
      expect(copy.id).toBe(event.id);
    });

    it('rejects a missing id with 400', () => {
      const err = rejection(() => binary({ 'ce-id': undefined }));
      expect(err.status).toBe(400);
      expect(err.invalidParams).toContainEqual({ name: 'id', reason: 'missing' });
    });

    it('rejects an empty id with 400', () => {
      const err = rejection(() => binary({ 'ce-id': '' }));
      expect(err.invalidParams).toContainEqual({ name: 'id', reason: 'must not be empty' });
    });

    it('rejects a missing specversion when other ce- headers are present', () => {
      const err = rejection(() => binary({ 'ce-specversion': undefined }));
      expect(err.status).toBe(400);
      expect(err.invalidParams).toContainEqual({ name: 'specversion', reason: 'missing' });
    });

    it('rejects a request with no ce- headers at all as not a CloudEvent', () => {
      const err = rejection(() => receive({ 'content-type': 'application/json' }, JSON_BODY));
      expect(err.status).toBe(400);
      expect(paramNames(err)).toEqual(['specversion']);
    });

    it.each(['0.3', '1', '2.0', '1.0 '])('rejects specversion %j', (version) => {
      const err = rejection(() => binary({ 'ce-specversion': version }));
      expect(paramNames(err)).toEqual(['specversion']);
    });

    it.each([
      'yesterday',
      '2024-01-01',
      '2024-01-01 10:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T10:00:00',
      '2024-01-01T10:00:00+25:00',
    ])('rejects time %j', (time) => {
      const err = rejection(() => binary({ 'ce-time': time }));
      expect(err.invalidParams).toContainEqual({ name: 'time', reason: 'must be an RFC 3339 timestamp' });
    });

    it.each([
      '2024-02-29T00:00:00Z',
      '2000-02-29T23:59:60.123+01:00',
      '0000-02-29T00:00:00Z',
      '2024-12-31t10:00:00.5z',
    ])('accepts time %j', (time) => {
      expect(binary({ 'ce-time': time }).event.time).toBe(time);
    });

    it.each(['', 'has space', 'bad%zzescape', 'tab\there'])('rejects source %j', (source) => {
      const err = rejection(() => binary({ 'ce-source': source }));
      expect(paramNames(err)).toContain('source');
    });

    it.each(['/relative/path', 'urn:sluice:x', 'https://example.com/a?b=c#d'])(
      'accepts source %j',
      (source) => {
        expect(binary({ 'ce-source': source }).event.source).toBe(source);
      },
    );

    it('accepts a source with a percent escape (structured mode, where values are not decoded)', () => {
      expect(structured({ ...STRUCTURED, source: 'https://x.test/a%20b' }).event.source).toBe(
        'https://x.test/a%20b',
      );
    });

    it('rejects a missing or empty type', () => {
      expect(paramNames(rejection(() => binary({ 'ce-type': undefined })))).toEqual(['type']);
      expect(paramNames(rejection(() => binary({ 'ce-type': '' })))).toEqual(['type']);
    });

    it('rejects an empty subject and a relative dataschema', () => {
      const err = rejection(() => binary({ 'ce-subject': '', 'ce-dataschema': '/schemas/x.json' }));
      expect(paramNames(err).sort()).toEqual(['dataschema', 'subject']);
    });

    it('lists every problem at once', () => {
      const err = rejection(() => binary({ 'ce-id': undefined, 'ce-type': undefined, 'ce-time': 'x' }));
      expect(paramNames(err).sort()).toEqual(['id', 'time', 'type']);
      expect(err.message).toContain('id missing');
    });

    it('rejects extension names that are not lower-case letters and digits', () => {
      const err = rejection(() => binary({ 'ce-my_ext': 'v', 'ce-my-ext': 'v' }));
      expect(paramNames(err).sort()).toEqual(['my-ext', 'my_ext']);
    });

    it('keeps valid extensions as strings apart from the core attributes', () => {
      const { event } = binary({ 'ce-partitionkey': 'k1', 'ce-sequence': '42' });
      expect(event.extensions).toEqual({ partitionkey: 'k1', sequence: '42' });
    });

    it('percent-decodes ce- header values, including UTF-8 sequences', () => {
      const { event } = binary({
        'ce-subject': 'a%20%22quoted%22%20100%25%20caf%C3%A9',
        'ce-comment': '%E2%82%AC',
      });
      expect(event.subject).toBe('a "quoted" 100% café');
      expect(event.extensions.comment).toBe('€');
    });

    it.each([
      ['a lone percent', 'save 50%', 'save 50%'],
      ['a percent without two hex digits', '%2 and %zz', '%2 and %zz'],
      ['a truncated UTF-8 sequence', 'ok%E2%82', 'ok%E2%82'],
      ['a lone lead byte before a valid escape', '%C3%41', '%C3A'],
      ['an overlong form', '%C0%A0', '%C0%A0'],
      ['a surrogate', '%ED%A0%80', '%ED%A0%80'],
      ['a code point above U+10FFFF', '%F4%90%80%80', '%F4%90%80%80'],
      ['a four-byte character', '%F0%9F%98%80', '😀'],
      ['an escaped percent next to a bad one', '100%25%zz', '100%%zz'],
    ])('decodes leniently, never refusing: %s', (_what, raw, expected) => {
      expect(binary({ 'ce-subject': raw }).event.subject).toBe(expected);
    });

    it('decodes an escape that forms UTF-8, as the binding says (item%41 is itemA)', () => {
      expect(binary({ 'ce-subject': 'item%41' }).event.subject).toBe('itemA');
    });

    it('reads header bytes as UTF-8 (raw UTF-8 as sdk-go sends it), else keeps them as Latin-1', () => {
      const asBytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
      const { event } = binary({ 'ce-subject': asBytes('café ☕'), 'ce-note': asBytes('naïve 50%') });
      expect(event.subject).toBe('café ☕');
      expect(event.extensions.note).toBe('naïve 50%');
      expect(binary({ 'ce-subject': '\u00e9t\u00e9' }).event.subject).toBe('été'); // E9 74 E9: not UTF-8
    });

    it('checks source as it travelled, so a decoded %25 does not make a valid URI invalid', () => {
      expect(binary({ 'ce-source': 'https://x.test/50%25off' }).event.source).toBe('https://x.test/50%off');
      expect(binary({ 'ce-source': 'https://x.test/a%2520b' }).event.source).toBe('https://x.test/a%20b');
    });

    it('refuses a ce- header given twice, which node:http joins with ", " (400)', () => {
      const rawHeaders = ['ce-specversion', '1.0', 'ce-id', 'e-1', 'Ce-Subject', 'a', 'ce-subject', 'b'];
      const err = rejection(() => receive({ ...BINARY, 'ce-subject': 'a, b' }, JSON_BODY, { rawHeaders }));
      expect(err.status).toBe(400);
      expect(paramNames(err)).toEqual(['subject']);
      expect(err.invalidParams[0]?.reason).toMatch(/more than once/);
    });

    it('keeps one ce- header value that contains ", "', () => {
      const rawHeaders = ['ce-subject', 'a, b', 'ce-id', 'e-1'];
      expect(receive({ ...BINARY, 'ce-subject': 'a, b' }, JSON_BODY, { rawHeaders }).event.subject).toBe(
        'a, b',
      );
    });

    it('refuses a header value given as a list', () => {
      const err = rejection(() =>
        receive({ ...BINARY, 'ce-subject': ['a', 'b'] } as IncomingHttpHeaders, JSON_BODY),
      );
      expect(paramNames(err)).toEqual(['subject']);
    });

    it('rejects ce-datacontenttype: in binary mode Content-Type carries it', () => {
      const err = rejection(() => binary({ 'ce-datacontenttype': 'application/json' }));
      expect(paramNames(err)).toEqual(['datacontenttype']);
    });

    it('rejects data carried in headers', () => {
      const err = rejection(() => binary({ 'ce-data': '{}' }));
      expect(paramNames(err)).toEqual(['data']);
    });

    it('rejects a JSON Content-Type whose body is not JSON with 400', () => {
      const err = rejection(() => binary({}, Buffer.from('{not json')));
      expect(err.status).toBe(400);
      expect(paramNames(err)).toEqual(['data']);
    });

    it('keeps text as a string and other media types as bytes', () => {
      expect(binary({ 'content-type': 'text/plain; charset=utf-8' }, Buffer.from('hi')).event.data).toBe(
        'hi',
      );
      const bytes = binary({ 'content-type': 'application/octet-stream' }, Buffer.from([1, 2])).event.data;
      expect(Buffer.isBuffer(bytes)).toBe(true);
      expect([...(bytes as Buffer)]).toEqual([1, 2]);
    });

    it('leaves data and dataBytes undefined for an empty body', () => {
      const { event } = binary({ 'content-type': undefined }, Buffer.alloc(0));
      expect(event.data).toBeUndefined();
      expect(event.dataBytes).toBeUndefined();
    });

    it('without a Content-Type, reads JSON bytes as JSON and other bytes as bytes, adding no datacontenttype', () => {
      const json = binary({ 'content-type': undefined }, Buffer.from('{"a":[1]}')).event;
      expect(json.data).toEqual({ a: [1] });
      expect(json.datacontenttype).toBeUndefined();
      const bytes = binary({ 'content-type': undefined }, Buffer.from([0xff, 0x7b])).event;
      expect(Buffer.isBuffer(bytes.data)).toBe(true);
      expect(bytes.datacontenttype).toBeUndefined();
    });

    it('keeps the body as dataBytes: the exact value of a large integer is there', () => {
      const body = Buffer.from('{"id":9007199254740993}');
      const { event } = binary({}, body);
      expect((event.data as { id: number }).id).toBe(9007199254740992); // a JavaScript number
      const exact = JSON.parse(
        Buffer.from(event.dataBytes ?? []).toString(),
        (_k, v, ctx?: { source?: string }) =>
          typeof v === 'number' && !Number.isSafeInteger(v) && ctx?.source !== undefined
            ? BigInt(ctx.source)
            : v,
      );
      expect(exact.id).toBe(9007199254740993n);
    });
  });

  describe('structured mode', () => {
    it('parses a valid event, reading data as JSON without adding a datacontenttype', () => {
      const { event, mode } = structured({ ...STRUCTURED, partitionkey: 'p' });
      expect(mode).toBe('structured');
      expect(event.data).toEqual({ n: 1 });
      expect(event.datacontenttype).toBeUndefined();
      expect(event.extensions).toEqual({ partitionkey: 'p' });
    });

    it('keeps the data member as dataBytes, byte for byte', () => {
      const text = '{ "id": 9007199254740993, "price": 1.10, "b": 1, "2": "\\u003cb\\u003e", "e": [ ] }';
      const body = Buffer.from(
        `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":${text} , "x":"y"}`,
      );
      const { event } = receive({ 'content-type': 'application/cloudevents+json' }, body);
      expect(Buffer.from(event.dataBytes ?? []).toString()).toBe(text);
      expect(event.data).toEqual({ id: 9007199254740992, price: 1.1, b: 1, 2: '<b>', e: [] });
    });

    it('keeps a string of a non-JSON type as its UTF-8 bytes, and data: null as the JSON text null', () => {
      const text = structured({ ...STRUCTURED, datacontenttype: 'text/plain', data: 'é\n' }).event;
      expect(Buffer.from(text.dataBytes ?? []).toString()).toBe('é\n');
      const nothing = structured({ ...STRUCTURED, data: null }).event;
      expect(nothing.data).toBeNull();
      expect(Buffer.from(nothing.dataBytes ?? []).toString()).toBe('null');
    });

    it('treats null for an OPTIONAL attribute or extension as absent (JSON format §2.2)', () => {
      const { event } = structured({
        ...STRUCTURED,
        subject: null,
        time: null,
        datacontenttype: null,
        dataschema: null,
        ext: null,
      });
      expect(event).not.toHaveProperty('subject');
      expect(event).not.toHaveProperty('time');
      expect(event).not.toHaveProperty('datacontenttype');
      expect(event).not.toHaveProperty('dataschema');
      expect(event.extensions).toEqual({});
    });

    it('treats null for a REQUIRED attribute as missing', () => {
      const err = rejection(() => structured({ ...STRUCTURED, id: null, source: null }));
      expect(err.invalidParams).toContainEqual({ name: 'id', reason: 'missing' });
      expect(err.invalidParams).toContainEqual({ name: 'source', reason: 'missing' });
    });

    it('accepts parameters on the Content-Type', () => {
      expect(structured(STRUCTURED, 'Application/CloudEvents+JSON; charset=utf-8').event.id).toBe('e-1');
    });

    it('rejects missing id, missing specversion and wrong specversion', () => {
      const { id: _id, specversion: _v, ...rest } = STRUCTURED;
      expect(paramNames(rejection(() => structured(rest))).sort()).toEqual(['id', 'specversion']);
      const wrong = rejection(() => structured({ ...STRUCTURED, specversion: '0.3' }));
      expect(paramNames(wrong)).toEqual(['specversion']);
    });

    it('rejects context attributes that are not strings', () => {
      const err = rejection(() => structured({ ...STRUCTURED, id: 7 }));
      expect(err.invalidParams).toContainEqual({ name: 'id', reason: 'must be a string' });
    });

    it('decodes data_base64 into bytes', () => {
      const { event } = structured({
        ...STRUCTURED,
        data: undefined,
        datacontenttype: 'application/octet-stream',
        data_base64: Buffer.from('hello').toString('base64'),
      });
      expect(Buffer.from(event.data as Uint8Array).toString()).toBe('hello');
    });

    it('rejects data together with data_base64, and a data_base64 that is not base64', () => {
      const both = rejection(() => structured({ ...STRUCTURED, data_base64: 'aGk=' }));
      expect(both.invalidParams).toContainEqual({
        name: 'data_base64',
        reason: 'data and data_base64 are mutually exclusive',
      });
      const bad = rejection(() => structured({ ...STRUCTURED, data: undefined, data_base64: 'not base64!' }));
      expect(paramNames(bad)).toEqual(['data_base64']);
    });

    it('accepts string, boolean and 32-bit integer extension values and ignores null', () => {
      const { event } = structured({ ...STRUCTURED, s: 'x', b: true, i: -2147483648, n: null });
      expect(event.extensions).toEqual({ s: 'x', b: true, i: -2147483648 });
    });

    it.each([
      ['a float', 1.5],
      ['an integer beyond 32 bits', 2147483648],
      ['an object', { a: 1 }],
      ['an array', [1]],
    ])('rejects an extension value that is %s', (_what, value) => {
      const err = rejection(() => structured({ ...STRUCTURED, ext: value }));
      expect(paramNames(err)).toEqual(['ext']);
    });

    it('rejects attribute names outside lower-case letters and digits, including __proto__', () => {
      const body = Buffer.from(
        `{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad":"x","__proto__":{}}`,
      );
      const err = rejection(() => receive({ 'content-type': 'application/cloudevents+json' }, body));
      expect(paramNames(err).sort()).toEqual(['Bad', '__proto__']);
    });

    it('rejects a body that is not JSON, or not an object, with 400', () => {
      const notJson = rejection(() =>
        receive({ 'content-type': 'application/cloudevents+json' }, Buffer.from('{"id":')),
      );
      expect(notJson.status).toBe(400);
      expect(paramNames(notJson)).toEqual(['body']);
      const array = rejection(() =>
        receive({ 'content-type': 'application/cloudevents+json' }, Buffer.from('[]')),
      );
      expect(array.status).toBe(400);
    });
  });

  describe('unsupported formats', () => {
    it('refuses batched mode with 415 saying batch is unsupported', () => {
      const err = rejection(() =>
        receive(
          { 'content-type': 'application/cloudevents-batch+json' },
          Buffer.from(`[${JSON.stringify(STRUCTURED)}]`),
        ),
      );
      expect(err.status).toBe(415);
      expect(err.message).toMatch(/batch/);
    });

    it('refuses an unknown event format with 415', () => {
      const err = rejection(() =>
        receive({ 'content-type': 'application/cloudevents+avro' }, Buffer.from('x')),
      );
      expect(err.status).toBe(415);
      expect(err.reason).toBe('unsupported-media-type');
    });
  });
});

describe('receiveVerbatim (the broker)', () => {
  it('keeps ce- values as sent: percent escapes not decoded, raw UTF-8 read as text', () => {
    const raw = Buffer.from('café ✓', 'utf8').toString('latin1');
    const { event } = receiveVerbatim(
      { ...BINARY, 'ce-subject': 'caf%C3%A9%20100%25', 'ce-note': raw, 'ce-pct': 'save 50%' },
      JSON_BODY,
    );
    expect(event.subject).toBe('caf%C3%A9%20100%25');
    expect(event.extensions).toEqual({ note: 'café ✓', pct: 'save 50%' });
  });

  it('keeps binary data as bytes, unparsed (upstream does not read data)', () => {
    const body = Buffer.from('{"n": 1.10, not json');
    const { event } = receiveVerbatim(BINARY, body);
    expect(Buffer.isBuffer(event.data)).toBe(true);
    expect(Buffer.from(event.dataBytes ?? []).equals(body)).toBe(true);
  });

  it('keeps structured data as the exact text of the data member', () => {
    const body = Buffer.from(
      '{"specversion":"1.0","id":"1","source":"/s","type":"t","data":[1.10, 9007199254740993]}',
    );
    const { event } = receiveVerbatim({ 'content-type': 'application/cloudevents+json' }, body);
    expect(Buffer.from(event.data as Uint8Array).toString()).toBe('[1.10, 9007199254740993]');
    expect(event.datacontenttype).toBeUndefined();
  });

  it('takes header values as text when told they are (AMQP)', () => {
    const { event } = receiveVerbatim({ ...BINARY, 'ce-subject': 'Ã©' }, JSON_BODY, { headerBytes: false });
    expect(event.subject).toBe('Ã©');
  });

  it('refuses a repeated ce- header too', () => {
    const rawHeaders = ['ce-id', 'a', 'ce-id', 'b'];
    expect(() => receiveVerbatim({ ...BINARY, 'ce-id': 'a, b' }, JSON_BODY, { rawHeaders })).toThrow(
      InvalidEventError,
    );
  });
});

describe('looksLikeCloudEvent', () => {
  it('recognises binary and structured requests and nothing else', () => {
    expect(looksLikeCloudEvent({ 'ce-specversion': '1.0' })).toBe(true);
    expect(looksLikeCloudEvent({ 'content-type': 'application/cloudevents+json' })).toBe(true);
    expect(looksLikeCloudEvent({ 'content-type': 'application/json' })).toBe(false);
  });
});

describe('mediaType', () => {
  it('drops parameters and lower-cases', () => {
    expect(mediaType(' Application/JSON ; charset=utf-8')).toBe('application/json');
    expect(mediaType(undefined)).toBe('');
  });
});
