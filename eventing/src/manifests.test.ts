import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planBroker } from './broker.ts';
import { loadEventingManifests, ManifestError, parseEventingManifests } from './manifests.ts';

const MANIFESTS = resolve(import.meta.dirname, '../manifests');

const BROKER = `
apiVersion: eventing.knative.dev/v1alpha1
kind: RabbitmqBrokerConfig
metadata: { name: cfg, namespace: sluice }
spec: { rabbitmqClusterReference: { name: rabbitmq }, queueType: classic }
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: sluice
  annotations: { eventing.knative.dev/broker.class: RabbitMQBroker }
spec:
  config: { apiVersion: eventing.knative.dev/v1alpha1, kind: RabbitmqBrokerConfig, name: cfg }
  delivery:
    retry: 7
    backoffPolicy: linear
    backoffDelay: PT1S
    deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: broker-dls } }
`;

const trigger = (name: string, extra = ''): string => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: ${name}, namespace: sluice }
spec:
  broker: default
  filter: { attributes: { type: dev.x } }
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: fn } }
${extra}`;

function problemsOf(texts: { file: string; text: string }[]): readonly string[] {
  try {
    parseEventingManifests(texts);
  } catch (err) {
    if (err instanceof ManifestError) return err.problems;
    throw err;
  }
  return [];
}

describe('manifests', () => {
  it('loads the repository manifests: broker, every trigger file and every source', async () => {
    const m = await loadEventingManifests(MANIFESTS);
    expect(m.broker).toMatchObject({ name: 'default', namespace: 'sluice', queueType: 'quorum' });
    expect(m.broker.delivery?.deadLetterSink?.ref?.name).toBe('dead-letter-sink');
    const files = (await readdir(MANIFESTS, { recursive: true })).filter((f) => f.includes('triggers/'));
    expect(new Set(m.triggers.map((t) => t.file))).toEqual(new Set(files));
    expect(m.triggers.find((t) => t.name === 'hello')?.filter).toEqual({
      type: 'dev.sluice.hello.requested.v1',
    });
    expect([...m.sources, ...m.pingSources].map((s) => s.file).sort()).toEqual(
      (await readdir(MANIFESTS, { recursive: true })).filter((f) => f.includes('sources/')).sort(),
    );
    for (const t of m.triggers) {
      expect(t.delivery?.timeoutMs, t.name).toBeGreaterThan(0);
      expect(t.delivery?.deadLetterSink, t.name).toBeDefined();
    }
  });

  it('parses delivery durations to milliseconds and keeps the broker config', () => {
    const m = parseEventingManifests([
      { file: 'broker.yaml', text: BROKER },
      {
        file: 'triggers/t.yaml',
        text: trigger(
          't',
          '  delivery: { retry: 3, backoffDelay: PT0.05S, timeout: PT2S, retryAfterMax: PT10S }',
        ),
      },
    ]);
    expect(m.broker).toMatchObject({ queueType: 'classic', clusterName: 'rabbitmq' });
    expect(m.broker.delivery).toMatchObject({ retry: 7, backoffPolicy: 'linear', backoffDelayMs: 1000 });
    expect(m.triggers[0]?.delivery).toMatchObject({
      retry: 3,
      backoffDelayMs: 50,
      timeoutMs: 2000,
      retryAfterMaxMs: 10_000,
    });
    expect(m.triggers[0]?.parallelism).toBe(1);
  });

  it('refuses spec.filters, which the RabbitMQ broker ignores', () => {
    const problems = problemsOf([
      { file: 'broker.yaml', text: BROKER },
      { file: 'triggers/t.yaml', text: trigger('t', '  filters: [{ exact: { type: dev.x } }]') },
    ]);
    expect(problems.join('\n')).toMatch(/triggers\/t\.yaml: Trigger t: spec\.filters is ignored/);
  });

  it('names the file and field of every problem', () => {
    const problems = problemsOf([
      { file: 'broker.yaml', text: BROKER.replace('RabbitMQBroker', 'MTChannelBasedBroker') },
      {
        file: 'triggers/bad.yaml',
        text: trigger('bad', '  delivery: { backoffDelay: 200ms, backoffPolicy: random }').replace(
          'metadata: { name: bad, namespace: sluice }',
          'metadata: { name: bad, namespace: sluice, annotations: { rabbitmq.eventing.knative.dev/parallelism: "0" } }',
        ),
      },
    ]);
    const text = problems.join('\n');
    expect(text).toMatch(
      /broker\.yaml: Broker default: annotation eventing\.knative\.dev\/broker\.class must be RabbitMQBroker/,
    );
    expect(text).toMatch(
      /triggers\/bad\.yaml: Trigger bad: spec\.delivery\.backoffDelay "200ms" is not an ISO 8601/,
    );
    expect(text).toMatch(/backoffPolicy must be exponential or linear/);
    expect(text).toMatch(/parallelism must be an integer 1\.\.1000/);
  });

  it('refuses a trigger of another broker and a missing broker', () => {
    expect(problemsOf([{ file: 'triggers/t.yaml', text: trigger('t') }]).join('\n')).toMatch(/no Broker/);
    expect(
      problemsOf([
        { file: 'broker.yaml', text: BROKER },
        { file: 'triggers/t.yaml', text: trigger('t').replace('broker: default', 'broker: other') },
      ]).join('\n'),
    ).toMatch(/names broker sluice\/other/);
  });
});

describe('manifests: kinds the local broker reads but does not run', () => {
  it('reads a PingSource (validated, defaulted), which the local broker fires on its schedule', () => {
    const m = parseEventingManifests([
      { file: 'broker.yaml', text: BROKER },
      {
        file: 'sources/tick.yaml',
        text: 'apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: { name: tick, namespace: sluice }\nspec:\n  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } }\n',
      },
    ]);
    expect(m.pingSources[0]).toMatchObject({ schedule: '* * * * *', timezone: 'UTC' });
    expect(m.warnings).toEqual([]);
  });

  it('gives a Broker without delivery the stock cluster default, which Triggers without their own use', () => {
    const m = parseEventingManifests([
      { file: 'broker.yaml', text: BROKER.replace(/ {2}delivery:[\s\S]*$/, '') },
      { file: 'triggers/t.yaml', text: trigger('t') },
    ]);
    expect(m.broker.delivery).toEqual({ retry: 10, backoffPolicy: 'exponential', backoffDelayMs: 200 });
    const route = planBroker(m, (ref) => `http://${ref.name}.local/`, 'i1').routes[0];
    expect(route?.delivery).toMatchObject({ retry: 10, backoffPolicy: 'exponential', backoffDelayMs: 200 });
    expect(route?.deadLetter).toBeUndefined();
  });
});

