import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseEventingManifests, type RunningBroker, startBroker } from '../../../eventing/src/index.ts';
import { brokerYaml } from '../../../eventing/src/testing/manifests.ts';
import { JsonLogger } from '../../../functions/runtime/src/index.ts';
import { loadKnativeService } from './knative-service.ts';
import { type DevPlatform, startDevPlatform } from './platform.ts';
import { SCALE_ACTION } from './scaler.ts';
import { postEvent, until as untilWithin } from './testing/http-events.ts';
import { type Recorder, startRecorder } from './testing/recorder.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const HELLO_REQUESTED = 'dev.sluice.hello.requested.v1';
const HELLO_GREETED = 'dev.sluice.hello.greeted.v1';
const TALLY_REQUESTED = 'dev.sluice.test.tally.requested.v1';

const BROKER = brokerYaml({ queueType: 'classic' });

function trigger(
  name: string,
  type: string,
  subscriber: string,
  deadLetterUri: string,
  parallelism = 10,
): string {
  return `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: ${name}
  namespace: sluice
  annotations: {rabbitmq.eventing.knative.dev/parallelism: "${parallelism}"}
spec:
  broker: default
  filter: {attributes: {type: ${type}}}
  subscriber: ${subscriber}
  delivery:
    retry: 10
    backoffPolicy: exponential
    backoffDelay: PT0.2S
    timeout: PT30S
    deadLetterSink: {uri: "${deadLetterUri}"}
`;
}

const until: typeof untilWithin = (what, check, ms = 45_000) => untilWithin(what, check, ms);

const run = `${process.pid}-${Date.now().toString(36)}`;

