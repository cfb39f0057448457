/**
 * The function path in instructions, not seconds: each server of servers.ts runs under valgrind's callgrind,
 * which counts the instructions every thread of the process executes (the JIT's code, V8's compiler and
 * collector threads, node's C++ and libc; not the kernel's). The same binary, inputs and requests give the same
 * count whatever else the machine is doing, so two servers, or two commits, compare on a noisy host where req/s
 * drift by a factor of two within minutes (docs/performance.md, "Instructions per request").
 *
 *   make bench-instructions [BENCH_ARGS='--servers bare-http,sluice-bundle --warm 20000 --requests 5000 --top 45 --inclusive']
 *
 * Per server: start it under valgrind with instrumentation off (~5× slower than native instead of ~50×), warm it
 * up with `--warm` requests, switch instrumentation on, send 500 more (callgrind translates the code again),
 * zero the counters, send `--requests`, dump. Printed: instructions per request and bare node:http's count ÷
 * the server's, the floor's ratio as the req/s table gives it; then the same without what V8's compilers ran in
 * the window (`compilerCost`), which varies from run to run of the same build and is the steadier figure to
 * compare two commits by.
 *
 * `--top N` also prints each server's N costliest functions, instructions per request by function (callgrind's
 * own, not their callees'): node runs with `--perf-basic-prof`, and the JIT's code, which callgrind knows only
 * by address, is named from the map V8 writes (/tmp/perf-<pid>.map): JavaScript functions and regexes by their
 * source, V8's builtins and node's C++ by their symbols. With `--inclusive`, each function's figure holds its
 * callees' too (callgrind's inclusive cost): what an entry point of ours costs with everything it calls.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { freePort } from '../../platform/test-servers/ports.ts';
import { EVENT_BODY, EVENT_HEADERS } from './event.ts';
import { buildFixtureBundle, postEvent, ROOT, SERVERS, type ServerSpec } from './servers.ts';

const run = promisify(execFile);

/** The `totals:` (or `summary:`) line of a callgrind dump: instructions executed (the Ir event). */
export function callgrindTotal(dump: string): number | undefined {
  const m = /^(?:totals|summary):\s+(\d+)/m.exec(dump);
  return m === null ? undefined : Number(m[1]);
}

/** One code object of V8's perf map (`/tmp/perf-<pid>.map`: `start size name` in hex, one per line). */
export interface CodeRange {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

export function parsePerfMap(text: string): CodeRange[] {
  const ranges: CodeRange[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/.exec(line);
    if (m === null) continue;
    const start = Number.parseInt(m[1] as string, 16);
    ranges.push({ start, end: start + Number.parseInt(m[2] as string, 16), name: m[3] as string });
  }
  return ranges;
}

/**
 * The name of the code at `address`: of the ranges that hold it, the one written last (V8 reuses the space of
 * collected code, and the map only grows), so `ranges` in the map's order.
 */
export function codeAt(ranges: readonly CodeRange[], address: number): string | undefined {
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i] as CodeRange;
    if (address >= r.start && address < r.end) return r.name;
  }
  return undefined;
}

/** The function lines of `callgrind_annotate` output (`  1,234 ( 0.12%)  file:function [object]`), totals left out. */
function* annotatedLines(annotated: string): Generator<{ readonly cost: number; readonly where: string }> {
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*)$/.exec(line);
    if (m === null || (m[2] as string).startsWith('PROGRAM TOTALS')) continue;
    yield { cost: Number((m[1] as string).replaceAll(',', '')), where: m[2] as string };
  }
}

/**
 * `callgrind_annotate --inclusive=no` output as instructions per function, the JIT's addresses (`???:0x…`)
 * named from the perf map (and summed: one function's code may be compiled more than once), largest first.
 */
export function costByFunction(
  annotated: string,
  ranges: readonly CodeRange[],
): { readonly name: string; readonly instructions: number }[] {
  const byName = new Map<string, number>();
  for (const { cost, where } of annotatedLines(annotated)) {
    const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(where);
    const name =
      jit === null
        ? where.replace(/^\?\?\?:/, '').replace(/ \[[^\]]*\]$/, '')
        : (codeAt(ranges, Number.parseInt(jit[1] as string, 16)) ?? `JIT code at 0x${jit[1]}`);
    byName.set(name, (byName.get(name) ?? 0) + cost);
  }
  return [...byName]
    .map(([name, instructions]) => ({ name, instructions }))
    .sort((a, b) => b.instructions - a.instructions);
}

