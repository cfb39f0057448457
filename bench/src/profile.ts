/**
 * `make bench-profile`: the bundled fixture under load with --cpu-prof, then a self-time summary by
 * function and by source file (what docs/performance.md quotes). The bundle carries a source map, so
 * frames are mapped back to the .ts files by name; bundled dependencies show as node_modules paths.
 *   node bench/src/profile.ts [--seconds 8] [--source] [--interval µs]
 *   (--source: profile `node main.ts` instead; --seconds 0: the start-up only)
 *   node bench/src/profile.ts --file <x.cpuprofile>   (the same summary of a profile written elsewhere,
 *   e.g. the broker's or the pipeline functions' under BENCH_PROFILE_DIR)
 *   node bench/src/profile.ts --alloc   (bytes allocated per request by function instead: heap-sampling.ts)
 *   --server <name>: another server of servers.ts (bare-http, sdk-http, …) to compare with
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../platform/test-servers/ports.ts';
import { sampleAllocations } from './heap-sampling.ts';
import { pickLoadTool, runLoad } from './load.ts';
import { buildFixtureBundle, ROOT, SERVERS, startServer, stopServer } from './servers.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    source: { type: 'boolean' },
    interval: { type: 'string' },
    file: { type: 'string' },
    alloc: { type: 'boolean' },
    server: { type: 'string' },
  },
});
if (values.file !== undefined) {
  const profile = JSON.parse(await readFile(values.file, 'utf8')) as CpuProfile;
  process.stdout.write(`profile ${values.file}\n${summary(profile)}`);
  process.exit(0);
}
const serverName = values.server ?? (values.source === true ? 'sluice-source' : 'sluice-bundle');
const base = SERVERS.find((s) => s.name === serverName);
if (base === undefined) throw new Error(`no server spec named ${serverName}`);
if (values.source !== true) await buildFixtureBundle(); // a clean clone has no dist/ yet
if (values.alloc === true) {
  const inspectPort = await freePort();
  const started = await startServer(
    { ...base, args: [`--inspect=127.0.0.1:${inspectPort}`, ...base.args] },
    process.env.BENCH_SERVER_CPU ?? '0',
  );
  try {
    const load = (seconds: number) =>
      runLoad({
        port: started.port,
        connections: 50,
        seconds,
        tool: pickLoadTool(process.env.BENCH_LOAD_TOOL),
        cpu: process.env.BENCH_LOAD_CPU ?? '1',
      });
    await load(2); // warm-up: the code optimised, the pools filled
    const summary = await sampleAllocations(
      inspectPort,
      async () => (await load(Number(values.seconds ?? 4))).requests,
      ROOT,
    );
    process.stdout.write(
      `${summary.bytesPerRequest.toFixed(0)} bytes allocated per request (sampled every 1 KB, what the GC freed included)\n` +
        summary.top
          .slice(0, 40)
          .map(([where, bytes]) => `  ${bytes.toFixed(0).padStart(6)}  ${where}`)
          .join('\n') +
        '\n',
    );
  } finally {
    await stopServer(started.child);
  }
  process.exit(0);
}
const dir = join(ROOT, '.tmp/profile');
await rm(dir, { recursive: true, force: true });
const spec = {
  ...base,
  args: [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-interval=${values.interval ?? (values.seconds === '0' ? 100 : 1000)}`,
    ...base.args,
  ],
};
const started = await startServer(spec, process.env.BENCH_SERVER_CPU ?? '0');
const seconds = Number(values.seconds ?? 8);
// --seconds 0 profiles the start-up alone (spawn → first 2xx), the cold-start question.
const r =
  seconds === 0
    ? { rps: 0 }
    : await runLoad({
        port: started.port,
        connections: 50,
        seconds,
        tool: pickLoadTool(process.env.BENCH_LOAD_TOOL),
        cpu: process.env.BENCH_LOAD_CPU ?? '1',
      });
const exited = new Promise((ok) => started.child.once('exit', ok));
started.child.kill('SIGTERM'); // graceful: the profile is written at exit
await exited;
const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no profile written in ${dir}`);
const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;

process.stdout.write(
  `profile ${join('.tmp/profile', file)} — ${r.rps.toFixed(0)} req/s under --cpu-prof\n${summary(profile)}`,
);

/** Self time by function and by source file, as shares of the sampled busy time. */
function summary(profile: CpuProfile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    // Shares of the busy time: a process that waits on I/O (the broker) is mostly idle.
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fnTotals = new Map<string, number>();
  const fileTotals = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (f === undefined) continue;
    const where = f.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
    const key = `${f.functionName || '(anonymous)'} ${where === '' ? '' : `${where}:${f.lineNumber + 1}`}`;
    fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
    const group =
      where === '' ? f.functionName : where.startsWith('node:') ? where : where.replace(/:\d+$/, '');
    fileTotals.set(group, (fileTotals.get(group) ?? 0) + us);
  }
  const top = (m: Map<string, number>, n: number): string =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return (
    `${(total / 1e6).toFixed(1)} s busy sampled\n` +
    `self time by function:\n${top(fnTotals, 30)}\nself time by file:\n${top(fileTotals, 15)}\n`
  );
}
