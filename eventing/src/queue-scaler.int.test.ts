/**
 * KEDA locally, on real RabbitMQ: a ScaledObject on a Trigger's dispatcher (polling 1 s, 10 messages per replica,
 * 1..5 replicas, scale-down stabilization 3 s — short for the test; the repository's manifest says 5 s / 60 s).
 * Flooding the queue behind a slow subscriber scales the dispatcher up; once the queue is drained it scales back
 * down to 1, but only after the stabilization window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonLogger } from '../../functions/runtime/src/index.ts';
import { type DispatcherScaleRecord, type RunningBroker, startBroker } from './index.ts';
import { parseEventingManifests } from './manifests.ts';
import { brokerYaml } from './testing/manifests.ts';
import { startTestSink, type TestSink, testEvent, waitFor } from './testing/test-sink.ts';

const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const manifests = () =>
  parseEventingManifests([
    { file: 'broker.yaml', text: brokerYaml({ deadLetterSink: 'dead-letter-sink' }) },
    {
      file: 'triggers/slow.yaml',
      text: `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: slow, namespace: sluice, annotations: { rabbitmq.eventing.knative.dev/parallelism: "2" } }
spec:
  broker: default
  filter: { attributes: { type: dev.sluice.test.slow.v1 } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: slow } }
  delivery:
    retry: 2
    backoffDelay: PT0.1S
    timeout: PT10S
    deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: dead-letter-sink } }
`,
    },
    {
      file: 'scaling/slow.yaml',
      text: `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: slow-dispatcher, namespace: sluice }
spec:
  scaleTargetRef: { name: slow-dispatcher }
  pollingInterval: 1
  cooldownPeriod: 60
  minReplicaCount: 1
  maxReplicaCount: 5
  advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 3 } } } }
  triggers:
    - type: rabbitmq
      metadata: { protocol: http, mode: QueueLength, value: "10", queueName: slow }
`,
    },
  ]);

describe('dispatcher scaled on queue depth (ScaledObject, RabbitMQ)', () => {
  let sink: TestSink;
  let dead: TestSink;
  let broker: RunningBroker;
  const lines: Record<string, unknown>[] = [];
  const decisions: DispatcherScaleRecord[] = [];
  let hold = true;

  beforeAll(async () => {
    // The subscriber is slow while `hold`: the queue fills faster than 1 replica × parallelism 2 drains it.
    sink = await startTestSink(() => ({ status: 204, delayMs: hold ? 150 : 1 }));
    dead = await startTestSink();
    broker = await startBroker({
      manifests: manifests(),
      resolveSubscriber: (ref) => (ref.name === 'slow' ? sink.url : dead.url),
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: RABBITMQ_URL,
      instance: `scale${process.pid}x${Date.now().toString(36)}`,
      onDispatcherScale: (r) => decisions.push(r),
      log: new JsonLogger({
        serviceName: 'test-broker',
        sink: {
          write: (chunk: string) => {
            lines.push(
              ...chunk
                .split('\n')
                .filter(Boolean)
                .map((l) => JSON.parse(l)),
            );
            return true;
          },
        },
      }),
    });
  });
  afterAll(async () => {
    await broker?.destroy();
    await sink?.close();
    await dead?.close();
  });

  it('scales up while the queue is deep, and back to 1 only after the stabilization window', async () => {
    const [scaler] = broker.scalers;
    expect(scaler?.replicas).toBe(1);
    const total = 300;
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        broker.publish(testEvent({ id: `flood-${i}`, type: 'dev.sluice.test.slow.v1' })),
      ),
    );
    await waitFor('the dispatcher to scale up', () => (scaler?.replicas ?? 0) >= 3, 20_000);
    const ups = () =>
      lines.filter(
        (l) =>
          l['event.action'] === 'dispatcher-scaled' &&
          (l['sluice.replicas'] as number) > (l['sluice.replicas_from'] as number),
      );
    // The logger writes once per event-loop turn.
    await waitFor('the scale-up log line', () => ups().length > 0);
    const up = ups();
    expect(up[0]).toMatchObject({ 'sluice.trigger': 'slow', 'sluice.scaled_object': 'slow-dispatcher' });
    hold = false;
    await waitFor(
      'every event delivered',
      () => new Set(sink.received.map((r) => r.event.id)).size === total,
      30_000,
    );
    const drainedAt = performance.now();
    await waitFor('the dispatcher to scale back to 1', () => scaler?.replicas === 1, 20_000);
    // Not before the 3 s stabilization window after the queue emptied (less one poll of slack).
    expect(performance.now() - drainedAt).toBeGreaterThan(2_000);
    const metrics = await (await fetch(new URL('/metrics', broker.url))).text();
    expect(metrics).toContain('sluice_dispatcher_replicas{trigger="slow"} 1');
    expect(metrics).toMatch(/sluice_dispatcher_scale_events_total\{trigger="slow",direction="up"\} [1-9]/);
    expect(metrics).toMatch(/sluice_dispatcher_scale_events_total\{trigger="slow",direction="down"\} [1-9]/);
    expect(dead.received).toHaveLength(0);
    // The same decisions as records, for make dev's console.
    expect(decisions[0]).toMatchObject({ kind: 'dispatcher-scale', trigger: 'slow', from: 1 });
    expect(decisions.at(-1)).toMatchObject({ trigger: 'slow', to: 1 });
    expect(decisions).toHaveLength(scaler?.changes.length ?? -1);
  });
});
