/**
 * SLUICE_REPORT_PORTS=ipc, as the local platform starts every instance: PORT=0 (and METRICS_PORT=0), the OS picks
 * the ports as the process binds them, and the process tells its parent once over the IPC channel, then closes
 * the channel (an open one would keep it alive). Without a channel the setting is a configuration error.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  type SpawnedFunction,
  spawnFunction,
  spawnFunctionOnFreePort,
  waitFor,
} from '../test/support.ts';
import { isListeningMessage } from './report-ports.ts';

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
  it('an event function reports the port the OS gave PORT=0, closes the channel, and serves there', async () => {
    const fn = started(await spawnFunctionOnFreePort(join(FIXTURES, 'slow-recorder'), { LOG_LEVEL: 'warn' }));
    expect(fn.metricsUrl).toBeUndefined();
    expect((await fetch(`${fn.url}/health/liveness`)).status).toBe(200);
    await waitFor('the IPC channel closed', () => !fn.child.connected);
    fn.child.kill('SIGTERM');
    expect(await fn.exited).toBe(0);
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
