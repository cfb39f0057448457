/**
 * SLUICE_REPORT_PORTS=ipc, as the local platform starts every instance: PORT=0 (and METRICS_PORT=0), the OS picks
 * the ports as the process binds them, and the process tells its parent once over the IPC channel, then closes
 * the channel (an open one would keep it alive). Without a channel the setting is a configuration error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, MAIN, REPO } from '../test/support.ts';
import { isListeningMessage, type ListeningMessage } from './report-ports.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(functionDir: string, env: Record<string, string>, ipc: boolean): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      FUNCTION_DIR: functionDir,
      HOST: '127.0.0.1',
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      PORT: '0',
      SLUICE_REPORT_PORTS: 'ipc',
      ...env,
    },
    stdio: ipc ? ['ignore', 'ignore', 'pipe', 'ipc'] : ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  return child;
}

const exitOf = (child: ChildProcess): Promise<number | string> =>
  new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)));

describe('SLUICE_REPORT_PORTS=ipc', () => {
  it('an event function reports the port the OS gave PORT=0, closes the channel, and serves there', async () => {
    const child = start(join(FIXTURES, 'slow-recorder'), {}, true);
    const disconnected = new Promise<void>((r) => child.once('disconnect', r));
    const message = await new Promise<unknown>((r) => child.once('message', r));
    expect(isListeningMessage(message)).toBe(true);
    const { port, metricsPort } = message as ListeningMessage;
    expect(metricsPort).toBeUndefined();
    await disconnected;
    const res = await fetch(`http://127.0.0.1:${port}/health/liveness`);
    expect(res.status).toBe(200);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('a plain HTTP function reports its separate metrics port too, each answering what it serves', async () => {
    const child = start(
      join(FIXTURES, 'plain-http'),
      { METRICS_PORT: '0', OTEL_SDK_DISABLED: 'false' },
      true,
    );
    const message = (await new Promise<unknown>((r) => child.once('message', r))) as ListeningMessage;
    expect(isListeningMessage(message)).toBe(true);
    expect(message.metricsPort).toBeDefined();
    expect(message.metricsPort).not.toBe(message.port);
    expect(await (await fetch(`http://127.0.0.1:${message.port}/anything`)).text()).toBe('ok\n');
    const metrics = await fetch(`http://127.0.0.1:${message.metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE');
  });

  it('refuses to start without an IPC channel (exit 78, the reason on stderr)', async () => {
    const child = start(join(FIXTURES, 'slow-recorder'), {}, false);
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    expect(await exitOf(child)).toBe(78);
    expect(err).toContain('SLUICE_REPORT_PORTS=ipc needs an IPC channel');
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
