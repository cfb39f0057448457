import { describe, expect, it } from 'vitest';
import { decodePercentLenient, headerText, rawHeaderValue, readHeaderValue } from './header-value.ts';

const bytesOf = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

describe('header-value', () => {
  describe('headerText', () => {
    it('reads one-character-per-byte strings as UTF-8', () => {
      expect(headerText(bytesOf('café ☕ 😀'))).toBe('café ☕ 😀');
    });

    it('keeps bytes that are not UTF-8 as Latin-1, and text that is already text', () => {
      expect(headerText('\u00e9')).toBe('é');
      expect(headerText('☕')).toBe('☕');
      expect(headerText('plain ascii')).toBe('plain ascii');
    });
  });

  describe('decodePercentLenient', () => {
    it.each([
      ['', ''],
      ['no escapes', 'no escapes'],
      ['%41%42', 'AB'],
      ['%e2%82%ac lower-case hex', '€ lower-case hex'],
      ['50% off', '50% off'],
      ['%', '%'],
      ['%%41', '%A'],
      ['%8041', '%8041'],
      ['%C3', '%C3'],
      ['%C3%28', '%C3('],
      ['%E0%80%80', '%E0%80%80'],
      ['%F0%9F%98%80', '😀'],
      ['%F0%9F%98', '%F0%9F%98'],
    ])('%j → %j', (raw, decoded) => {
      expect(decodePercentLenient(raw)).toBe(decoded);
    });

    it('inverts the binding encoding for every kind of character', () => {
      const value = 'a "b" 100% é € 😀 \t';
      expect(decodePercentLenient(encodeURIComponent(value))).toBe(value);
    });
  });

  it('readHeaderValue decodes bytes first, escapes second', () => {
    expect(readHeaderValue(bytesOf('café%20%E2%9C%93'))).toBe('café ✓');
  });

  describe('rawHeaderValue', () => {
    it('writes text as its UTF-8 bytes, percent signs and quotes untouched', () => {
      const raw = rawHeaderValue('café 100% "x"');
      expect(Buffer.from(raw, 'latin1').toString('utf8')).toBe('café 100% "x"');
    });

    it('percent-encodes only what a header cannot carry: control characters and edge whitespace', () => {
      expect(rawHeaderValue('a\nb')).toBe('a%0Ab');
      expect(rawHeaderValue(' padded\t')).toBe('%20padded%09');
      expect(rawHeaderValue('in side\tand tab')).toBe('in side\tand tab');
    });
  });
});
