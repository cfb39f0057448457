import { describe, expect, it } from 'vitest';
import {
  callgrindTotal,
  codeAt,
  compilerCost,
  costByFunction,
  instructionsTable,
  parsePerfMap,
} from './instructions.ts';

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
  it("gives each row the floor's count divided by its own, in all and without the compilers' share", () => {
    const table = instructionsTable(
      [
        { name: 'bare-http', label: 'bare', perRequest: 95_000, compilerPerRequest: 5_000 },
        { name: 'sluice-bundle', label: 'sluice', perRequest: 190_000, compilerPerRequest: 10_000 },
      ],
      'bare-http',
    );
    expect(table.split('\n')).toEqual([
      "| server (function path, callgrind) | instructions per request | of which V8's compilers | ratio to bare node:http | without the compilers |",
      '|---|---:|---:|---:|---:|',
      '| bare | 95,000 | 5,000 | 1.00 | 1.00 |',
      '| sluice | 190,000 | 10,000 | 0.50 | 0.50 |',
    ]);
    const steadier = instructionsTable(
      [
        { name: 'bare-http', label: 'bare', perRequest: 95_000, compilerPerRequest: 0 },
        { name: 'sluice-bundle', label: 'sluice', perRequest: 190_000, compilerPerRequest: 40_000 },
      ],
      'bare-http',
    );
    expect(steadier.split('\n')[3]).toBe('| sluice | 190,000 | 40,000 | 0.50 | 0.63 |');
  });

  it('leaves the ratios out when the floor was not measured', () => {
    expect(
      instructionsTable(
        [{ name: 'sdk-http', label: 'sdk', perRequest: 300_000, compilerPerRequest: 1_000 }],
        'bare-http',
      ),
    ).toContain('| sdk | 300,000 | 1,000 | — | — |');
  });
});

describe('compilerCost', () => {
  it("sums the inclusive cost of V8's compiler jobs, and nothing they call or that calls them", () => {
    const annotated = [
      '896,811,429 (100.0%)  PROGRAM TOTALS',
      '808,302,810 (90.13%)  /deps/uv/src/unix/core.c:uv_run [/bin/node]',
      ' 68,072,782 ( 7.59%)  ???:v8::internal::OptimizedCompilationJob::ExecuteJob(v8::internal::RuntimeCallStats*, v8::internal::LocalIsolate*) [/bin/node]',
      ' 64,960,376 ( 7.24%)  ???:v8::internal::OptimizingCompileTaskExecutor::CompileTask::Run(v8::JobDelegate*) [/bin/node]',
      ' 64,936,612 ( 7.24%)  ???:v8::internal::compiler::PipelineCompilationJob::ExecuteJobImpl(v8::internal::RuntimeCallStats*, v8::internal::LocalIsolate*) [/bin/node]',
      '    321,093 ( 0.04%)  ???:v8::internal::baseline::ConcurrentBaselineCompiler::JobDispatcher::Run(v8::JobDelegate*) [/bin/node]',
      '    319,698 ( 0.04%)  ???:v8::internal::OptimizedCompilationJob::FinalizeJob(v8::internal::Isolate*) [/bin/node]',
      '     68,899 ( 0.01%)  ???:v8::internal::OptimizedCompilationJob::PrepareJob(v8::internal::Isolate*) [/bin/node]',
      '     10,000 ( 0.00%)  ???:0x0000000000001050 [???]',
    ].join('\n');
    expect(compilerCost(annotated)).toBe(68_072_782 + 321_093 + 319_698 + 68_899);
    expect(compilerCost('1,000 (100.0%)  PROGRAM TOTALS\n')).toBe(0);
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
