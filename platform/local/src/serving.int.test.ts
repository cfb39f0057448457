import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../../functions/runtime/src/index.ts';
import { loadKnativeService } from './knative-service.ts';
import { ProcessFunctionHost } from './process-host.ts';
import { SCALE_ACTION } from './scaler.ts';
import { type Serving, startServing } from './serving.ts';
import { postEvent, until } from './testing/http-events.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const HELLO = resolve(ROOT, 'functions/demo/hello/service.yaml');
const TALLY = resolve(ROOT, 'platform/local/test/fixtures/tally/service.yaml');

describe('serving (real function processes)', () => {
  let serving: Serving | undefined;
  const lines: string[] = [];
  const log = new RecordingLogger();
  const host = new ProcessFunctionHost({ root: ROOT, out: { write: (c: string) => lines.push(c) } });

  afterEach(async () => {
    await serving?.stop();
    serving = undefined;
  });

  it('holds the first request while hello starts from zero, then answers it', async () => {
    serving = await startServing({
      services: [await loadKnativeService(HELLO)],
      host,
      log,
      idleOverride: '60s',
    });
    const hello = serving.functions.get('hello');
    expect(hello?.scaler.snapshot().instances).toHaveLength(0);

    const example = await readFile(
      resolve(ROOT, 'functions/demo/hello/examples/dev.sluice.hello.requested.v1.json'),
    );
    const res = await fetch(serving.urlFor('hello') as string, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: example,
    });

    expect(res.status).toBe(200);
    expect(res.headers.get('ce-type')).toBe('dev.sluice.hello.greeted.v1');
    expect(await res.json()).toMatchObject({ greeting: 'Hello, Ada!' });
    const up = log.actions(SCALE_ACTION.up).filter((r) => r.fields['faas.name'] === 'hello');
    expect(up).toHaveLength(1);
    expect(up[0]?.fields['sluice.cold_start_ms']).toBeGreaterThan(0);
    expect(hello?.scaler.snapshot().instances.map((i) => i.state)).toEqual(['ready']);
    // The child's own log lines were passed through as JSON.
    const childLines = lines
      .join('')
      .split('\n')
      .filter((l) => l.includes('"function ready"'));
    expect(JSON.parse(childLines[0] as string)).toMatchObject({ service: { name: 'hello' } });
  });

  it('stops the process after the idle window and starts a new one on the next request', async () => {
    const spec = await loadKnativeService(TALLY);
    serving = await startServing({ services: [spec], host, log, idleOverride: '500ms' });
    const url = serving.urlFor('tally') as string;
    const tally = serving.functions.get('tally');

    const first = await postEvent(url, 'dev.sluice.test.tally.requested.v1', { key: 'a' });
    expect(first.status).toBe(200);
    const pid = ((await first.json()) as { pid: number }).pid;
    expect(isProcessAlive(pid)).toBe(true);

    await until('scale to zero', () => tally?.scaler.snapshot().instances.length === 0);
    await until('process exit', () => !isProcessAlive(pid));

    const second = await postEvent(url, 'dev.sluice.test.tally.requested.v1', { key: 'b' });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { pid: number }).pid).not.toBe(pid);
  });

  it('answers 502 when the instance dies mid-request, and replaces it on demand', async () => {
    const spec = await loadKnativeService(TALLY);
    serving = await startServing({ services: [spec], host, log, idleOverride: '60s' });
    const url = serving.urlFor('tally') as string;
    const tally = serving.functions.get('tally');

    const warm = await postEvent(url, 'dev.sluice.test.tally.requested.v1', { key: 'warm' });
    const pid = ((await warm.json()) as { pid: number }).pid;
    const slow = postEvent(url, 'dev.sluice.test.tally.requested.v1', { key: 'slow', delayMs: 30_000 });
    await until('request in flight', () => tally?.scaler.snapshot().instances[0]?.inFlight === 1);
    process.kill(pid, 'SIGKILL');

    const res = await slow;
    expect(res.status).toBe(502);
    await until('crash noticed', () => tally?.scaler.snapshot().instances.length === 0);
    expect(log.actions(SCALE_ACTION.crashed).length).toBeGreaterThan(0);

    const again = await postEvent(url, 'dev.sluice.test.tally.requested.v1', { key: 'again' });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { pid: number }).pid).not.toBe(pid);
  });

  it('queues beyond containerConcurrency and scales out up to max-scale', async () => {
    const base = await loadKnativeService(TALLY);
    const spec = { ...base, containerConcurrency: 1, target: 1, maxScale: 2 };
    serving = await startServing({ services: [spec], host, log, idleOverride: '60s' });
    const url = serving.urlFor('tally') as string;
    const tally = serving.functions.get('tally');

    const answers = Array.from({ length: 4 }, (_, i) =>
      postEvent(url, 'dev.sluice.test.tally.requested.v1', { key: `k${i}`, delayMs: 300 }),
    );
    const statuses = await Promise.all(answers.map(async (a) => (await a).status));
    expect(statuses).toEqual([200, 200, 200, 200]);
    const snapshot = tally?.scaler.snapshot();
    expect(snapshot?.instances).toHaveLength(2);
  });
});
