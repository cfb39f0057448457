/**
 * SLUICE_REPORT_PORTS=ipc, as the local platform starts every instance: PORT=0 (and METRICS_PORT=0), the OS picks
 * the ports as the process binds them, and the process tells its parent once over the IPC channel, which then
 * stays open but unreferenced: its close (the platform gone, even killed) makes the instance drain and exit.
 * Without a channel the setting is a configuration error.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  FIXTURES,
  type SpawnedFunction,
  spawnFunction,
  spawnFunctionOnFreePort,
  waitFor,
} from '../test/support.ts';
import { isProcessAlive } from './dev-endpoints.ts';
import { isListeningMessage } from './report-ports.ts';

const SUPPORT = new URL('../test/support.ts', import.meta.url).href;

const spawned: SpawnedFunction[] = [];
afterEach(() => {
  for (const { child } of spawned.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
const started = (fn: SpawnedFunction): SpawnedFunction => {
  spawned.push(fn);
  return fn;
};

describe('SLUICE_REPORT_PORTS=ipc', () => {
  it('an event function reports the port the OS gave PORT=0, serves there, and drains on SIGTERM', async () => {
    const fn = started(await spawnFunctionOnFreePort(join(FIXTURES, 'slow-recorder'), { LOG_LEVEL: 'warn' }));
    expect(fn.metricsUrl).toBeUndefined();
    expect((await fetch(`${fn.url}/health/liveness`)).status).toBe(200);
    expect(fn.child.connected).toBe(true);
    fn.child.kill('SIGTERM');
    expect(await fn.exited).toBe(0);
  });

  it('drains and exits when its parent is killed (the platform gone: no orphan serving on)', async () => {
    // A parent that starts the function as the platform does, reports the child's pid, and is then killed.
    const parent = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { spawnFunctionOnFreePort } from ${JSON.stringify(SUPPORT)};
         const fn = await spawnFunctionOnFreePort(process.argv[1], { LOG_LEVEL: 'warn' });
         process.stdout.write(JSON.stringify({ pid: fn.child.pid, url: fn.url }) + '\\n');`,
        join(FIXTURES, 'slow-recorder'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    onTestFinished(() => {
      parent.kill('SIGKILL');
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      parent.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      parent.once('exit', (code) =>
        reject(new Error(`the parent exited (${code}) before its child started`)),
      );
    });
    const { pid, url } = JSON.parse(line) as { pid: number; url: string };
    onTestFinished(() => {
      if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    expect((await fetch(`${url}/health/liveness`)).status).toBe(200);
    parent.kill('SIGKILL');
    await waitFor('the orphaned instance exited', () => !isProcessAlive(pid), 15_000);
  });

  it('a plain HTTP function reports its separate metrics port too, each answering what it serves', async () => {
    const fn = started(
      await spawnFunctionOnFreePort(join(FIXTURES, 'plain-http'), {
        METRICS_PORT: '0',
        OTEL_SDK_DISABLED: 'false',
        LOG_LEVEL: 'warn',
      }),
    );
    expect(fn.metricsUrl).toBeDefined();
    expect(fn.metricsUrl).not.toBe(fn.url);
    expect(await (await fetch(`${fn.url}/anything`)).text()).toBe('ok\n');
    const metrics = await fetch(`${fn.metricsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE');
  });

  it('refuses to start without an IPC channel (exit 78, the reason on stderr)', async () => {
    const fn = started(spawnFunction(join(FIXTURES, 'slow-recorder'), 0, { SLUICE_REPORT_PORTS: 'ipc' }));
    expect(await fn.exited).toBe(78);
    expect(fn.output()).toContain('SLUICE_REPORT_PORTS=ipc needs an IPC channel');
  });
});

describe('isListeningMessage', () => {
  it('accepts the message and nothing else', () => {
    expect(isListeningMessage({ type: 'sluice.listening', port: 8080 })).toBe(true);
    expect(isListeningMessage({ type: 'sluice.listening', port: 8080, metricsPort: 9090 })).toBe(true);
    expect(isListeningMessage({ type: 'sluice.listening', port: 0 })).toBe(false);
    expect(isListeningMessage({ type: 'sluice.listening', port: '8080' })).toBe(false);
    expect(isListeningMessage({ type: 'sluice.listening', port: 8080, metricsPort: 70000 })).toBe(false);
    expect(isListeningMessage({ type: 'other', port: 8080 })).toBe(false);
    expect(isListeningMessage(null)).toBe(false);
  });
});
