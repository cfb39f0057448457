/**
 * Helpers for the runtime's tests and the functions': start a function in-process, or as its container or its
 * image runs it; wait for a condition with a deadline (never a fixed sleep); read a function's example events and
 * call its handler with a stub context; post events; speak raw HTTP where fetch cannot (a body that lies about its
 * length).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { toBinary, toStructured } from '../src/cloudevent/encode.ts';

// Runtime internals that tests elsewhere (the local platform's dev store) exercise through this kit.
export { HttpDocumentStore } from '../src/adapters/http/http-document-store.ts';
export { describeIdempotencyGuard } from '../src/idempotency/idempotency-guard.contract.ts';
export { ExpiryMode, IdempotencyGuard } from '../src/idempotency/idempotency-store.ts';
export { describeDocumentStoreContract } from '../src/ports/document-store.contract.ts';
export { countStoreCalls, type StoreOperation } from '../src/store-calls.ts';

import type { MongoDocumentStore } from '../src/adapters/mongodb/mongo-document-store.ts';
import { receive, STRUCTURED_CONTENT_TYPE } from '../src/cloudevent/receive.ts';
import { loadConfig } from '../src/config.ts';
import { JsonLogger, type LogSink } from '../src/log.ts';
import type { DocumentStore } from '../src/ports/document-store.ts';
import { portsReported } from '../src/report-ports.ts';
import { type RunningFunction, startFunction } from '../src/runtime.ts';
import type { CloudEvent, Context } from '../src/types.ts';

export const REPO = resolve(import.meta.dirname, '../../..');
export const MAIN = join(REPO, 'functions/runtime/src/main.ts');
export const FIXTURES = join(REPO, 'functions/runtime/test/fixtures');

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A store a test owns, and how to let it go (its database dropped). */
export interface ScratchStore {
  readonly store: MongoDocumentStore;
  close(): Promise<void>;
}

let scratchDatabases = 0;
/** A MongoDocumentStore on a database of its own at `url` (`<prefix>_<pid>_<ms>_<n>`), dropped by `close`. */
export async function openScratchStore(url: string, prefix: string): Promise<ScratchStore> {
  const name = `${prefix}_${process.pid}_${Date.now()}_${scratchDatabases++}`;
  // Imported here: the unit tests that use this kit do not load the MongoDB driver.
  const { MongoDocumentStore } = await import('../src/adapters/mongodb/mongo-document-store.ts');
  const store = await MongoDocumentStore.connect(url, name);
  return {
    store,
    close: async () => {
      await store.db.dropDatabase();
      await store.close();
    },
  };
}

export interface StartedFunction {
  readonly running: RunningFunction;
  readonly url: string;
}

/** Starts a function folder in this process on a free port, and waits until it is ready. */
export async function startInProcess(
  functionDir: string,
  env: Record<string, string> = {},
  options: { store?: DocumentStore; waitReady?: boolean; logSink?: LogSink } = {},
): Promise<StartedFunction> {
  const config = loadConfig({
    FUNCTION_DIR: functionDir,
    PORT: '0',
    HOST: '127.0.0.1',
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'error',
    ...env,
  });
  const running = await startFunction(config, {
    logSink: options.logSink ?? { write: () => true },
    ...(options.store === undefined ? {} : { store: options.store }),
  });
  const url = `http://127.0.0.1:${running.port}`;
  if (options.waitReady !== false) {
    await waitFor('readiness', async () => (await fetch(`${url}/health/readiness`)).status === 200);
  }
  return { running, url };
}

/**
 * Reads a structured-mode example file into the event receive() produces from it. `E` types it for a typed
 * handler (`readExample<EventOf<Events, typeof REQUESTED>>(…)`): trusted because functions/examples.test.ts
 * checks every example against its schema, as the runtime checks every event before `handle`.
 */
export function readExample<E extends CloudEvent<unknown, string> = CloudEvent>(file: string): E {
  return receive({ 'content-type': STRUCTURED_CONTENT_TYPE }, readFileSync(file)).event as E;
}

/**
 * A function's example event (`<function dir>/examples/<type>.json`), parsed as the runtime parses it and typed by
 * the function's `Events` (events.gen.ts), so it fits its typed handler.
 */
export function exampleEvent<E extends object, K extends keyof E & string>(
  functionDir: string,
  type: K,
): CloudEvent<E[K], K> {
  const event = readExample(join(functionDir, 'examples', `${type}.json`));
  if (event.type !== type) throw new Error(`examples/${type}.json is a ${event.type}`);
  return event as CloudEvent<E[K], K>;
}

/** A handler's context on `store`, with a logger that writes nowhere. */
export function stubContext(store: DocumentStore, signal = new AbortController().signal): Context {
  return {
    log: new JsonLogger({ serviceName: 'test', sink: { write: () => true } }),
    store,
    functionName: 'test',
    signal,
    traceId: '0af7651916cd43dd8448eb211c80319c',
  };
}

export function postBinary(url: string, event: CloudEvent, signal?: AbortSignal): Promise<Response> {
  const message = toBinary(event);
  return fetch(url, {
    method: 'POST',
    headers: message.headers,
    body: message.body,
    ...(signal === undefined ? {} : { signal }),
  });
}

