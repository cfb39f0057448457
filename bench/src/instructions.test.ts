import { describe, expect, it } from 'vitest';
import { callgrindTotal, codeAt, costByFunction, instructionsTable, parsePerfMap } from './instructions.ts';

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

describe('costByFunction', () => {
  const map = parsePerfMap(
    [
      '1000 100 JS:*handle file:///app/main.mjs:10:5',
      '1100 80 RegExp.> src: ^[a-z]+$ flags: ',
      '1000 40 JS:*reused file:///app/main.mjs:99:1', // written later, over collected code
      'not a map line',
    ].join('\n'),
  );

  it('names the JIT code callgrind knows by address from the perf map, the last range written first', () => {
    expect(codeAt(map, 0x1010)).toBe('JS:*reused file:///app/main.mjs:99:1');
    expect(codeAt(map, 0x1050)).toBe('JS:*handle file:///app/main.mjs:10:5');
    expect(codeAt(map, 0x1120)).toBe('RegExp.> src: ^[a-z]+$ flags: ');
    expect(codeAt(map, 0x1180)).toBeUndefined();
  });

  it('sums each function over its code and its lines, C++ by symbol, largest first', () => {
    const annotated = [
      '--------------------------------------------------------------------------------',
      '1,075,260 (100.0%)  PROGRAM TOTALS',
      'Ir                   file:function',
      '   28,525 ( 2.65%)  ???:Builtins_KeyedLoadIC_Megamorphic [/bin/node]',
      '   20,000 ( 1.86%)  ???:0x0000000000001050 [???]',
      '   15,000 ( 1.40%)  ???:0x0000000000001060 [???]',
      '    9,000 ( 0.84%)  ???:0x0000000000001120 [???]',
      '    4,000 ( 0.37%)  ???:0x0000000000009000 [???]',
      '    3,000 ( 0.28%)  ./malloc/./malloc/malloc.c:_int_free [/usr/lib/x86_64-linux-gnu/libc.so.6]',
    ].join('\n');
    expect(costByFunction(annotated, map)).toEqual([
      { name: 'JS:*handle file:///app/main.mjs:10:5', instructions: 35_000 },
      { name: 'Builtins_KeyedLoadIC_Megamorphic', instructions: 28_525 },
      { name: 'RegExp.> src: ^[a-z]+$ flags: ', instructions: 9_000 },
      { name: 'JIT code at 0x0000000000009000', instructions: 4_000 },
      { name: './malloc/./malloc/malloc.c:_int_free', instructions: 3_000 },
    ]);
  });
});
