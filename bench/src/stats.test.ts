import { describe, expect, it } from 'vitest';
import { evaluateTarget, formatTable, median, Op, pairedRatio, percentile, targetLine } from './stats.ts';

describe('stats', () => {
  it('returns the middle value of an odd-sized sample and the mean of the two middle ones otherwise', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    expect(median([Number.NaN, 7])).toBe(7);
  });

  it('returns the nearest-rank percentile', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile([], 99)).toBeUndefined();
  });

  it('pairs samples by round before taking the median ratio', () => {
    // Round 2 ran on a slower machine for both: pairing keeps the ratio at 0.5.
    expect(pairedRatio([50, 20, 52], [100, 40, 104])).toBe(0.5);
    expect(pairedRatio([1, 2], [0, 4])).toBe(0.5);
    expect(pairedRatio([], [1])).toBeUndefined();
  });
});

describe('targets', () => {
  it('marks an at-least target met only when the ratio reaches the goal', () => {
    expect(evaluateTarget('function-path', 0.5, Op.atLeast, 0.5).met).toBe(true);
    expect(evaluateTarget('function-path', 0.49, Op.atLeast, 0.5).met).toBe(false);
    expect(evaluateTarget('cold-start', 1.7, Op.atMost, 1.6).met).toBe(false);
    expect(evaluateTarget('broker-path', undefined, Op.atLeast, 0.5).met).toBe(false);
  });

  it('prints a third decimal only where two would print the goal for a value off it', () => {
    expect(targetLine(evaluateTarget('pipeline-x', 0.0993, Op.atLeast, 0.1))).toBe(
      'target pipeline-x: ratio 0.099 (goal >= 0.1) missed',
    );
    expect(targetLine(evaluateTarget('cold-start', 1.603, Op.atMost, 1.6))).toBe(
      'target cold-start: ratio 1.603 (goal <= 1.6) missed',
    );
    expect(targetLine(evaluateTarget('pipeline-x', 0.1, Op.atLeast, 0.1))).toBe(
      'target pipeline-x: ratio 0.10 (goal >= 0.1) met',
    );
  });

  it('prints one line per target in the agreed shape', () => {
    expect(targetLine(evaluateTarget('cold-start', 1.234, Op.atMost, 1.6))).toBe(
      'target cold-start: ratio 1.23 (goal <= 1.6) met',
    );
    expect(targetLine(evaluateTarget('broker-path', undefined, Op.atLeast, 0.5, 'no broker'))).toBe(
      'target broker-path: ratio n/a (goal >= 0.5) missed — no broker',
    );
  });

  it('formats missing values as n/a in the table', () => {
    const table = formatTable([
      {
        label: 'bare',
        rps: 35000.4,
        rpsRatio: 1,
        cpuUsPerRequest: 24.6,
        coldMs: 96.2,
        coldRatio: 1,
        rssMb: 44.4,
      },
      { label: 'x', rps: undefined, rpsRatio: undefined, coldMs: 100, coldRatio: 1.04, rssMb: undefined },
    ]);
    expect(table).toContain('| bare | 35,000 | 1.00 | 25 µs | 96 ms | 1.00 | 44 MB |');
    expect(table).toContain('| x | n/a | n/a | n/a | 100 ms | 1.04 | n/a |');
  });
});