export function postStructured(url: string, event: CloudEvent): Promise<Response> {
  const message = toStructured(event);
  return fetch(url, { method: 'POST', headers: message.headers, body: message.body });
}

/**
 * Sends `head` (request line + headers, CRLF-separated, without the blank line) and `body` over a
 * raw socket and resolves with the response head as text once it arrives; the socket is then
 * destroyed. Used to send a body shorter than its Content-Length.
 */
export function rawRequest(port: number, head: string, body: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\r\n\r\n')) {
        socket.destroy();
        resolvePromise(received);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed before a response: ${received}`)));
    socket.write(`${head}\r\n\r\n${body}`);
  });
}

export interface SpawnedFunction {
  readonly child: ChildProcess;
  readonly url: string;
  /** The separate /metrics server a plain HTTP function reported (spawnFunctionOnFreePort with METRICS_PORT=0). */
  readonly metricsUrl?: string;
  /** stdout and stderr so far (ECS JSON log lines and start-up errors). */
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
}

/** Spawns `node functions/runtime/src/main.ts` — exactly the container's command — on `port`. */
export function spawnFunction(
  functionDir: string,
  port: number,
  env: Record<string, string>,
): SpawnedFunction {
  const started = spawnMain(functionDir, { PORT: String(port), ...env }, false);
  return { ...started, url: `http://127.0.0.1:${port}` };
}

/**
 * The same on a port the OS picks as the process binds it (`PORT=0`, told back over IPC as `make dev`'s platform
 * learns it: `SLUICE_REPORT_PORTS=ipc`), for a test that does not need a fixed address: a port picked ahead can be
 * taken by another process before the child binds it. Resolves once the port is known (not yet ready).
 */
export async function spawnFunctionOnFreePort(
  functionDir: string,
  env: Record<string, string>,
): Promise<SpawnedFunction> {
  const started = spawnMain(functionDir, { PORT: '0', SLUICE_REPORT_PORTS: 'ipc', ...env }, true);
  const ports = await portsReported(started.child);
  if (ports === undefined) {
    throw new Error(
      `${functionDir} exited (${await started.exited}) before it reported its port:\n${started.output()}`,
    );
  }
  return {
    ...started,
    url: `http://127.0.0.1:${ports.port}`,
    ...(ports.metricsPort === undefined ? {} : { metricsUrl: `http://127.0.0.1:${ports.metricsPort}` }),
  };
}

function spawnMain(
  functionDir: string,
  env: Record<string, string>,
  ipc: boolean,
): Omit<SpawnedFunction, 'url'> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      FUNCTION_DIR: functionDir,
      HOST: '127.0.0.1',
      OTEL_SDK_DISABLED: 'true',
      ...env,
    },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  const exited = new Promise<number | string>((r) =>
    child.once('exit', (code, signal) => r(code ?? signal ?? -1)),
  );
  return { child, output: () => out, exited };
}

export interface BundledFunction {
  readonly child: ChildProcess;
  readonly url: string;
  /** SIGTERM to the process; its folder removed. */
  stop(): Promise<void>;
}

/**
 * A function as its image runs it (bench/bench.mk "BUNDLE CONTRACT"): `make bundle` into a temporary folder, the
 * bundle copied outside the repository (no node_modules around it but the package files bundle.json lists), `node
 * main.mjs` there on a port the OS picks (`PORT=0`, told back over IPC as make dev learns it: a port picked ahead can
 * be taken). Resolves once its readiness probe answers; stopped and removed again when it does not.
 */
export async function startBundledFunction(
  functionDir: string,
  options: { readonly env?: Record<string, string>; readonly stderr?: 'inherit' | 'ignore' } = {},
): Promise<BundledFunction> {
  const name = basename(functionDir);
  const dir = await mkdtemp(join(tmpdir(), `sluice-${name}-image-`));
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    child?.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const out = join(dir, 'build');
    await new Promise<void>((done, fail) =>
      execFile(
        process.execPath,
        [join(REPO, 'platform/build/bundle.ts'), '--dir', functionDir, '--out', out],
        (err, _o, stderr) => (err === null ? done() : fail(new Error(stderr))),
      ),
    );
    // /app of the image: only the bundle folder, nowhere near the repository's node_modules.
    await cp(out, join(dir, 'app'), { recursive: true });
    const started = spawn(process.execPath, [join(dir, 'app', 'main.mjs')], {
      cwd: join(dir, 'app'),
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        SLUICE_REPORT_PORTS: 'ipc',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        OTEL_SDK_DISABLED: 'true',
        ...options.env,
      },
      stdio: ['ignore', 'ignore', options.stderr ?? 'ignore', 'ipc'],
    });
    child = started;
    const ports = await portsReported(started);
    if (ports === undefined) throw new Error(`the bundled ${name} exited before it reported its port`);
    const url = `http://127.0.0.1:${ports.port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`the bundled ${name} exited with ${started.exitCode}`);
      const ok = await fetch(`${url}/health/readiness`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`the bundled ${name} did not become ready`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { child: started, url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
