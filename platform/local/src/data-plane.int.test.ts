/**
 * The local platform in upstream mode (its default: eventing-rabbitmq 1.22.1's data plane) with
 * RabbitMQ and MongoDB: what is refused for good still ends up where `make dlq` shows it, once; a reply
 * that cannot be sent dead-letters the original; a three-step flow's log lines join by one id.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  listDeadLetters,
  parseEventingManifests,
  type RunningBroker,
  startBroker,
} from '../../../eventing/src/index.ts';
import { brokerYaml } from '../../../eventing/src/testing/manifests.ts';
import { type DocumentStore, openStore } from '../../../functions/runtime/src/index.ts';
import { type KnativeServiceSpec, loadKnativeService } from './knative-service.ts';
import { type DevPlatform, startDevPlatform } from './platform.ts';
import { postEvent, until } from './testing/http-events.ts';
import { type Recorder, startRecorder } from './testing/recorder.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const STEP = {
  a: 'dev.sluice.test.relay.a.v1',
  b: 'dev.sluice.test.relay.b.v1',
  c: 'dev.sluice.test.relay.c.v1',
} as const;
const run = `${process.pid}x${Date.now().toString(36)}`;

function trigger(name: string, type: string, subscriber: string): string {
  return `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: ${name}, namespace: sluice }
spec:
  broker: default
  filter: { attributes: { type: ${type} } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${subscriber} } }
  delivery:
    retry: 3
    backoffPolicy: linear
    backoffDelay: PT0.05S
    timeout: PT30S
    deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter-sink } }
`;
}

const manifests = parseEventingManifests([
  { file: 'broker.yaml', text: brokerYaml({ queueType: 'classic' }) },
  {
    file: 'triggers.yaml',
    text: [
      trigger('relay-a', STEP.a, 'relay-a'),
      trigger('relay-b', STEP.b, 'relay-b'),
      trigger('relay-c', STEP.c, 'relay-c'),
    ].join('---\n'),
  },
]);

interface Running {
  readonly platform: DevPlatform;
  readonly broker: RunningBroker;
  readonly lines: Record<string, unknown>[];
  readonly log: RecordingLogger;
}

describe('local platform, upstream data plane (RabbitMQ + MongoDB)', () => {
  const db = `dataplane_${run}`;
  const dirs: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  let store: DocumentStore;
  let services: KnativeServiceSpec[];

  beforeAll(async () => {
    const relay = await loadKnativeService(join(ROOT, 'platform/local/test/fixtures/relay/service.yaml'));
    const sink = await loadKnativeService(join(ROOT, 'functions/platform/dead-letter-sink/service.yaml'));
    services = [
      ...['relay-a', 'relay-b', 'relay-c'].map((name) => ({ ...relay, name })),
      { ...sink, env: { ...sink.env, LOG_LEVEL: 'info' } },
    ];
    store = (await openStore({ mongodbUrl: inject('mongodbUrl'), mongodbDb: db })) as DocumentStore;
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await (store as unknown as { db?: { dropDatabase(): Promise<unknown> } }).db?.dropDatabase();
    await store?.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function start(name: string, replyUrl?: string): Promise<Running> {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-dataplane-'));
    dirs.push(dir);
    const lines: Record<string, unknown>[] = [];
    const log = new RecordingLogger();
    let broker: RunningBroker | undefined;
    const platform = await startDevPlatform({
      root: ROOT,
      log,
      out: {
        write: (chunk: string) => {
          for (const line of chunk.split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line));
          return true;
        },
      },
      env: {
        BROKER_PORT: '0',
        SLUICE_SCALE_TO_ZERO_AFTER: '60s',
        SLUICE_PROMETHEUS_TARGETS: join(dir, 'targets.json'),
        RABBITMQ_URL: inject('rabbitmqUrl'),
        MONGODB_URL: inject('mongodbUrl'),
        MONGODB_DB: db,
      },
      // Scale from zero: a relay no event reaches never starts.
      services,
      startBroker: async (ctx) => {
        broker = await startBroker({
          ...ctx,
          manifests,
          replyTypesOf: async () => undefined,
          instance: `${name}-${run}`,
          ...(replyUrl === undefined ? {} : { replyUrl }),
        });
        return broker;
      },
    });
    const b = broker as RunningBroker;
    stops.push(async () => {
      await platform.stop();
      await b.destroy();
    });
    return { platform, broker: b, lines, log };
  }

  it('keeps an invalid event and a PermanentError where make dlq shows them, exactly once each', async () => {
    const { platform, broker, log } = await start('refused');
    expect(broker.dataPlane.name).toBe('upstream');
    expect(platform.broker?.deadLetterSinks?.get('relay-a')).toBe(
      `${platform.serving.urlFor('dead-letter-sink')}/`,
    );
    const invalid = `invalid-${run}`;
    const refused = `refused-${run}`;
    expect((await postEvent(broker.url, STEP.a, { n: 'not a number' }, invalid)).status).toBe(202);
    expect((await postEvent(broker.url, STEP.a, { n: 1, reject: true }, refused)).status).toBe(202);

    const rows = await until('both refusals in the dead letters', async () => {
      const all = await listDeadLetters(store);
      const mine = all.filter((d) => d.eventId === invalid || d.eventId === refused);
      return mine.length === 2 ? mine : undefined;
    });
    // The broker acked both refusals (upstream): only the function kept them.
    await until('both deliveries acked', () =>
      log.records.filter((r) => r.fields['event.action'] === 'refused-kept').length === 2 ? true : undefined,
    );
    const byId = new Map(rows.map((d) => [d.eventId, d]));
    expect(byId.get(invalid)).toMatchObject({ code: 400, dest: '/sluice/functions/relay-a', count: 1 });
    expect(byId.get(refused)).toMatchObject({ code: 422, dest: '/sluice/functions/relay-a', count: 1 });
    expect(byId.get(refused)?.reason).toContain('refused for good');
    expect(byId.get(invalid)?.data).toBe(JSON.stringify({ n: 'not a number' }));
    const again = (await listDeadLetters(store)).filter(
      (d) => d.eventId === invalid || d.eventId === refused,
    );
    expect(again).toHaveLength(2);
    expect(log.records.some((r) => r.fields['event.action'] === 'dead-letter')).toBe(false);
  });

  it('dead-letters the original with the subscriber status when its reply cannot reach the ingress', async () => {
    const ingressDown: Recorder = await startRecorder(503);
    stops.push(() => ingressDown.close());
    const { broker, platform } = await start('reply', ingressDown.url);
    const id = `reply-${run}`;
    expect((await postEvent(broker.url, STEP.a, { n: 1 }, id)).status).toBe(202);
    const row = await until('the dead letter of the original', async () =>
      (await listDeadLetters(store)).find((d) => d.eventId === id),
    );
    expect(row).toMatchObject({ type: STEP.a, code: 200, count: 1 });
    expect(row.dest).toBe(new URL('/', `${platform.serving.urlFor('relay-a')}/`).href);
    expect(ingressDown.received).toHaveLength(4); // the trigger's retry 3: four attempts
    expect(ingressDown.received[0]?.headers['ce-type']).toBe(STEP.b);
  });

  it("joins a three-step flow's log lines by one correlation id, and by trace id when the producer sent one", async () => {
    const { broker, lines, log } = await start('flow');
    const plain = `flow-${run}`;
    const traced = `traced-${run}`;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect((await postEvent(broker.url, STEP.a, { n: 1 }, plain)).status).toBe(202);
    const res = await fetch(broker.url, {
      method: 'POST',
      headers: {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        'ce-specversion': '1.0',
        'ce-id': traced,
        'ce-source': '/tests/local-platform',
        'ce-type': STEP.a,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ n: 1 }),
    });
    expect(res.status).toBe(202);
    const processed = (id: string) =>
      lines.filter((l) => l['sluice.correlation_id'] === id && l.message === 'event processed');
    const delivered = (id: string) =>
      log.records.filter(
        (r) => r.fields['sluice.correlation_id'] === id && r.fields['event.action'] === 'deliver',
      );
    // The broker logs a delivery once the answer is in, which may come after the function's line does.
    const done = (id: string) => processed(id).length >= 3 && delivered(id).length >= 3;
    await until(
      'all three steps of both flows, and their deliveries',
      () => (done(plain) && done(traced) ? true : undefined),
      120_000, // three Services from zero, one after the other: a bound on a hang, not on a loaded machine's speed
    );
    for (const id of [plain, traced]) {
      const steps = processed(id);
      expect(steps.map((l) => (l.service as { name: string }).name).sort()).toEqual([
        'relay-a',
        'relay-b',
        'relay-c',
      ]);
      expect(steps.map((l) => l['cloudevents.event_type']).sort()).toEqual([STEP.a, STEP.b, STEP.c]);
      // The handler's own lines and the broker's delivery lines carry the same id.
      expect(
        lines.filter((l) => l['sluice.correlation_id'] === id && l.message !== 'event processed'),
      ).toHaveLength(3);
      expect(delivered(id)).toHaveLength(3);
    }
    // The dispatcher forwards the HTTP traceparent; each step's reply trace carries on through the ingress.
    expect(new Set(processed(traced).map((l) => l['trace.id']))).toEqual(new Set([traceId]));
  }, 180_000);
});
