import * as ajvStandalone from 'ajv/dist/standalone/index.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dateTimeFormat, formats, validateDateTime } from './date-time-format.ts';
import { seededUniform } from './seeded-random.ts';
import { createAjv } from './validate.ts';

// ajv's standalone module is CommonJS: its `default` export is module.exports, whose `default` is the function.
const standaloneCode = (
  ajvStandalone as unknown as { default: { default: typeof import('ajv/dist/standalone/index.js').default } }
).default.default;

const library = fullFormats['date-time'] as {
  validate: (s: string) => boolean;
  compare: (a: string, b: string) => number | undefined;
};
// Taken before any spy: the reference every input is checked against.
const theirs = library.validate;

const EDGE_CASES = [
  '',
  '2024-01-15T10:20:30Z',
  // Leap years and the days of each month.
  '1900-02-28T00:00:00Z',
  '1900-02-29T00:00:00Z',
  '2000-02-29T00:00:00Z',
  '2000-02-30T00:00:00Z',
  '2024-02-29T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '2100-02-29T00:00:00Z',
  '0000-02-29T00:00:00Z',
  '2024-04-30T00:00:00Z',
  '2024-04-31T00:00:00Z',
  '2024-12-31T00:00:00Z',
  '2024-06-31T00:00:00Z',
  '2024-00-10T00:00:00Z',
  '2024-13-10T00:00:00Z',
  '2024-01-00T00:00:00Z',
  '2024-01-32T00:00:00Z',
  '2024-01-31T00:00:00Z',
  // Hours, minutes, seconds out of range.
  '2024-01-15T23:59:59Z',
  '2024-01-15T24:00:00Z',
  '2024-01-15T10:60:00Z',
  '2024-01-15T10:59:61Z',
  '2024-01-15T99:99:99Z',
  // Second 60: the library's UTC-adjusted 23:59 rule.
  '2016-12-31T23:59:60Z',
  '2016-12-31T23:59:60z',
  '2016-12-31T23:59:60.5Z',
  '2016-12-31T23:59:60.999999999Z',
  '2016-12-31T23:58:60Z',
  '2016-12-31T12:00:60Z',
  '2016-12-31T00:00:60Z',
  '2016-12-31T18:59:60-05:00',
  '2016-12-31T00:59:60+01:00',
  '2017-01-01T05:29:60+05:30',
  '2016-12-31T23:59:60+00:00',
  '2016-12-31T23:59:60-00:00',
  '2016-12-31T23:59:60+01:00',
  '2016-12-31T00:00:60+00:01',
  '2016-12-31T23:60:00+00:01',
  '2016-12-31T22:59:60-01:00',
  '2016-12-31T23:59:61Z',
  // Seconds that Number() rounds up to 60 or 61.
  '2024-01-15T23:59:59.9999999999999999Z',
  '2024-01-15T10:00:59.9999999999999999Z',
  '2024-01-15T23:59:60.9999999999999999Z',
  '2024-01-15T10:00:59.999999999Z',
  // Separators.
  '2024-01-15t10:20:30Z',
  '2024-01-15 10:20:30Z',
  '2024-01-15\t10:20:30Z',
  '2024-01-15\u00a010:20:30Z',
  '2024-01-15\u300010:20:30Z',
  '2024-01-1510:20:30Z',
  '2024-01-15TT10:20:30Z',
  '2024-01-15T10:20:30Zt',
  // Zones.
  '2024-01-15T10:20:30z',
  '2024-01-15T10:20:30+00:00',
  '2024-01-15T10:20:30-00:00',
  '2024-01-15T10:20:30-23:59',
  '2024-01-15T10:20:30+23:59',
  '2024-01-15T10:20:30+24:00',
  '2024-01-15T10:20:30+00:60',
  '2024-01-15T10:20:30+99:99',
  '2024-01-15T10:20:30+0100',
  '2024-01-15T10:20:30+01',
  '2024-01-15T10:20:30+1',
  '2024-01-15T10:20:30+01:0',
  '2024-01-15T10:20:30+01:000',
  '2024-01-15T10:20:30+01-00',
  '2024-01-15T10:20:30',
  '2024-01-15T10:20:30ZZ',
  '2024-01-15T10:20:30 Z',
  // Fractions.
  '2024-01-15T10:20:30.Z',
  '2024-01-15T10:20:30.1Z',
  '2024-01-15T10:20:30.123456789Z',
  '2024-01-15T10:20:30.1234567890Z',
  '2024-01-15T10:20:30.123456789012345678901234567890+05:30',
  '2024-01-15T10:20:30,123Z',
  '2024-01-15T10:20:30..1Z',
  '2024-01-15T10:20:30.1.2Z',
  // Trailing and leading characters, non-ASCII digits, other shapes.
  '2024-01-15T10:20:30Z\n',
  '\n2024-01-15T10:20:30Z',
  ' 2024-01-15T10:20:30Z',
  '2024-01-15T10:20:30Z ',
  '2024-01-15T10:20:30+01:00x',
  '٢٠٢٤-01-15T10:20:30Z',
  '2024-01-15T10:20:3٠Z',
  '２024-01-15T10:20:30Z',
  '10000-01-15T10:20:30Z',
  '+2024-01-15T10:20:30Z',
  '-2024-01-15T10:20:30Z',
  '024-01-15T10:20:30Z',
  '2024-1-15T10:20:30Z',
  '2024/01/15T10:20:30Z',
  '2024-01-15T10.20.30Z',
  '2024-01-15T1:20:30Z',
  '2024-01-15',
  '10:20:30Z',
  'T',
  'not a date',
];

