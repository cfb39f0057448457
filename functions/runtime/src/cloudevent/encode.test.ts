import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../types.ts';
import { encodeHeaderValue, toBinary, toStructured } from './encode.ts';
import { receive } from './receive.ts';

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
      expect(receive(message.headers, message.body).event).toEqual(event);
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
      expect(receive(message.headers, message.body).event).toEqual(event);
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
