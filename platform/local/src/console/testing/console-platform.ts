/**
 * The local platform as the console's tests drive it (the API test and the browser test): hello (an event that
 * produces a reply), a Trigger whose subscriber always answers 500 (an event that retries, then dead-letters into the
 * real dead-letter-sink and its dev store), the console with its recorder. In-process broker, upstream data plane,
 * as a fresh `make dev` runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseEventingManifests, startBroker } from '../../../../../eventing/src/index.ts';
import { brokerYaml } from '../../../../../eventing/src/testing/manifests.ts';
import { loadKnativeService } from '../../knative-service.ts';
import { type DevPlatform, startDevPlatform } from '../../platform.ts';
import { type Recorder, startRecorder } from '../../testing/recorder.ts';
import { RecordingLogger } from '../../testing/recording-logger.ts';

const ROOT = resolve(import.meta.dirname, '../../../../..');
export const FLAKY_TYPE = 'dev.sluice.console.flaky.v1';
export const HELLO_TYPE = 'dev.sluice.hello.requested.v1';

export interface ConsolePlatform {
  readonly platform: DevPlatform;
  /** The subscriber that answers 500 to everything. */
  readonly failing: Recorder;
  readonly console: { readonly url: string; readonly token: string; readonly pageUrl: string };
  /** GET on the console's API with the bearer token. */
  api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** `env`: added to the platform's (MONGODB_URL + MONGODB_DB: the recording survives a restart). */
export async function startConsolePlatform(
  env: Readonly<Record<string, string>> = {},
): Promise<ConsolePlatform> {
  const failing = await startRecorder(500);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-console-'));
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
  filter: { attributes: { type: ${HELLO_TYPE} } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: hello } }
  delivery:
    retry: 2
    timeout: PT30S
    deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter-sink } }
`,
    },
    {
      file: 'triggers/flaky.yaml',
      text: `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: flaky, namespace: sluice }
spec:
  broker: default
  filter: { attributes: { type: ${FLAKY_TYPE} } }
  subscriber: { uri: "${failing.url}" }
  delivery:
    retry: 2
    backoffPolicy: linear
    backoffDelay: PT0.05S
    timeout: PT10S
    deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter-sink } }
`,
    },
  ]);
  let platform: DevPlatform;
  try {
    platform = await startDevPlatform({
      root: ROOT,
      log: new RecordingLogger(),
      out: { write: () => true },
      env: {
        BROKER_PORT: '0',
        GATEWAY_PORT: '0',
        SLUICE_SCALE_TO_ZERO_AFTER: '60s',
        SLUICE_PROMETHEUS_TARGETS: join(dir, 'targets.json'),
        ...env,
      },
      services: [
        await loadKnativeService(join(ROOT, 'functions/demo/hello/service.yaml')),
        await loadKnativeService(join(ROOT, 'functions/platform/dead-letter-sink/service.yaml')),
      ],
      startBroker: (ctx) => startBroker({ ...ctx, manifests, instance: `console-${process.pid}` }),
    });
  } catch (err) {
    await failing.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const c = platform.console;
  if (c === undefined) throw new Error('the platform started no console');
  return {
    platform,
    failing,
    console: c,
    async api<T>(path: string, init: RequestInit = {}) {
      const res = await fetch(`${c.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${c.token}`, ...(init.headers as Record<string, string>) },
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async stop() {
      await platform.stop();
      await failing.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
