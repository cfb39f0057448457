/**
 * `make try` (try.ts) against the real runtime: hello alone, and hello through the local platform (broker,
 * serving from zero, the delivery trail), as `make dev` runs it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEventingManifests, startBroker } from '../../../eventing/src/index.ts';
import { brokerYaml } from '../../../eventing/src/testing/manifests.ts';
import { ENDPOINTS_STATE } from '../../../functions/runtime/src/index.ts';
import { loadKnativeService } from './knative-service.ts';
import { type DevPlatform, startDevPlatform } from './platform.ts';
import { startRecorder } from './testing/recorder.ts';
import { RecordingLogger } from './testing/recording-logger.ts';
import { tryFunction } from './try.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

function output(): { write(text: string): boolean; text(): string } {
  let text = '';
  return {
    write: (t: string) => {
      text += t;
      return true;
    },
    text: () => text,
  };
}

describe('make try', () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('runs the function alone when make dev is not running, and shows its answer', async () => {
    const out = output();
    const ok = await tryFunction({ fn: 'hello', endpoints: undefined, out });
    expect(out.text()).toBe(
      [
        'make try FN=hello: make dev is not running; hello alone (in-memory store), binary mode',
        'examples/dev.sluice.hello.requested.v1.json → 200',
        '  reply dev.sluice.hello.greeted.v1: {"greeting":"Hello, Ada!","timesGreeted":1}',
        '',
      ].join('\n'),
    );
    expect(ok).toBe(true);
  });

  it('goes through make dev when it runs: posted to the broker, delivered from zero, the reply shown', async () => {
    const dead = await startRecorder();
    stops.push(() => dead.close());
    const dir = await mkdtemp(join(tmpdir(), 'sluice-try-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const manifests = parseEventingManifests([
      { file: 'broker.yaml', text: brokerYaml({ queueType: 'classic' }) },
      {
        file: 'triggers/hello.yaml',
        text: `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: hello, namespace: sluice }
spec:
  broker: default
  filter: { attributes: { type: dev.sluice.hello.requested.v1 } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: hello } }
  delivery: { retry: 2, timeout: PT30S, deadLetterSink: { uri: "${dead.url}" } }
`,
      },
    ]);
    const platform: DevPlatform = await startDevPlatform({
      root: ROOT,
      log: new RecordingLogger(),
      out: { write: () => true },
      env: {
        BROKER_PORT: '0',
        SLUICE_SCALE_TO_ZERO_AFTER: '60s',
        SLUICE_PROMETHEUS_TARGETS: join(dir, 'targets.json'),
      },
      services: [await loadKnativeService(join(ROOT, 'functions/demo/hello/service.yaml'))],
      startBroker: (ctx) => startBroker({ ...ctx, manifests, instance: `try-${process.pid}` }),
    });
    stops.push(() => platform.stop());
    const out = output();
    const ok = await tryFunction({
      fn: 'hello',
      out,
      timeoutMs: 45_000,
      endpoints: {
        state: ENDPOINTS_STATE.running,
        pid: process.pid,
        startedAt: new Date().toISOString(),
        brokerUrl: platform.broker?.url ?? '',
        trailUrl: platform.trail?.url ?? '',
        trailToken: platform.trail?.token ?? '',
        services: { hello: platform.serving.functions.get('hello')?.router.url ?? '' },
      },
    });
    const lines = out.text().split('\n');
    expect(lines[0]).toBe(`make try FN=hello: through make dev, broker ${platform.broker?.url}`);
    expect(lines[1]).toMatch(
      /^examples\/dev\.sluice\.hello\.requested\.v1\.json as id hello-0001-try-\w+ → broker 202$/,
    );
    expect(lines.slice(2)).toEqual([
      '  trigger hello: delivered, 200 after 1 attempt',
      '  reply dev.sluice.hello.greeted.v1 (published): {"greeting":"Hello, Ada!","timesGreeted":1}',
      '',
    ]);
    expect(ok).toBe(true);
    expect(dead.received).toHaveLength(0);
  });

  it('refuses a name that is not a function', async () => {
    await expect(tryFunction({ fn: 'no-such-function', endpoints: undefined })).rejects.toThrow(
      'no function named no-such-function',
    );
  });
});