/**
 * The entry points of V8's compiler jobs, whose inclusive costs hold all of their work: the optimizing tiers'
 * (TurboFan and Maglev jobs both derive from OptimizedCompilationJob; each is prepared and finalized on the
 * main thread and executed on a helper thread) and the concurrent baseline compiler's.
 */
const COMPILER_JOBS = [
  'v8::internal::OptimizedCompilationJob::PrepareJob(',
  'v8::internal::OptimizedCompilationJob::ExecuteJob(',
  'v8::internal::OptimizedCompilationJob::FinalizeJob(',
  'v8::internal::baseline::ConcurrentBaselineCompiler::JobDispatcher::Run(',
] as const;

/**
 * Instructions V8's compilers spent in the window, from `callgrind_annotate --inclusive=yes` output: the JIT
 * still optimizes (and re-optimizes) some functions after the warm-up, more jobs in one run than in the next,
 * which moved a server's total by 5 % between two runs of the same build (docs/performance.md).
 */
export function compilerCost(annotatedInclusive: string): number {
  let sum = 0;
  for (const { cost, where } of annotatedLines(annotatedInclusive)) {
    const symbol = where.replace(/^\?\?\?:/, '');
    if (COMPILER_JOBS.some((job) => symbol.startsWith(job))) sum += cost;
  }
  return sum;
}

export interface InstructionRow {
  readonly name: string;
  readonly label: string;
  readonly perRequest: number;
  /** Of `perRequest`, what V8's compilers ran in the window (`compilerCost`). */
  readonly compilerPerRequest: number;
}

/**
 * The table, with each row's ratio to the floor (the floor's instructions ÷ the row's: higher is better),
 * in all and without the compilers' share (the steadier of the two from run to run).
 */
export function instructionsTable(rows: readonly InstructionRow[], floor: string): string {
  const base = rows.find((r) => r.name === floor);
  const count = (n: number): string => Math.round(n).toLocaleString('en-US');
  const lines = [
    "| server (function path, callgrind) | instructions per request | of which V8's compilers | ratio to bare node:http | without the compilers |",
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ratio = base === undefined ? '—' : (base.perRequest / r.perRequest).toFixed(2);
    const steady =
      base === undefined
        ? '—'
        : ((base.perRequest - base.compilerPerRequest) / (r.perRequest - r.compilerPerRequest)).toFixed(2);
    lines.push(
      `| ${r.label} | ${count(r.perRequest)} | ${count(r.compilerPerRequest)} | ${ratio} | ${steady} |`,
    );
  }
  return lines.join('\n');
}

