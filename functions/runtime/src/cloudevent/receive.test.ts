import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../errors.ts';
import { looksLikeCloudEvent, mediaType, receive } from './receive.ts';

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
      expect(Object.isFrozen(event)).toBe(true);
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

    it.each(['%', '%2', '%zz', '%C3', 'ok%E2%82'])('rejects the invalid percent escape %j', (raw) => {
      const err = rejection(() => binary({ 'ce-subject': raw }));
      expect(err.invalidParams).toContainEqual({
        name: 'subject',
        reason: 'invalid percent-encoding in header value',
      });
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

    it('leaves data undefined for an empty body', () => {
      expect(binary({ 'content-type': undefined }, Buffer.alloc(0)).event.data).toBeUndefined();
    });
  });

  describe('structured mode', () => {
    it('parses a valid event and defaults datacontenttype to JSON for data', () => {
      const { event, mode } = structured({ ...STRUCTURED, partitionkey: 'p' });
      expect(mode).toBe('structured');
      expect(event.data).toEqual({ n: 1 });
      expect(event.datacontenttype).toBe('application/json');
      expect(event.extensions).toEqual({ partitionkey: 'p' });
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
