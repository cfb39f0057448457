import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifestDir } from './read-manifests.ts';
import { readText } from './testing/read.ts';

const EVENTING = resolve(import.meta.dirname, '../../eventing/manifests');

const config = (spec = 'rabbitmqClusterReference: { name: rabbitmq }') => `
apiVersion: eventing.knative.dev/v1alpha1
kind: RabbitmqBrokerConfig
metadata: { name: cfg, namespace: sluice }
spec: { ${spec} }
`;

const broker = (spec: string, annotations = '{ eventing.knative.dev/broker.class: RabbitMQBroker }') => `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: sluice, annotations: ${annotations} }
spec:
${spec}
`;
const CONFIG_REF =
  '  config: { apiVersion: eventing.knative.dev/v1alpha1, kind: RabbitmqBrokerConfig, name: cfg }';

const trigger = (spec: string, annotations = '{}') => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t, namespace: sluice, annotations: ${annotations} }
spec:
  broker: default
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: fn } }
${spec}
`;

describe('eventing kinds', () => {
  it('reads every manifest of eventing/manifests without a problem or a warning', async () => {
    const set = await loadManifestDir(EVENTING);
    expect(set.brokers.map((b) => b.name)).toEqual(['default']);
    expect(set.brokerConfigs[0]).toMatchObject({
      queueType: 'quorum',
      rabbitmqClusterReference: { name: 'rabbitmq' },
    });
    expect(set.triggers.length).toBeGreaterThan(0);
    expect(set.rabbitmqSources.map((s) => s.name).sort()).toEqual([
      'positions',
      'readings',
      'transaction-injector',
    ]);
    expect(set.pingSources.map((s) => s.name)).toEqual(['window-closer']);
    expect(set.scaledObjects[0]).toMatchObject({
      name: 'window-aggregator-readings-dispatcher',
      scaleTargetRef: { kind: 'Deployment', name: 'window-aggregator-readings-dispatcher' },
      pollingIntervalSeconds: 5,
      minReplicaCount: 1,
      maxReplicaCount: 10,
      scaleDownStabilizationSeconds: 60,
    });
    expect(set.warnings).toEqual([]);
  });

  describe('Broker', () => {
    it('defaults a missing delivery as a stock cluster does (config-br-defaults) and warns', () => {
      const { set, problems, warnings } = readText(broker(CONFIG_REF), 'broker.yaml');
      expect(problems).toEqual([]);
      expect(set.brokers[0]).toMatchObject({
        delivery: { retry: 10, backoffPolicy: 'exponential', backoffDelayMs: 200 },
        deliveryDefaulted: true,
        config: { kind: 'RabbitmqBrokerConfig', name: 'cfg', namespace: 'sluice' },
      });
      expect(warnings.join('\n')).toMatch(/^broker\.yaml: Broker default: spec\.delivery is not set/);
    });

    it.each([
      ['', 'spec.config is required by the RabbitMQ broker webhook'],
      [
        '  config: { apiVersion: v1, kind: ConfigMap, name: x }',
        'spec.config must be a RabbitmqBrokerConfig',
      ],
      [`${CONFIG_REF}\n  delivery: { retry: -1 }`, 'spec.delivery.retry must be an integer 0..'],
      [
        `${CONFIG_REF}\n  delivery: { backoffPolicy: random }`,
        'spec.delivery.backoffPolicy must be exponential or linear',
      ],
      [`${CONFIG_REF}\n  delivery: { timeout: PT0S }`, 'spec.delivery.timeout must be greater than zero'],
      [`${CONFIG_REF}\n  delivery: { format: xml }`, 'spec.delivery.format must be json or binary'],
      [
        `${CONFIG_REF}\n  delivery: { deadLetterSink: {} }`,
        'spec.delivery.deadLetterSink needs a ref or a uri',
      ],
    ])('refuses %j', (spec, message) => {
      const { problems } = readText(broker(spec), 'broker.yaml');
      expect(problems.join('\n')).toContain(`broker.yaml: Broker default: ${message}`);
    });

    it('refuses another broker class', () => {
      const { problems } = readText(
        broker(CONFIG_REF, '{ eventing.knative.dev/broker.class: MTChannelBasedBroker }'),
      );
      expect(problems.join('\n')).toContain(
        'annotation eventing.knative.dev/broker.class must be RabbitMQBroker',
      );
    });
  });

  describe('RabbitmqBrokerConfig', () => {
    it('defaults queueType to quorum (the CRD default) and the cluster namespace to its own', () => {
      expect(readText(config()).set.brokerConfigs[0]).toMatchObject({
        queueType: 'quorum',
        rabbitmqClusterReference: { name: 'rabbitmq', namespace: 'sluice' },
      });
    });

    it.each([
      [
        'rabbitmqClusterReference: { name: r }, queueType: stream',
        'spec.queueType must be quorum or classic',
      ],
      ['queueType: classic', 'spec.rabbitmqClusterReference is required'],
      ['rabbitmqClusterReference: { namespace: x }', 'spec.rabbitmqClusterReference.name is required'],
      [
        'rabbitmqClusterReference: { name: r, connectionSecret: { name: s } }',
        'spec.rabbitmqClusterReference.connectionSecret must not be set with a name',
      ],
    ])('refuses %j', (spec, message) => {
      expect(readText(config(spec), 'broker.yaml').problems.join('\n')).toContain(
        `broker.yaml: RabbitmqBrokerConfig cfg: ${message}`,
      );
    });
  });

  describe('Trigger', () => {
    it('defaults: every event, parallelism 1, refs in the Trigger namespace, no own delivery', () => {
      const { set, problems } = readText(trigger(''));
      expect(problems).toEqual([]);
      expect(set.triggers[0]).toMatchObject({
        filter: {},
        parallelism: 1,
        delivery: undefined,
        subscriber: { ref: { name: 'fn', namespace: 'sluice' } },
      });
    });

    it.each([
      ['  filters: [{ exact: { type: x } }]', '{}', 'spec.filters is ignored by the RabbitMQ broker'],
      ['  filter: { attributes: { type: 3 } }', '{}', 'spec.filter.attributes.type must be a string'],
      ['  filter: { attributes: { x-id: a } }', '{}', 'spec.filter.attributes.x-id is never matched'],
      [
        '',
        '{ rabbitmq.eventing.knative.dev/parallelism: "0" }',
        'annotation rabbitmq.eventing.knative.dev/parallelism must be an integer 1..1000',
      ],
      [
        '',
        '{ rabbitmq.eventing.knative.dev/parallelism: "1e2" }',
        'annotation rabbitmq.eventing.knative.dev/parallelism must be an integer 1..1000',
      ],
      [
        '  delivery: { backoffDelay: 200ms }',
        '{}',
        'spec.delivery.backoffDelay "200ms" is not an ISO 8601 duration',
      ],
    ])('refuses %j %j', (spec, annotations, message) => {
      expect(readText(trigger(spec, annotations), 'triggers/t.yaml').problems.join('\n')).toContain(
        `triggers/t.yaml: Trigger t: ${message}`,
      );
    });

    it('warns about a delivery without a dead-letter sink, a content-type filter and sub-tenth precision', () => {
      const { warnings } = readText(
        trigger(
          '  filter: { attributes: { datacontenttype: application/json } }\n  delivery: { backoffDelay: PT0.05S }',
        ),
      );
      expect(warnings.join('\n')).toContain('has no deadLetterSink');
      expect(warnings.join('\n')).toContain('never matches on the RabbitMQ broker');
      expect(warnings.join('\n')).toContain('"PT0.05S" is 50 ms here, but Knative keeps one decimal place');
    });
  });

  describe('RabbitmqSource', () => {
    const source = (rc: string, extra = '') => `