/** `n` POSTs of the benchmark event, `connections` at a time on kept-alive sockets, each with a new `ce-id`. */
async function send(port: number, n: number, prefix: string, connections = 10): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const body = Buffer.from(EVENT_BODY);
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((ok, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          agent,
          headers: { ...EVENT_HEADERS, 'ce-id': `${prefix}-${next++}`, 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            (res.statusCode ?? 0) < 300 ? ok() : fail(new Error(`answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  const worker = async (): Promise<void> => {
    while (next < n) await one();
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    agent.destroy();
  }
}

/** callgrind_control finds the process by a file named after USER and HOST: give it the server's environment. */
async function control(pid: number, env: NodeJS.ProcessEnv, ...args: string[]): Promise<void> {
  await run('callgrind_control', [...args, String(pid)], { env });
}

async function measure(
  spec: ServerSpec,
  dir: string,
  warm: number,
  requests: number,
  top: number,
  inclusive: boolean,
): Promise<{ perRequest: number; compilerPerRequest: number }> {
  const port = await freePort();
  const env = { ...process.env, ...spec.env, PORT: String(port) };
  const child: ChildProcess = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, `${spec.name}.%p`)}`,
      process.execPath,
      // --perf-basic-prof also writes V8's isolate log, into the working directory unless told where.
      ...(top > 0 ? ['--perf-basic-prof', `--logfile=${join(dir, 'v8.log')}`] : []),
      ...spec.args,
    ],
    { cwd: ROOT, env, stdio: 'ignore' },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`valgrind did not start for ${spec.name}`);
  try {
    const deadline = performance.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`${spec.name} exited with ${child.exitCode} under valgrind`);
      if (performance.now() > deadline)
        throw new Error(`${spec.name} did not answer under valgrind in 120 s`);
      const status = await postEvent(port).catch(() => 0);
      if (status >= 200 && status < 300) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await send(port, warm, 'warm');
    await control(pid, env, '--instr=on');
    await send(port, 500, 'retranslate');
    await control(pid, env, '--zero');
    await send(port, requests, 'measured');
    await control(pid, env, '--dump=measured');
  } finally {
    const gone = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGKILL');
    await gone;
  }
  const dumps = (await readdir(dir)).filter((f) => f.startsWith(`${spec.name}.`) && f.endsWith('.1'));
  const dump = dumps[0];
  if (dump === undefined) throw new Error(`no callgrind dump for ${spec.name} in ${dir}`);
  const total = callgrindTotal(await readFile(join(dir, dump), 'utf8'));
  if (total === undefined) throw new Error(`no totals line in ${dump}`);
  const { stdout } = await run('callgrind_annotate', ['--inclusive=yes', join(dir, dump)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  if (top > 0) await printTop(spec, join(dir, dump), pid, requests, top, inclusive);
  return { perRequest: total / requests, compilerPerRequest: compilerCost(stdout) / requests };
}

async function printTop(
  spec: ServerSpec,
  dump: string,
  pid: number,
  requests: number,
  top: number,
  inclusive: boolean,
): Promise<void> {
  const map = join(tmpdir(), `perf-${pid}.map`);
  const { stdout } = await run(
    'callgrind_annotate',
    [`--inclusive=${inclusive ? 'yes' : 'no'}`, '--threshold=100', dump],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const ranges = parsePerfMap(await readFile(map, 'utf8').catch(() => ''));
  await rm(map, { force: true });
  process.stderr.write(
    `${spec.name}: the ${top} costliest functions, instructions per request (${inclusive ? 'with their callees' : 'self'})\n`,
  );
  for (const { name, instructions } of costByFunction(stdout, ranges).slice(0, top)) {
    process.stderr.write(
      `${String(Math.round(instructions / requests)).padStart(8)}  ${name.slice(0, 140)}\n`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      servers: { type: 'string', default: 'bare-http,sdk-http,sluice-bundle' },
      warm: { type: 'string', default: '20000' },
      requests: { type: 'string', default: '5000' },
      top: { type: 'string', default: '0' },
      inclusive: { type: 'boolean', default: false },
    },
  });
  const names = (values.servers ?? '').split(',').filter((s) => s !== '');
  const specs = names.map((n) => {
    const spec = SERVERS.find((s) => s.name === n);
    if (spec === undefined) throw new Error(`no server named ${n}: ${SERVERS.map((s) => s.name).join(', ')}`);
    return spec;
  });
  await run('valgrind', ['--version']).catch(() => {
    throw new Error('valgrind is missing: apt-get install valgrind');
  });
  if (names.some((n) => n.startsWith('sluice-bundle'))) await buildFixtureBundle();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-callgrind-'));
  const rows: InstructionRow[] = [];
  try {
    for (const spec of specs) {
      const { perRequest, compilerPerRequest } = await measure(
        spec,
        dir,
        Number(values.warm),
        Number(values.requests),
        Number(values.top),
        values.inclusive === true,
      );
      process.stderr.write(
        `${spec.name}: ${Math.round(perRequest)} instructions per request, ${Math.round(compilerPerRequest)} of them V8's compilers'\n`,
      );
      rows.push({ name: spec.name, label: spec.label, perRequest, compilerPerRequest });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${instructionsTable(rows, 'bare-http')}\n`);
}

if (import.meta.main) await main();
