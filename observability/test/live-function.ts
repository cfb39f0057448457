/**
 * A real function (functions/demo/hello) started with OpenTelemetry on, driven through every outcome the
 * dashboards and alert rules look at, then scraped: the one source of "metric names the runtime
 * really exports" for the observability checks.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  loadConfig,
  MemoryDocumentStore,
  type RunningFunction,
  startFunction,
} from '../../functions/runtime/src/index.ts';
import { REPO, waitFor } from '../../functions/runtime/test/support.ts';

export const HELLO_TYPE = 'dev.sluice.hello.requested.v1';

export interface LiveFunction {
  readonly running: RunningFunction;
  readonly url: string;
  /** Every log line written so far, parsed. */
  logs(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startHello(env: Record<string, string> = {}): Promise<LiveFunction> {
  const lines: string[] = [];
  const config = loadConfig({
    FUNCTION_DIR: join(REPO, 'functions/demo/hello'),
    PORT: '0',
    HOST: '127.0.0.1',
    K_SERVICE: 'hello',
    K_REVISION: 'hello-00001',
    LOG_LEVEL: 'info',
    OTEL_SDK_DISABLED: 'false',
    ...env,
  });
  const running = await startFunction(config, {
    store: new MemoryDocumentStore(),
    logSink: { write: (chunk: string) => lines.push(chunk) },
  });
  const url = `http://127.0.0.1:${running.port}`;
  await waitFor('readiness', async () => (await fetch(`${url}/health/readiness`)).status === 200);
  return {
    running,
    url,
    logs: () =>
      lines
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: () => running.stop(),
  };
}

let n = 0;
/** Posts one binary-mode hello event; `data` defaults to a valid greeting request. */
export function postHello(
  url: string,
  options: { id?: string; type?: string; data?: unknown; traceparent?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-id': options.id ?? `obs-${process.pid}-${++n}`,
    'ce-source': '/tests/observability',
    'ce-type': options.type ?? HELLO_TYPE,
    'content-type': 'application/json',
  };
  if (options.traceparent !== undefined) headers.traceparent = options.traceparent;
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(options.data ?? { name: 'Ada' }) });
}

/** Success, replay, schema-invalid, unaccepted type, permanent rejection: one of each. */
export async function driveOutcomes(url: string): Promise<Record<string, number>> {
  const id = `obs-replay-${process.pid}-${++n}`;
  const statuses = {
    success: (await postHello(url, { id })).status,
    replayed: (await postHello(url, { id })).status,
    invalid: (await postHello(url, { data: { name: '' } })).status,
    unaccepted: (await postHello(url, { type: 'dev.sluice.other.thing.v1' })).status,
    rejected: (await postHello(url, { data: { name: 'nobody' } })).status,
  };
  return statuses;
}

export async function scrape(url: string): Promise<{ status: number; contentType: string; text: string }> {
  const res = await fetch(`${url}/metrics`);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** One sample of the exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text format 0.0.4 samples (comments skipped). promtool checks the syntax. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) throw new Error(`unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Metric family names as `# TYPE` declares them (histograms without _bucket/_sum/_count). */
export function familyNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1] as string));
}

/** Every series name a query may use: families plus the histogram sample names. */
export function seriesNames(text: string): Set<string> {
  return new Set([...familyNames(text), ...parseExposition(text).map((s) => s.name)]);
}

export interface PromtoolResult {
  readonly status: number | null;
  readonly output: string;
}

/** Runs promtool with `args`, `input` on stdin. */
export function promtool(args: readonly string[], input?: string): PromtoolResult {
  const r = spawnSync(process.env.PROMTOOL ?? 'promtool', args, {
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
