/**
 * The servers under test, how to start one pinned to the server core, and the cold-start probe:
 * spawn → first 2xx to a POST of the benchmark event, polled in a tight loop on a fresh connection
 * each time, RSS read from /proc/<pid>/status at that moment.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../platform/test-servers/ports.ts';
import { EVENT_BODY, EVENT_HEADERS } from './event.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BUNDLE_DIR = join(ROOT, 'dist/bench/order-sink');
export const FIXTURE_DIR = join(ROOT, 'bench/fixtures/order-sink');

/** Bundles the benchmark fixture into BUNDLE_DIR, as `make bundle` does a function (the bundle rows run it). */
export async function buildFixtureBundle(): Promise<void> {
  await promisify(execFile)(process.execPath, [
    join(ROOT, 'platform/build/bundle.ts'),
    '--dir',
    FIXTURE_DIR,
    '--out',
    BUNDLE_DIR,
  ]);
}

export const Group = { floor: 'floor', peer: 'peer', ours: 'ours' } as const;
export type GroupName = (typeof Group)[keyof typeof Group];

export interface ServerSpec {
  readonly name: string;
  readonly label: string;
  readonly group: GroupName;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const server = (file: string): string => join(ROOT, 'bench/servers', file);
const OURS_ENV = { HOST: '127.0.0.1', K_SERVICE: 'order-sink', LOG_LEVEL: 'info' };

export const SERVERS: readonly ServerSpec[] = [
  {
    name: 'bare-http',
    label: 'bare `node:http`, read body, 202',
    group: Group.floor,
    args: [server('bare-http.cjs')],
  },
  {
    name: 'sdk-http',
    label: '`node:http` + `cloudevents` SDK `HTTP.toEvent` + ajv',
    group: Group.peer,
    args: [server('sdk-http.mjs')],
  },
  {
    name: 'faas-js',
    label: 'faas-js-runtime 4.x (fastify)',
    group: Group.peer,
    args: [server('faas-js.mjs')],
  },
  {
    name: 'express-sdk',
    label: 'express 5 + `cloudevents` SDK + ajv',
    group: Group.peer,
    args: [server('express-sdk.mjs')],
  },
  {
    name: 'express-sdk-otel',
    label: 'the same + OTel sdk-node + Prometheus exporter',
    group: Group.peer,
    args: [server('express-sdk.mjs')],
    env: { BENCH_OTEL: '1' },
  },
  {
    name: 'sluice-bundle',
    label: '**sluice** bundle (`main.mjs`), telemetry on',
    group: Group.ours,
    args: [join(BUNDLE_DIR, 'main.mjs')],
    env: OURS_ENV,
  },
  {
    name: 'sluice-bundle-otel-off',
    label: '**sluice** bundle, `OTEL_SDK_DISABLED=true`',
    group: Group.ours,
    args: [join(BUNDLE_DIR, 'main.mjs')],
    env: { ...OURS_ENV, OTEL_SDK_DISABLED: 'true' },
  },
  {
    name: 'sluice-source',
    label: '**sluice** from source (`node main.ts`)',
    group: Group.ours,
    args: [join(ROOT, 'functions/runtime/src/main.ts')],
    env: { ...OURS_ENV, FUNCTION_DIR: FIXTURE_DIR },
  },
];

let sequence = 0;

/** One POST of the benchmark event on a new connection; resolves with the status code. */
export function postEvent(port: number): Promise<number> {
  return new Promise((ok, fail) => {
    const body = Buffer.from(EVENT_BODY);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        headers: {
          ...EVENT_HEADERS,
          'ce-id': `probe-${process.pid}-${++sequence}`,
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => ok(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

export interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly coldMs: number;
  readonly rssMb: number | undefined;
}

export class ServerStartError extends Error {
  override name = 'ServerStartError';
}

/** Spawns the server on `cpu` and returns at its first 2xx answer. */
export async function startServer(spec: ServerSpec, cpu: string, timeoutMs = 20_000): Promise<Started> {
  const port = await freePort();
  let stderr = '';
  let exited: number | null | undefined;
  const started = performance.now();
  const child = spawn('taskset', ['-c', cpu, process.execPath, ...spec.args], {
    cwd: ROOT,
    env: { ...process.env, ...spec.env, PORT: String(port) },
    // stdout (our one log line per event) goes to /dev/null: the cost of formatting stays, and the
    // benchmark process does not spend the load core reading it.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.on('exit', (code) => {
    exited = code;
  });
  for (;;) {
    if (exited !== undefined) throw new ServerStartError(`${spec.name} exited with ${exited}: ${stderr}`);
    if (performance.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new ServerStartError(`${spec.name} gave no 2xx within ${timeoutMs} ms: ${stderr}`);
    }
    try {
      const status = await postEvent(port);
      if (status >= 200 && status < 300) break;
    } catch {
      // ECONNREFUSED until it listens: try again at once.
    }
  }
  const coldMs = performance.now() - started;
  return { child, port, coldMs, rssMb: child.pid === undefined ? undefined : rssMb(child.pid) };
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill('SIGKILL');
  await gone;
}
