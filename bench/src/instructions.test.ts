import { describe, expect, it } from 'vitest';
import { callgrindTotal, instructionsTable } from './instructions.ts';

describe('callgrindTotal', () => {
  it('reads the instructions of a dump from its totals line', () => {
    const dump =
      'version: 1\ncreator: callgrind-3.19.0\nevents: Ir\n\nfl=(1) node\nfn=(1) main\n5 12\n\ntotals: 1019777544\n';
    expect(callgrindTotal(dump)).toBe(1_019_777_544);
  });

  it('reads a summary line too, and nothing from a dump without either', () => {
    expect(callgrindTotal('events: Ir\nsummary: 475217839\n')).toBe(475_217_839);
    expect(callgrindTotal('events: Ir\nfn=(1) main\n5 12\n')).toBeUndefined();
  });
});

describe('instructionsTable', () => {
  it("gives each row the floor's count divided by its own", () => {
    const table = instructionsTable(
      [
        { name: 'bare-http', label: 'bare', perRequest: 95_000 },
        { name: 'sluice-bundle', label: 'sluice', perRequest: 190_000 },
      ],
      'bare-http',
    );
    expect(table.split('\n')).toEqual([
      '| server (function path, callgrind) | instructions per request | ratio to bare node:http |',
      '|---|---:|---:|',
      '| bare | 95,000 | 1.00 |',
      '| sluice | 190,000 | 0.50 |',
    ]);
  });

  it('leaves the ratios out when the floor was not measured', () => {
    expect(
      instructionsTable([{ name: 'sdk-http', label: 'sdk', perRequest: 300_000 }], 'bare-http'),
    ).toContain('| sdk | 300,000 | — |');
  });
});
