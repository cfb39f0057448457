/**
 * Helpers for the runtime's integration tests: start a function in-process, wait for a condition
 * with a deadline (never a fixed sleep), post events, speak raw HTTP where fetch cannot (a body that
 * lies about its length).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { toBinary, toStructured } from '../src/cloudevent/encode.ts';

// Runtime internals that tests elsewhere (the local platform's dev store) exercise through this kit.
export { HttpDocumentStore } from '../src/adapters/http/http-document-store.ts';
export { describeIdempotencyGuard } from '../src/idempotency/idempotency-guard.contract.ts';
export { ExpiryMode, IdempotencyGuard } from '../src/idempotency/idempotency-store.ts';
export { describeDocumentStoreContract } from '../src/ports/document-store.contract.ts';

import { receive, STRUCTURED_CONTENT_TYPE } from '../src/cloudevent/receive.ts';
import { loadConfig } from '../src/config.ts';
import type { LogSink } from '../src/log.ts';
import type { DocumentStore } from '../src/ports/document-store.ts';
import { portsReported } from '../src/report-ports.ts';
import { type RunningFunction, startFunction } from '../src/runtime.ts';
import type { CloudEvent } from '../src/types.ts';

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
