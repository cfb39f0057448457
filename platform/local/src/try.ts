/**
 * `make try FN=<name>`: posts the function's examples (one per accepted type) and says what became of each.
 *
 * - With `make dev` running (`.tmp/dev/endpoints.json`): through the broker ingress, as any producer would,
 *   then reads `make dev`'s delivery trail (event-trail.ts) until every Trigger that delivers the example to
 *   the function has an outcome: delivered (status, attempts, the reply and its data), refused (kept in the
 *   dead-letter sink or not), dead-lettered.
 * - Without it: starts the function alone in this process (in-memory store, as `make run`) and posts each
 *   example straight to it in binary mode: the status, and the reply or the problem.
 *
 * Each example is posted under a new id in the first case (the dev store remembers answered ids), its own id
 * in the second (a fresh store).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadEventingManifests, type TrailRecord } from '../../../eventing/src/index.ts';
import {
  type CloudEvent,
  type DevEndpoints,
  describeFunction,
  findFunction,
  loadConfig,
  readDevEndpoints,
  receive,
  STRUCTURED_CONTENT_TYPE,
  startFunction,
  toBinary,
} from '../../../functions/runtime/src/index.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

export class TryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TryError';
  }
}

export interface TryOptions {
  readonly fn: string;
  readonly root?: string;
  /** @default the running make dev's, if any */
  readonly endpoints?: DevEndpoints | undefined;
  /** How long to wait for the outcomes through make dev. @default 60 000 */
  readonly timeoutMs?: number;
  readonly out?: { write(text: string): unknown };
}

interface Example {
  readonly file: string;
  readonly event: CloudEvent;
}

/** The examples of the types `fn` accepts, in the order of `accepts`. */
async function examplesOf(root: string, fn: string): Promise<{ dir: string; examples: Example[] }> {
  const folder = findFunction(join(root, 'functions'), fn);
  if (folder === undefined || !folder.hasHandler)
    throw new TryError(`no function named ${fn} (functions/<system>/${fn}/handler.ts)`);
  const description = await describeFunction(folder.dir);
  const examples = (description?.accepts ?? [])
    .map((type) => join(folder.dir, 'examples', `${type}.json`))
    .filter((file) => existsSync(file))
    .map((file) => ({
      file: relative(folder.dir, file),
      event: receive({ 'content-type': STRUCTURED_CONTENT_TYPE }, readFileSync(file)).event,
    }));
  if (examples.length === 0)
    throw new TryError(`${relative(root, folder.dir)} has no examples/<type>.json of a type it accepts`);
  return { dir: folder.dir, examples };
}

const short = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? '(no data)' : text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

function describeRecord(r: TrailRecord): string[] {
  const attempts = `${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`;
  const status = r.status === -1 ? 'no answer' : String(r.status);
  const lines: string[] = [];
  switch (r.outcome) {
    case 'delivered':
      lines.push(`  trigger ${r.trigger}: delivered, ${status} after ${attempts}`);
      break;
    case 'refused-kept':
      lines.push(
        `  trigger ${r.trigger}: refused ${status}, kept in the dead-letter sink by the function (make dlq)`,
      );
      break;
    case 'refused-acked':
      lines.push(`  trigger ${r.trigger}: refused ${status}, acked as delivered and not kept anywhere`);
      break;
    case 'dead-lettered':
      lines.push(
        `  trigger ${r.trigger}: dead-lettered after ${attempts} (last ${status}) → ${r.deadLetterSink ?? 'its sink'} (make dlq)`,
      );
      break;
    case 'lost':
      lines.push(`  trigger ${r.trigger}: failed (${status}) and LOST: no dead-letter sink took it`);
      break;
  }
  if (r.reply !== undefined)
    lines.push(
      `  reply ${r.reply.type} (${r.reply.published ? 'published' : 'NOT published'}): ${'data' in r.reply ? short(r.reply.data) : '(data too large to show)'}`,
    );
  if (r.error !== undefined && r.outcome !== 'delivered') lines.push(`  error: ${r.error.slice(0, 300)}`);
  return lines;
}

/** Whether every filter attribute equals the event's (Knative's exact-match filter). */
function matches(filter: Readonly<Record<string, string>>, event: CloudEvent): boolean {
  const attrs: Record<string, unknown> = { ...event.extensions, ...event };
  return Object.entries(filter).every(([k, v]) => String(attrs[k] ?? '') === v);
}

