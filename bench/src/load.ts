/**
 * The load generator: one process, pinned to the load core, 50 keep-alive connections, POSTing the
 * benchmark event with a fresh `ce-id` per request (so the idempotency guard claims a new key every
 * time, never replays). wrk (Debian package) when it is installed — it is C and leaves the most
 * headroom on a 2-core machine — otherwise autocannon's programmatic API in a child process.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EVENT_BODY, EVENT_HEADERS } from './event.ts';

const run = promisify(execFile);

export const LoadTool = { wrk: 'wrk', autocannon: 'autocannon' } as const;
export type LoadToolName = (typeof LoadTool)[keyof typeof LoadTool];

export interface LoadOptions {
  readonly port: number;
  readonly connections: number;
  readonly seconds: number;
  readonly tool: LoadToolName;
  /** CPU list for taskset. */
  readonly cpu: string;
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  /** Responses outside 2xx plus socket errors and timeouts: a run with any is not a valid sample. */
  readonly failures: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export function pickLoadTool(wanted: string | undefined): LoadToolName {
  if (wanted === LoadTool.wrk || wanted === LoadTool.autocannon) return wanted;
  const onPath = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'wrk')));
  return onPath ? LoadTool.wrk : LoadTool.autocannon;
}

const MARK = 'BENCHJSON ';

function parseMarked(stdout: string): Record<string, number> {
  const line = stdout.split('\n').find((l) => l.startsWith(MARK));
  if (line === undefined) throw new Error(`load generator printed no result:\n${stdout}`);
  return JSON.parse(line.slice(MARK.length)) as Record<string, number>;
}

// JSON string literals are valid Lua string literals for ASCII text (\" and \\ escapes).
const luaString = (s: string): string => JSON.stringify(s);

async function wrkScript(prefix: string): Promise<string> {
  const headers = Object.entries(EVENT_HEADERS)
    .map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`)
    .join('\n');
  const file = join(tmpdir(), `sluice-bench-${process.pid}.lua`);
  await writeFile(
    file,
    `wrk.method = "POST"
wrk.body = ${luaString(EVENT_BODY)}
${headers}
local counter = 0
request = function()
  counter = counter + 1
  wrk.headers["ce-id"] = "${prefix}-" .. counter
  return wrk.format()
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARK}{"requests":%.0f,"durationUs":%.0f,"failures":%.0f,"p50Us":%.0f,"p99Us":%.0f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`,
  );
  return file;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const prefix = randomBytes(6).toString('hex');
  if (options.tool === LoadTool.wrk) {
    const script = await wrkScript(prefix);
    const { stdout } = await run('taskset', [
      '-c',
      options.cpu,
      'wrk',
      '-t1',
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '--timeout',
      '5s',
      '-s',
      script,
      `http://127.0.0.1:${options.port}/`,
    ]).finally(() => rm(script, { force: true }));
    const r = parseMarked(stdout);
    const requests = r.requests ?? 0;
    return {
      requests,
      rps: requests / ((r.durationUs ?? 1) / 1e6),
      failures: r.failures ?? 0,
      p50Ms: (r.p50Us ?? 0) / 1000,
      p99Ms: (r.p99Us ?? 0) / 1000,
    };
  }
  const worker = new URL('./autocannon-worker.ts', import.meta.url).pathname;
  const args = JSON.stringify({ ...options, prefix, headers: EVENT_HEADERS, body: EVENT_BODY });
  const { stdout } = await run('taskset', ['-c', options.cpu, process.execPath, worker, args], {
    maxBuffer: 1 << 20,
  });
  const r = parseMarked(stdout);
  return {
    requests: r.requests ?? 0,
    rps: r.rps ?? 0,
    failures: r.failures ?? 0,
    p50Ms: r.p50Ms ?? 0,
    p99Ms: r.p99Ms ?? 0,
  };
}
