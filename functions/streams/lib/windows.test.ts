import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../runtime/src/index.ts';
import { STREAMS_DEFAULTS, streamsConfig } from './streams.ts';
import { readingKey, summarize, watermarkAt, windowKey, windowStartOf } from './windows.ts';

const reading = fc.record({
  key: fc.string({ minLength: 1, maxLength: 8 }),
  value: fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
});

/** A permutation of `items` with some of them repeated (redeliveries). */
const shuffledWithDuplicates = <T>(items: readonly T[]) =>
  fc
    .tuple(
      fc.array(fc.nat(), { minLength: items.length, maxLength: items.length }),
      fc.array(fc.nat({ max: Math.max(0, items.length - 1) }), { maxLength: items.length }),
    )
    .map(([order, dupes]) => {
      const copies = items.length === 0 ? [] : dupes.map((i) => items[i] as T);
      return [...items, ...copies]
        .map((item, i) => ({ item, rank: order[i % Math.max(1, order.length)] ?? 0, i }))
        .sort((a, b) => a.rank - b.rank || a.i - b.i)
        .map((x) => x.item);
    });

describe('summarize', () => {
  it('gives the same summary, bit for bit, for any permutation and duplication of the same readings', () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(reading, { selector: (r) => r.key, maxLength: 40 })
          .chain((rs) => fc.tuple(fc.constant(rs), shuffledWithDuplicates(rs))),
        ([readings, delivered]) => {
          expect(summarize(delivered)).toStrictEqual(summarize(readings));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('counts, sums, and takes min, max and mean', () => {
    expect(
      summarize([
        { key: 'a', value: 2 },
        { key: 'b', value: 4 },
        { key: 'a', value: 2 },
      ]),
    ).toEqual({ count: 2, sum: 6, min: 2, max: 4, mean: 3 });
    expect(summarize([])).toBeUndefined();
  });
});

describe('windows', () => {
  it('puts a reading in the window [start, start + size) by event time', () => {
    const t = Date.parse('2026-01-02T10:03:59.999Z');
    expect(new Date(windowStartOf(t, 60_000)).toISOString()).toBe('2026-01-02T10:03:00.000Z');
    expect(windowStartOf(Date.parse('2026-01-02T10:04:00.000Z'), 60_000)).toBe(t + 1);
    expect(windowKey('s-1', windowStartOf(t, 60_000))).toBe('s-1|2026-01-02T10:03:00.000Z');
  });

  it('identifies a reading by its CloudEvent source and id', () => {
    expect(readingKey('/gen', 'r-1')).toBe(readingKey('/gen', 'r-1'));
    expect(readingKey('/gen', 'r-1')).not.toBe(readingKey('/gen2', 'r-1'));
    expect(readingKey('/a', 'b\0c')).not.toBe(readingKey('/a\0b', 'c'));
  });
});

describe('watermarkAt', () => {
  const config = { allowedLatenessMs: 10_000, idleAfterMs: 30_000 };
  it('is the max event time minus the allowed lateness while readings arrive', () => {
    expect(watermarkAt({ maxEventTimeMs: 100_000, advancedAtMs: 5_000 }, 20_000, config)).toBe(90_000);
    expect(watermarkAt(undefined, 20_000, config)).toBeUndefined();
  });
  it('follows the clock once the stream is idle, so the last windows close', () => {
    expect(watermarkAt({ maxEventTimeMs: 100_000, advancedAtMs: 5_000 }, 45_000, config)).toBe(130_000);
  });
  it('is not idle while readings arrive without moving the max; idle, it follows the clock from the last one', () => {
    const state = { maxEventTimeMs: 100_000, advancedAtMs: 5_000, seenAtMs: 40_000 };
    expect(watermarkAt(state, 45_000, config)).toBe(90_000);
    expect(watermarkAt(state, 69_999, config)).toBe(90_000);
    expect(watermarkAt(state, 70_000, config)).toBe(120_000);
  });
});

describe('streamsConfig', () => {
  it('reads durations and defaults', () => {
    expect(streamsConfig({})).toEqual(STREAMS_DEFAULTS);
    expect(streamsConfig({ STREAMS_WINDOW: '5s', STREAMS_ALLOWED_LATENESS: '0s' })).toMatchObject({
      windowMs: 5000,
      allowedLatenessMs: 0,
    });
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5s')).toBeUndefined();
  });
  it('reports every problem at once', () => {
    expect(() => streamsConfig({ STREAMS_WINDOW: '7s', STREAMS_IDLE_AFTER: 'soon' })).toThrow(
      /STREAMS_IDLE_AFTER[\s\S]*must divide a day|must divide a day[\s\S]*STREAMS_IDLE_AFTER/,
    );
  });
});