apiVersion: sources.knative.dev/v1alpha1
kind: RabbitmqSource
metadata: { name: s, namespace: sluice }
spec:
  rabbitmqClusterReference: { name: rabbitmq }
  rabbitmqResourcesConfig: ${rc}
  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } }
${extra}`;

    it('defaults parallelism to 1 and predeclared to false', () => {
      expect(readText(source('{ queueName: q, exchangeName: e }')).set.rabbitmqSources[0]).toMatchObject({
        parallelism: 1,
        predeclared: false,
        sink: { ref: { kind: 'Broker', namespace: 'sluice' } },
      });
    });

    it.each([
      ['{ exchangeName: e }', '', 'spec.rabbitmqResourcesConfig.queueName is required'],
      [
        '{ queueName: q }',
        '',
        'spec.rabbitmqResourcesConfig.exchangeName is required when predeclared is false',
      ],
      [
        '{ queueName: q, exchangeName: e, parallelism: 1001 }',
        '',
        'spec.rabbitmqResourcesConfig.parallelism must be an integer 1..1000',
      ],
      [
        '{ queueName: q, exchangeName: e, parallelism: "20" }',
        '',
        'spec.rabbitmqResourcesConfig.parallelism must be an integer 1..1000',
      ],
      [
        '{ queueName: q, predeclared: true }',
        '  delivery: { backoffDelay: soon }',
        'spec.delivery.backoffDelay',
      ],
    ])('refuses %s %s', (rc, extra, message) => {
      expect(readText(source(rc, extra), 'sources/s.yaml').problems.join('\n')).toContain(
        `sources/s.yaml: RabbitmqSource s: ${message}`,
      );
    });
  });

  describe('PingSource', () => {
    const ping = (spec: string) => `
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: { name: tick, namespace: sluice }
spec:
  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } }
