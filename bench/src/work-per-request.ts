/**
 * What a fixed amount of work per request costs against the floor on this host: bare node:http
 * (`bench/servers/bare-http-work.cjs`) busy for 0, 10, 20, 40 µs of CPU per request before it answers, under
 * the function path's load (wrk, 50 connections, server and load generator pinned as in `make bench`).
 * Prints req/s, the ratio to 0 µs, and the server's CPU per request split into user and system time
 * (/proc/<pid>/stat): read beside the function path's rows, it says how much per-event work a ratio to the
 * floor leaves room for (docs/performance.md, "Latest").
 *   taskset -c 1 node bench/src/work-per-request.ts [--work 0,10,20,40] [--rounds 2] [--seconds 5]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuTimesSeconds } from './bench-processes.ts';
import { pickLoadTool, runLoad } from './load.ts';
import { Group, ROOT, type ServerSpec, startServer, stopServer } from './servers.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    work: { type: 'string', default: '0,10,20,40' },
    rounds: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '5' },
  },
});
const amounts = values.work.split(',').map(Number);
if (amounts.some((w) => !Number.isFinite(w) || w < 0))
  throw new Error(`--work: microseconds ≥ 0, got ${values.work}`);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const tool = pickLoadTool(process.env.BENCH_LOAD_TOOL);
const serverCpu = process.env.BENCH_SERVER_CPU ?? '0';
const loadCpu = process.env.BENCH_LOAD_CPU ?? '1';

interface Sample {
  rps: number;
  userUs: number;
  systemUs: number;
}
const samples = new Map<number, Sample[]>(amounts.map((w) => [w, []]));

for (let round = 0; round < rounds; round++) {
  // The order reversed every other round, as the function path's rounds are.
  const order = round % 2 === 0 ? amounts : [...amounts].reverse();
  for (const work of order) {
    const spec: ServerSpec = {
      name: `bare-http-work-${work}`,
      label: `bare node:http + ${work} µs`,
      group: Group.floor,
      args: [join(ROOT, 'bench/servers/bare-http-work.cjs')],
      env: { BENCH_WORK_US: String(work) },
    };
    const started = await startServer(spec, serverCpu);
    try {
      await runLoad({ port: started.port, connections: 50, seconds: 2, tool, cpu: loadCpu });
      const before = cpuTimesSeconds(started.child.pid);
      const r = await runLoad({ port: started.port, connections: 50, seconds, tool, cpu: loadCpu });
      const after = cpuTimesSeconds(started.child.pid);
      if (before === undefined || after === undefined) throw new Error('/proc/<pid>/stat is not readable');
      if (r.failures > 0) throw new Error(`${spec.name}: ${r.failures} failed requests`);
      const perRequestUs = (s: number): number => (s * 1e6) / r.requests;
      samples.get(work)?.push({
        rps: r.rps,
        userUs: perRequestUs(after.user - before.user),
        systemUs: perRequestUs(after.system - before.system),
      });
      process.stdout.write(
        `  round ${round + 1} ${work} µs: ${r.rps.toFixed(0)} req/s, user ${perRequestUs(after.user - before.user).toFixed(1)} µs + system ${perRequestUs(after.system - before.system).toFixed(1)} µs per request\n`,
      );
    } finally {
      await stopServer(started.child);
    }
  }
}

const med = (work: number, key: keyof Sample): number =>
  median((samples.get(work) ?? []).map((s) => s[key])) ?? Number.NaN;
const base = med(amounts[0] ?? 0, 'rps');
process.stdout.write(
  `\n| bare node:http + work per request (${tool}, ${rounds} rounds, medians) | req/s | ratio to the first row | CPU per request: user + system |\n|---|---:|---:|---:|\n`,
);
for (const work of amounts) {
  const rps = med(work, 'rps');
  process.stdout.write(
    `| ${work} µs | ${rps.toFixed(0)} | ${(rps / base).toFixed(2)} | ${med(work, 'userUs').toFixed(1)} + ${med(work, 'systemUs').toFixed(1)} µs |\n`,
  );
}