describe('planBroker', () => {
  const resolveRef = (ref: { name: string }) => `http://${ref.name}.local/`;

  it("uses the trigger's delivery entirely when it has one, the broker's otherwise", () => {
    const m = parseEventingManifests([
      { file: 'broker.yaml', text: BROKER },
      { file: 'triggers/own.yaml', text: trigger('own', '  delivery: { retry: 1 }') },
      { file: 'triggers/inherits.yaml', text: trigger('inherits') },
    ]);
    const plan = planBroker(m, resolveRef, 'i1');
    const own = plan.routes.find((r) => r.trigger.name === 'own');
    const inherits = plan.routes.find((r) => r.trigger.name === 'inherits');
    // Own delivery without a deadLetterSink: the broker's sink does not apply (dropped, as upstream).
    expect(own?.delivery).toMatchObject({ retry: 1, backoffPolicy: 'exponential', backoffDelayMs: 50 });
    expect(own?.deadLetter).toBeUndefined();
    expect(inherits?.delivery).toMatchObject({ retry: 7, backoffPolicy: 'linear', backoffDelayMs: 1000 });
    expect(inherits?.deadLetter).toEqual({
      exchange: 'b.sluice.default.dlx.i1',
      sinkUrl: 'http://broker-dls.local/',
    });
    const q = plan.topology.queues.find((x) => x.name === 'sluice.inherits.i1');
    expect(q?.bindings).toEqual([
      { exchange: 'b.sluice.default.i1', args: { type: 'dev.x', 'x-knative-trigger': 'inherits' } },
    ]);
    expect(plan.topology.queueType).toBe('classic');
  });
});