${spec}`;

    it('defaults the schedule (every minute), the time zone (UTC) and no data, and names its events', () => {
      const { set, problems } = readText(ping(''));
      expect(problems).toEqual([]);
      expect(set.pingSources[0]).toMatchObject({
        schedule: '* * * * *',
        timezone: 'UTC',
        data: undefined,
        eventType: 'dev.knative.sources.ping',
        eventSource: '/apis/v1/namespaces/sluice/pingsources/tick',
      });
    });

    it('reads data as bytes, from text or base64, and cron lines robfig/cron accepts', () => {
      const text = readText(
        ping('  schedule: "*/10 * * * * *"\n  contentType: application/json\n  data: \'{"a":1}\''),
      );
      expect(text.problems).toEqual([]);
      expect(new TextDecoder().decode(text.set.pingSources[0]?.data)).toBe('{"a":1}');
      const b64 = readText(ping('  schedule: "@hourly"\n  timezone: Europe/Paris\n  dataBase64: aGk='));
      expect(b64.problems).toEqual([]);
      expect(new TextDecoder().decode(b64.set.pingSources[0]?.data)).toBe('hi');
      expect(readText(ping('  schedule: "0 9 * JAN-MAR mon-fri"')).problems).toEqual([]);
    });

    it.each([
      ['  schedule: "@every 1m"', 'spec.schedule "@every 1m" uses the unsupported descriptor @every'],
      ['  schedule: "* * *"', 'spec.schedule "* * *" has 3 fields, expected 5 (or 6 with seconds first)'],
      ['  schedule: "61 * * * *"', 'spec.schedule "61 * * * *" "61" is beyond 0..59 for the minute'],
      ['  timezone: Mars/Olympus', 'spec.timezone "Mars/Olympus" is not an IANA time zone'],
      ['  data: a\n  dataBase64: aGk=', 'spec.data and spec.dataBase64 are mutually exclusive'],
      ['  dataBase64: "not base64!"', 'spec.dataBase64 is not valid base64'],
      ['  contentType: application/json\n  data: "[1]"', 'spec.data must be a JSON object'],
    ])('refuses %j', (spec, message) => {
      expect(readText(ping(spec), 'sources/tick.yaml').problems.join('\n')).toContain(
        `sources/tick.yaml: PingSource tick: ${message}`,
      );
    });
  });

  describe('ScaledObject', () => {
    const scaled = (spec: string) => `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: reader, namespace: sluice }
spec:
  scaleTargetRef: { name: reader }
${spec}`;
    const TRIGGER =
      '  triggers: [{ type: rabbitmq, metadata: { queueName: q, mode: QueueLength, value: "20" } }]';

    it("applies KEDA's defaults", () => {
      const { set, problems } = readText(scaled(TRIGGER));
      expect(problems).toEqual([]);
      expect(set.scaledObjects[0]).toMatchObject({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'reader' },
        pollingIntervalSeconds: 30,
        cooldownPeriodSeconds: 300,
        minReplicaCount: 0,
        maxReplicaCount: 100,
        triggers: [{ type: 'rabbitmq', metadata: { queueName: 'q', mode: 'QueueLength', value: '20' } }],
      });
    });

    it.each([
      ['', 'spec.triggers needs at least one trigger'],
      [
        `${TRIGGER}\n  minReplicaCount: 5\n  maxReplicaCount: 2`,
        'spec.minReplicaCount (5) must be less than maxReplicaCount (2)',
      ],
      [
        `${TRIGGER}\n  minReplicaCount: 1\n  idleReplicaCount: 1`,
        'spec.idleReplicaCount (1) must be less than minReplicaCount (1)',
      ],
      [
        '  triggers: [{ type: cpu, useCachedMetrics: true, metadata: {} }]',
        'spec.triggers[0].useCachedMetrics is not supported',
      ],
      [
        '  triggers: [{ type: a, name: x, metadata: {} }, { type: b, name: x, metadata: {} }]',
        'spec.triggers[1].name "x" is used by two',
      ],
    ])('refuses %j', (spec, message) => {
      expect(readText(scaled(spec), 'scaled.yaml').problems.join('\n')).toContain(
        `scaled.yaml: ScaledObject reader: ${message}`,
      );
    });
  });
});
