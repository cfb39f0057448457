import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../types.ts';
import { encodeHeaderValue, HEADER_ENCODING, toBinary, toStructured } from './encode.ts';
import { receive, receiveVerbatim } from './receive.ts';

/** The event without `dataBytes`, which receive() adds and events built in code lack. */
function attributesAndData(event: CloudEvent): Omit<CloudEvent, 'dataBytes'> {
  const { dataBytes: _bytes, ...rest } = event;
  return rest;
}

/** Events as receive() produces them (datacontenttype set whenever there is data). */
const EVENTS: Record<string, CloudEvent> = {
  'JSON data and every optional attribute': {
    specversion: '1.0',
    id: 'id with space "quotes" 100% and é',
    source: 'https://example.com/src?a=1',
    type: 'dev.sluice.test.thing.happened.v1',
    subject: 'Zoë / 50% "off"',
    time: '2026-01-02T03:04:05.678Z',
    dataschema: 'https://example.com/schema.json',
    datacontenttype: 'application/json',
    data: { nested: { list: [1, 'two', null, true] }, text: 'snow ☃' },
    extensions: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', note: 'a b%c' },
  },
  'no data': {
    specversion: '1.0',
    id: '1',
    source: '/s',
    type: 't',
    data: undefined,
    extensions: {},
  },
  'text data': {
    specversion: '1.0',
    id: '2',
    source: '/s',
    type: 't',
    datacontenttype: 'text/plain; charset=utf-8',
    data: 'plain text',
    extensions: {},
  },
  'binary data': {
    specversion: '1.0',
    id: '3',
    source: '/s',
    type: 't',
    datacontenttype: 'application/octet-stream',
    data: Buffer.from([0, 1, 2, 255]),
    extensions: {},
  },
};

describe('encode', () => {
  describe('toBinary', () => {
    it.each(Object.entries(EVENTS))('round-trips an event with %s through receive()', (_name, event) => {
      const message = toBinary(event);
      const back = receive(message.headers, message.body).event;
      expect(attributesAndData(back)).toEqual(event);
      expect(Buffer.from(back.dataBytes ?? []).equals(message.body)).toBe(true);
    });

    it('writes dataBytes as they are, never re-serialising data', () => {
      const text = '{"n":9007199254740993,"price":1.10,"b":1,"2":"x","s":"\\u00e9<"}';
      const event = receive(
        { 'content-type': 'application/cloudevents+json' },
        Buffer.from(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":${text}}`),
      ).event;
      expect(toBinary(event).body.toString()).toBe(text);
    });

    it('writes no Content-Type for an event without datacontenttype, whatever its data', () => {
      for (const data of [Buffer.from([0, 1]), undefined]) {
        const message = toBinary({
          ...(EVENTS['no data'] as CloudEvent),
          data,
          ...(data ? { dataBytes: data } : {}),
        });
        expect(message.headers['content-type']).toBeUndefined();
      }
      const json = receiveVerbatim(
        { 'content-type': 'application/cloudevents+json' },
        Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}'),
      ).event;
      const message = toBinary(json);
      expect(message.headers['content-type']).toBeUndefined();
      expect(message.body.toString()).toBe('{"a":1}');
    });

    it('writes header values raw when asked, as eventing-rabbitmq does: UTF-8 bytes, no percent-encoding', () => {
      const event = {
        ...(EVENTS['no data'] as CloudEvent),
        subject: 'café ☕ 100% "q"',
        extensions: { note: 'item%41' },
      };
      const message = toBinary(event, { headerEncoding: HEADER_ENCODING.raw });
      expect(Buffer.from(message.headers['ce-subject'] as string, 'latin1').toString('utf8')).toBe(
        'café ☕ 100% "q"',
      );
      expect(message.headers['ce-note']).toBe('item%41');
      expect(toBinary(event).headers['ce-subject']).toBe('caf%C3%A9%20%E2%98%95%20100%25%20%22q%22');
    });

    it('sends non-string extensions as their canonical string (headers carry no type)', () => {
      const message = toBinary({ ...(EVENTS['no data'] as CloudEvent), extensions: { n: 42, b: true } });
      expect(message.headers['ce-n']).toBe('42');
      expect(message.headers['ce-b']).toBe('true');
    });

    it('never writes ce-datacontenttype, only Content-Type', () => {
      const message = toBinary(EVENTS['JSON data and every optional attribute'] as CloudEvent);
      expect(message.headers['ce-datacontenttype']).toBeUndefined();
      expect(message.headers['content-type']).toBe('application/json');
    });
  });

  describe('toStructured', () => {
    it.each(Object.entries(EVENTS))('round-trips an event with %s through receive()', (_name, event) => {
      const message = toStructured(event);
      expect(message.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
      expect(attributesAndData(receive(message.headers, message.body).event)).toEqual(event);
    });

    it('writes the data text of a received event byte for byte, and no datacontenttype it did not have', () => {
      const text = '{ "n": 9007199254740993, "z": 1.10, "b": 1, "2": "\\u003c" }';
      const event = receiveVerbatim(
        { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' },
        Buffer.from(text),
      ).event;
      const body = toStructured(event).body.toString();
      expect(body).toBe(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":${text}}`);
      const back = receive({ 'content-type': 'application/cloudevents+json' }, Buffer.from(body)).event;
      expect(back.datacontenttype).toBeUndefined();
      expect(Buffer.from(back.dataBytes ?? []).toString()).toBe(text);
    });

    it('writes received bytes that are not JSON as data_base64, and text as a string', () => {
      const bytes = Buffer.from([0xff, 0x00]);
      const octets = { ...(EVENTS['binary data'] as CloudEvent), data: bytes, dataBytes: bytes };
      expect(JSON.parse(toStructured(octets).body.toString()).data_base64).toBe('/wA=');
      const text = { ...(EVENTS['text data'] as CloudEvent), dataBytes: Buffer.from('é') };
      expect(JSON.parse(toStructured(text).body.toString()).data).toBe('é');
    });

    it('keeps integer and boolean extensions typed', () => {
      const event = { ...(EVENTS['no data'] as CloudEvent), extensions: { n: 42, b: true } };
      const message = toStructured(event);
      expect(receive(message.headers, message.body).event.extensions).toEqual({ n: 42, b: true });
    });

    it('writes bytes as data_base64', () => {
      const doc = JSON.parse(toStructured(EVENTS['binary data'] as CloudEvent).body.toString());
      expect(doc.data_base64).toBe('AAEC/w==');
      expect(doc.data).toBeUndefined();
    });
  });

  describe('encodeHeaderValue', () => {
    it.each([
      ['space', 'a b', 'a%20b'],
      ['double quote', 'say "hi"', 'say%20%22hi%22'],
      ['percent', '100%', '100%25'],
      ['non-ASCII as UTF-8 bytes', 'café €', 'caf%C3%A9%20%E2%82%AC'],
      ['control characters', 'a\tb\n', 'a%09b%0A'],
    ])('percent-encodes %s', (_what, value, encoded) => {
      expect(encodeHeaderValue(value)).toBe(encoded);
      expect(decodeURIComponent(encoded)).toBe(value);
    });

    it('leaves printable ASCII other than space, quote and percent as it is', () => {
      const printable = "!#$&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~";
      expect(encodeHeaderValue(printable)).toBe(printable);
    });

    it('writes a lone surrogate as U+FFFD instead of throwing', () => {
      expect(encodeHeaderValue('x\ud800y')).toBe('x%EF%BF%BDy');
    });
  });
});