async function tryThroughDev(
  root: string,
  fn: string,
  examples: readonly Example[],
  dev: DevEndpoints & { readonly brokerUrl: string; readonly trailUrl: string },
  timeoutMs: number,
  out: { write(text: string): unknown },
): Promise<boolean> {
  const manifests = await loadEventingManifests(join(root, 'eventing/manifests'));
  const mine = manifests.triggers.filter((t) => t.subscriber.ref?.name === fn);
  out.write(`make try FN=${fn}: through make dev, broker ${dev.brokerUrl}\n`);
  let allDelivered = true;
  const tag = Date.now().toString(36);
  for (const { file, event: example } of examples) {
    const event: CloudEvent = { ...example, id: `${example.id}-try-${tag}` };
    const triggers = mine.filter((t) => matches(t.filter, event)).map((t) => t.name);
    const message = toBinary(event);
    const res = await fetch(dev.brokerUrl, { method: 'POST', headers: message.headers, body: message.body });
    await res.arrayBuffer();
    out.write(`${file} as id ${event.id} → broker ${res.status}\n`);
    if (res.status !== 202) {
      allDelivered = false;
      continue;
    }
    if (triggers.length === 0) {
      out.write(`  no Trigger delivers ${event.type} to ${fn} (eventing/manifests/<system>/triggers/)\n`);
      allDelivered = false;
      continue;
    }
    const records = await waitForTrail(dev, event.id, triggers, timeoutMs);
    for (const name of triggers) {
      const r = records.find((x) => x.trigger === name);
      if (r === undefined) {
        out.write(
          `  trigger ${name}: no outcome after ${timeoutMs / 1000} s (still retrying? make dev's log says)\n`,
        );
        allDelivered = false;
        continue;
      }
      if (r.outcome !== 'delivered') allDelivered = false;
      out.write(`${describeRecord(r).join('\n')}\n`);
    }
  }
  return allDelivered;
}

/** Polls make dev's trail until each trigger has a record of `eventId`, or the deadline passes. */
async function waitForTrail(
  dev: { readonly trailUrl: string; readonly trailToken?: string },
  eventId: string,
  triggers: readonly string[],
  timeoutMs: number,
): Promise<TrailRecord[]> {
  const deadline = Date.now() + timeoutMs;
  let records: TrailRecord[] = [];
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const res = await fetch(`${dev.trailUrl}/v1/trail?event=${encodeURIComponent(eventId)}`, {
      headers: { authorization: `Bearer ${dev.trailToken ?? ''}` },
    });
    if (res.status !== 200)
      throw new TryError(`make dev's trail answered ${res.status}: ${await res.text()}`);
    records = ((await res.json()) as { records: TrailRecord[] }).records;
    if (triggers.every((t) => records.some((r) => r.trigger === t)) || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function tryAlone(
  dir: string,
  fn: string,
  examples: readonly Example[],
  out: { write(text: string): unknown },
): Promise<boolean> {
  const config = loadConfig({
    FUNCTION_DIR: dir,
    PORT: '0',
    HOST: '127.0.0.1',
    K_SERVICE: fn,
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'error',
  });
  const running = await startFunction(config, { logSink: process.stderr });
  const url = `http://127.0.0.1:${running.port}`;
  try {
    const deadline = Date.now() + 30_000;
    while ((await fetch(`${url}/health/readiness`)).status !== 200) {
      if (Date.now() > deadline) throw new TryError(`${fn} did not become ready within 30 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    out.write(`make try FN=${fn}: make dev is not running; ${fn} alone (in-memory store), binary mode\n`);
    let allDelivered = true;
    for (const { file, event } of examples) {
      const message = toBinary(event);
      const res = await fetch(url, { method: 'POST', headers: message.headers, body: message.body });
      const body = Buffer.from(await res.arrayBuffer());
      out.write(`${file} → ${res.status}\n`);
      if (res.status === 200) {
        const reply = receive(Object.fromEntries(res.headers), body).event;
        out.write(`  reply ${reply.type}: ${short(reply.data)}\n`);
      } else if (res.status >= 300) {
        allDelivered = false;
        const problem =
          body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
        out.write(`  ${String(problem.title ?? '')}: ${String(problem.detail ?? '')}\n`);
      }
    }
    return allDelivered;
  } finally {
    await running.stop();
  }
}

/** Runs `make try`; true when every example was delivered (2xx). */
export async function tryFunction(options: TryOptions): Promise<boolean> {
  const root = options.root ?? ROOT;
  const out = options.out ?? process.stdout;
  const { dir, examples } = await examplesOf(root, options.fn);
  const dev = 'endpoints' in options ? options.endpoints : readDevEndpoints();
  if (dev?.brokerUrl !== undefined && dev.trailUrl !== undefined && options.fn in dev.services)
    return tryThroughDev(
      root,
      options.fn,
      examples,
      { ...dev, brokerUrl: dev.brokerUrl, trailUrl: dev.trailUrl },
      options.timeoutMs ?? 60_000,
      out,
    );
  return tryAlone(dir, options.fn, examples, out);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { fn: { type: 'string', default: '' } } });
  tryFunction({ fn: values.fn ?? '', timeoutMs: Number(process.env.TRY_TIMEOUT_SECONDS ?? 60) * 1000 }).then(
    (ok) => {
      process.exitCode = ok ? 0 : 1;
    },
    (err: unknown) => {
      process.stderr.write(`make try: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