const SEEDS = [
  '2024-02-29T23:59:59.123Z',
  '1900-02-28t12:34:56.789123456-23:59',
  '2000-01-01T00:00:00+05:30',
  '2016-12-31T23:59:60z',
  '2023-06-30T18:59:60-05:00',
];
const ALPHABET = [...'0123456789-:.+TtZz ', '\t', '\n', '\u00a0', '٣', '９', 'x', 'e'];

/** `count` inputs, each a seed with one character replaced, inserted or deleted. */
function mutations(count: number, seed: number): string[] {
  const random = seededUniform(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    const s = pick(SEEDS);
    const op = pick(['replace', 'insert', 'delete'] as const);
    const at = Math.floor(random() * (s.length + (op === 'insert' ? 1 : 0)));
    const c = pick(ALPHABET);
    out.push(
      op === 'replace'
        ? s.slice(0, at) + c + s.slice(at + 1)
        : op === 'insert'
          ? s.slice(0, at) + c + s.slice(at)
          : s.slice(0, at) + s.slice(at + 1),
    );
  }
  return out;
}

/** The inputs on which ours and the library's disagree (empty when they agree everywhere). */
function disagreements(inputs: readonly string[]): { input: string; ours: boolean; theirs: boolean }[] {
  return inputs
    .map((input) => ({ input, ours: validateDateTime(input), theirs: theirs(input) }))
    .filter((r) => r.ours !== r.theirs);
}

describe('date-time-format', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('accepts and rejects the edge cases exactly as ajv-formats does', () => {
    expect(disagreements(EDGE_CASES)).toEqual([]);
  });

  it('accepts and rejects 4,000 one-character mutations of valid timestamps exactly as ajv-formats does', () => {
    const inputs = mutations(4000, 20_240_229);
    expect(new Set(inputs).size).toBeGreaterThan(1000);
    // Both answers occur, so the agreement is not all-true or all-false.
    expect(inputs.some((i) => theirs(i))).toBe(true);
    expect(inputs.some((i) => !theirs(i))).toBe(true);
    expect(disagreements(inputs)).toEqual([]);
  });

  it('answers the canonical shape without the library and hands it anything else', () => {
    const fallback = vi.spyOn(library, 'validate');
    for (const input of [
      '2024-01-15T10:20:30Z',
      '2024-01-15t10:20:30.123456789z',
      '2024-02-29T00:00:00-23:59',
      '1900-02-29T00:00:00+00:00',
      '2024-13-01T00:00:00Z',
      '2024-01-15T10:20:30+24:00',
    ]) {
      validateDateTime(input);
    }
    expect(fallback).not.toHaveBeenCalled();
    for (const input of ['2024-01-15 10:20:30Z', '2016-12-31T23:59:60Z', '2024-01-15T10:20:30+0100']) {
      validateDateTime(input);
    }
    expect(fallback).toHaveBeenCalledTimes(3);
  });

  it('compares as ajv-formats does', () => {
    const pairs: [string, string][] = [
      ['2024-01-15T10:20:30Z', '2024-01-15T10:20:31Z'],
      ['2024-01-15T10:20:30+01:00', '2024-01-15T09:20:30Z'],
      ['2024-01-15T10:20:30.5Z', '2024-01-15T10:20:30Z'],
      ['', '2024-01-15T10:20:30Z'],
      ['not a date', '2024-01-15T10:20:30Z'],
    ];
    for (const [a, b] of pairs) {
      expect(dateTimeFormat.compare(a, b)).toBe(library.compare(a, b));
    }
  });

  it('is the date-time of the runtime ajv and of its standalone code; the other formats are the library’s', () => {
    const validate = createAjv().compile({ type: 'string', format: 'date-time' });
    expect(validate('2024-02-29T00:00:00Z')).toBe(true);
    expect(validate('2023-02-29T00:00:00Z')).toBe(false);
    expect(createAjv().formats['date-time']).toBe(dateTimeFormat);

    const ajv = createAjv({ code: { source: true, esm: true } });
    ajv.addSchema({ type: 'string', format: 'date-time' }, 'ts');
    expect(standaloneCode(ajv, { v0: 'ts' })).toMatch(
      /require\("[^"]*\/functions\/runtime\/src\/date-time-format\.ts"\)\.formats\["date-time"\]/,
    );
    expect({ ...formats, 'date-time': fullFormats['date-time'] }).toEqual(fullFormats);
  });
});