describe('local platform (broker + serving)', () => {
  let platform: DevPlatform | undefined;
  let broker: RunningBroker | undefined;
  const recorders: Recorder[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await platform?.stop();
    await broker?.destroy();
    await Promise.all(recorders.splice(0).map((r) => r.close()));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    platform = undefined;
    broker = undefined;
  });

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-dev-'));
    dirs.push(dir);
    return dir;
  }

  async function recorder(): Promise<Recorder> {
    const r = await startRecorder();
    recorders.push(r);
    return r;
  }

  describe.each([
    { backend: 'memory', rabbit: false },
    { backend: 'rabbitmq', rabbit: true },
  ])('with the $backend broker', ({ backend, rabbit }) => {
    it('routes a curl-like event to hello started from zero, and its reply on to the next trigger', async () => {
      const next = await recorder();
      const dead = await recorder();
      const log = new RecordingLogger();
      const manifests = parseEventingManifests([
        { file: 'broker.yaml', text: BROKER },
        {
          file: 'triggers.yaml',
          text: [
            trigger(
              'hello',
              HELLO_REQUESTED,
              '{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: hello}}',
              dead.url,
            ),
            trigger('greeted', HELLO_GREETED, `{uri: "${next.url}"}`, dead.url),
          ].join('---\n'),
        },
      ]);
      const targets = join(await tempDir(), 'targets.json');
      platform = await startDevPlatform({
        root: ROOT,
        log,
        out: { write: () => true },
        env: {
          BROKER_PORT: '0',
          SLUICE_SCALE_TO_ZERO_AFTER: '60s',
          SLUICE_PROMETHEUS_TARGETS: targets,
          ...(rabbit
            ? {
                RABBITMQ_URL: inject('rabbitmqUrl'),
                SLUICE_SOURCES: '', // only this test's sources: a platform beside it on the same RabbitMQ must not take its messages
                MONGODB_URL: inject('mongodbUrl'),
                MONGODB_DB: `e2e_${run}`.replaceAll('-', '_'),
              }
            : {}),
        },
        services: [await loadKnativeService(join(ROOT, 'functions/demo/hello/service.yaml'))],
        startBroker: async (ctx) => {
          broker = await startBroker({ ...ctx, manifests, instance: `e2e-${backend}-${run}` });
          return broker;
        },
      });
      expect(broker?.backend).toBe(backend);
      expect(platform.serving.functions.get('hello')?.scaler.snapshot().instances).toHaveLength(0);

      const example = await readFile(
        join(ROOT, 'functions/demo/hello/examples/dev.sluice.hello.requested.v1.json'),
      );
      const accepted = await fetch(broker?.url as string, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: example,
      });
      expect(accepted.status).toBe(202);

      const reply = await until('the reply at the next trigger', () => next.received[0]);
      expect(reply.headers['ce-type']).toBe(HELLO_GREETED);
      expect(reply.headers['ce-source']).toBe('/sluice/functions/hello');
      expect(reply.headers['ce-causationid']).toBe('hello-0001');
      expect(JSON.parse(reply.body)).toMatchObject({ greeting: 'Hello, Ada!' });
      expect(dead.received).toHaveLength(0);
      const up = log.actions(SCALE_ACTION.up);
      expect(up.map((r) => r.fields['event.reason'])).toEqual(['request held (scale from zero)']);
      const sd = JSON.parse(await readFile(targets, 'utf8')) as {
        labels: { faas_name?: string; job: string };
      }[];
      // The function's instance, and the broker's own /metrics (its KEDA-scaled dispatchers).
      expect(sd.map((g) => g.labels.faas_name ?? g.labels.job)).toEqual(['hello', 'sluice-broker']);
    });
  });

  it('loses and duplicates no event when a function process is killed mid-stream (RabbitMQ + MongoDB)', async () => {
    const N = 40;
    const db = `tally_${run}`.replaceAll('-', '_');
    const dead = await recorder();
    const log = new RecordingLogger();
    const base = await loadKnativeService(join(ROOT, 'platform/local/test/fixtures/tally/service.yaml'));
    // A killed handler's claim must expire quickly for its redelivery to run (lock > handler timeout).
    const tally = {
      ...base,
      env: { ...base.env, HANDLER_TIMEOUT_SECONDS: '2', IDEMPOTENCY_LOCK_SECONDS: '3' },
    };
    const manifests = parseEventingManifests([
      { file: 'broker.yaml', text: BROKER },
      {
        file: 'triggers.yaml',
        text: trigger(
          'tally',
          TALLY_REQUESTED,
          '{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: tally}}',
          dead.url,
        ),
      },
    ]);
    platform = await startDevPlatform({
      root: ROOT,
      log,
      out: { write: () => true },
      env: {
        BROKER_PORT: '0',
        SLUICE_SCALE_TO_ZERO_AFTER: '60s',
        SLUICE_PROMETHEUS_TARGETS: join(await tempDir(), 'targets.json'),
        RABBITMQ_URL: inject('rabbitmqUrl'),
        SLUICE_SOURCES: '', // only this test's sources: a platform beside it on the same RabbitMQ must not take its messages
        MONGODB_URL: inject('mongodbUrl'),
        MONGODB_DB: db,
      },
      services: [tally],
      startBroker: async (ctx) => {
        broker = await startBroker({
          ...ctx,
          manifests,
          instance: `kill-${run}`,
          log: new JsonLogger({ serviceName: 'broker', sink: { write: () => true } }),
        });
        return broker;
      },
    });
    const mongo = await MongoClient.connect(inject('mongodbUrl'));
    try {
      const docs = mongo.db(db).collection<{ _id: string; attempts: number }>('tally');
      const ids = Array.from({ length: N }, (_, i) => `kill-${run}-${i}`);
      for (const [i, id] of ids.entries()) {
        const res = await postEvent(
          broker?.url as string,
          TALLY_REQUESTED,
          { key: `k${i}`, delayMs: 150 },
          id,
        );
        expect(res.status).toBe(202);
      }
      const scaler = platform.serving.functions.get('tally')?.scaler;
      // Kill the instance twice while it has events in flight.
      for (let kill = 0; kill < 2; kill++) {
        const busy = await until('an instance with events in flight', () =>
          scaler?.snapshot().instances.find((i) => i.state === 'ready' && i.inFlight > 0),
        );
        const pid = log.actions(SCALE_ACTION.up).find((r) => r.fields['sluice.instance.id'] === busy.id)
          ?.fields['process.pid'] as number;
        process.kill(pid, 'SIGKILL');
        await until('the crash to be noticed', () => log.actions(SCALE_ACTION.crashed).length > kill);
      }

      await until('every event processed', async () => (await docs.countDocuments()) === N, 60_000);
      const stored = await docs.find().toArray();
      expect(stored.map((d) => d._id).sort()).toEqual([...ids].sort());
      expect(dead.received).toHaveLength(0);
      expect(log.actions(SCALE_ACTION.crashed)).toHaveLength(2);
      // Each kill replaced the instance; only events in flight at a kill (≤ parallelism 10 each) may have
      // run their handler twice (idempotent step); a completed event is never run again.
      expect(log.actions(SCALE_ACTION.up).length).toBeGreaterThanOrEqual(3);
      expect(stored.filter((d) => d.attempts > 1).length).toBeLessThanOrEqual(2 * 10);
    } finally {
      await mongo.db(db).dropDatabase();
      await mongo.close();
    }
  });
});
