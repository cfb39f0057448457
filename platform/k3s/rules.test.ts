import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type KubeObject, parseManifest } from './validate/manifest.ts';
import {
  checkRules,
  deliveryTiming,
  type FunctionInfo,
  longestDeliveryMs,
  RULES,
  type RuleContext,
  retryWindowMs,
  ruleContext,
  worstPrefetchWaitMs,
} from './validate/rules.ts';

const NS = 'sluice-test';
/** The environment's data namespace: RabbitMQ, MongoDB, Redis, Prometheus. */
const DATA = 'sluice-test-data';

const kservice = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name, namespace: NS, labels: { 'networking.knative.dev/visibility': 'cluster-local' } },
  spec: {
    template: {
      metadata: {
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', ...annotations },
      },
      spec: {
        containerConcurrency: 100,
        containers: [
          {
            image: `dev.local/sluice/${name}:0.1.0`,
            ports: [{ containerPort: 8080 }],
            envFrom: [
              { secretRef: { name: 'sluice-function-env' } },
              { configMapRef: { name: 'sluice-eventing-env' } },
            ],
            ...(name === 'dead-letter-sink' ? { env: [{ name: 'SLUICE_DEAD_LETTER_SINK', value: '' }] } : {}),
            readinessProbe: { httpGet: { path: '/health/readiness' } },
            livenessProbe: { httpGet: { path: '/health/liveness' } },
            resources: { requests: { memory: '64Mi' }, limits: { memory: '256Mi' } },
          },
        ],
      },
    },
  },
});

/** The public entry: no visibility label, /metrics on METRICS_PORT, no env Secret, the route ConfigMap mounted. */
const gateway = () => {
  const g = kservice('api-gateway', { 'prometheus.io/port': '9464' });
  g.metadata.labels = {} as typeof g.metadata.labels;
  const c = g.spec.template.spec.containers[0] as Record<string, unknown>;
  delete c.envFrom;
  c.env = [{ name: 'METRICS_PORT', value: '9464' }];
  (g.spec.template.spec as Record<string, unknown>).volumes = [
    { name: 'routes', configMap: { name: 'api-gateway-routes-abc' } },
  ];
  return g;
};

const routeTable = (routes: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'api-gateway-routes-abc', namespace: NS },
  data: { 'demo.yaml': `apiVersion: gateway.sluice.dev/v1alpha1\nkind: RouteTable\nroutes:\n${routes}` },
});

/** The repository's own NetworkPolicies in the test namespaces, the other namespace written into them as the
 * overlays' environment-namespaces component does: the rules judge the real ones. */
const policiesOf = (file: string, namespace: string, written: string, other: string) =>
  parseManifest(
    readFileSync(join(import.meta.dirname, 'kustomize', file), 'utf8').replaceAll(
      `kubernetes.io/metadata.name: ${written} }`,
      `kubernetes.io/metadata.name: ${other} }`,
    ),
  ).map((p) => ({ ...p, metadata: { ...p.metadata, namespace } }));
const networkPolicies = () => [
  ...policiesOf('base/network-policies.yaml', NS, 'sluice-data', DATA),
  ...policiesOf('data/network-policies.yaml', DATA, 'sluice', NS),
];

const dlsRef = { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'dead-letter-sink' } };

const trigger = (name: string, type: string, subscriber: string, delivery: Record<string, unknown> = {}) => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Trigger',
  metadata: { name, namespace: NS },
  spec: {
    broker: 'default',
    filter: { attributes: { type } },
    subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: subscriber } },
    delivery: { deadLetterSink: dlsRef, timeout: 'PT30S', retry: 5, backoffDelay: 'PT1S', ...delivery },
  },
});

/** A complete overlay that passes every rule; each test breaks one thing. */
function validOverlay(): KubeObject[] {
  const role = (name: string, r: string) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'sluice.dev/namespace-role': r } },
  });
  const objects = [
    role(NS, 'app'),
    role(DATA, 'data'),
    ...[NS, DATA].flatMap((namespace) => [
      { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q', namespace }, spec: {} },
      { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'l', namespace }, spec: {} },
    ]),
    {
      apiVersion: 'rabbitmq.com/v1beta1',
      kind: 'RabbitmqCluster',
      metadata: {
        name: 'rabbitmq',
        namespace: DATA,
        annotations: { 'rabbitmq.com/topology-allowed-namespaces': NS },
      },
      spec: { rabbitmq: { additionalConfig: 'default_queue_type = quorum\nconsumer_timeout = 86400000\n' } },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'sluice-eventing-env', namespace: NS },
      data: { SLUICE_DEAD_LETTER_SINK: 'http://dead-letter-sink' },
    },
    {
      apiVersion: 'eventing.knative.dev/v1alpha1',
      kind: 'RabbitmqBrokerConfig',
      metadata: { name: 'default-config', namespace: NS },
      spec: { rabbitmqClusterReference: { name: 'rabbitmq', namespace: DATA }, queueType: 'quorum' },
    },
    {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Broker',
      metadata: {
        name: 'default',
        namespace: NS,
        annotations: { 'eventing.knative.dev/broker.class': 'RabbitMQBroker' },
      },
      spec: {
        config: {
          apiVersion: 'eventing.knative.dev/v1alpha1',
          kind: 'RabbitmqBrokerConfig',
          name: 'default-config',
        },
        delivery: { deadLetterSink: dlsRef, retry: 5, backoffDelay: 'PT1S', timeout: 'PT30S' },
      },
    },
    trigger('hello', 'dev.sluice.hello.requested.v1', 'hello'),
    kservice('hello'),
    kservice('dead-letter-sink', { 'autoscaling.knative.dev/min-scale': '1' }),
    gateway(),
    routeTable(
      '  - {prefix: /api/hello, service: hello}\n  - {prefix: /api/greet, publish: {type: t, source: /s}}\n',
    ),
    ...networkPolicies(),
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'mongodb', namespace: DATA },
      spec: {
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': 'mongodb' } },
          spec: { containers: [{ name: 'mongodb', image: 'mongo:8.0' }] },
        },
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'redis', namespace: DATA },
      spec: {
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': 'redis' } },
          spec: { containers: [{ name: 'redis', image: 'redis:8.2-alpine' }] },
        },
      },
    },
  ];
  return structuredClone(objects) as KubeObject[];
}

const functions = new Map<string, FunctionInfo>([
  ['hello', { emits: ['dev.sluice.hello.greeted.v1'] }],
  ['dead-letter-sink', { emits: [] }],
  ['api-gateway', { emits: [] }],
]);

function context(mutate: (objects: KubeObject[]) => void = () => {}): RuleContext {
  const objects = validOverlay();
  mutate(objects);
  return ruleContext({ objects, functions, versions: { MONGODB_IMAGE: 'mongo:8.0' } });
}

// Mutations reach into plain JSON fixtures; the helper keeps the tests readable without casts everywhere.
// biome-ignore lint/suspicious/noExplicitAny: test fixtures are untyped JSON by design
const find = (objects: KubeObject[], kind: string, name: string): any =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe('rules', () => {
  it('passes a complete overlay', () => {
    expect(checkRules(context())).toEqual([]);
  });

  it('reports a Trigger without a dead-letter sink or a timeout', () => {
    const problems = RULES.triggerDelivery(
      context((o) => {
        const t = find(o, 'Trigger', 'hello');
        delete t.spec.delivery.deadLetterSink;
        delete t.spec.delivery.timeout;
      }),
    );
    expect(problems).toEqual([
      'Trigger/sluice-test/hello has no spec.delivery.deadLetterSink',
      'Trigger/sluice-test/hello has no spec.delivery.timeout',
    ]);
  });

  // The check moved into the Trigger reader (platform/manifests/trigger.ts): the context reports it.
  it('reports spec.filters, which the RabbitMQ broker ignores', () => {
    const problems = context((o) => {
      find(o, 'Trigger', 'hello').spec.filters = [{ exact: { type: 'x' } }];
    }).readProblems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('spec.filters');
  });

  it('reports a subscriber that is not a Knative Service of the overlay', () => {
    const problems = RULES.referencesExist(
      context((o) => {
        find(o, 'Trigger', 'hello').spec.subscriber.ref.name = 'nobody';
      }),
    );
    expect(problems).toEqual([
      'Trigger/sluice-test/hello spec.subscriber names Knative Service nobody, which is not in the overlay',
    ]);
  });

  it('reports a reference into another namespace', () => {
    const problems = RULES.referencesExist(
      context((o) => {
        find(o, 'Trigger', 'hello').spec.subscriber.ref.namespace = 'sluice';
      }),
    );
    expect(problems.some((p) => p.includes('points to namespace sluice'))).toBe(true);
  });

  it('reports a Trigger that feeds a function its own reply type', () => {
    const problems = RULES.noReplyLoops(
      context((o) => {
        find(o, 'Trigger', 'hello').spec.filter.attributes.type = 'dev.sluice.hello.greeted.v1';
      }),
    );
    expect(problems).toEqual([
      'Trigger/sluice-test/hello feeds hello its own reply type dev.sluice.hello.greeted.v1: a loop',
    ]);
  });

  it('reports a Trigger without a type filter whose subscriber replies', () => {
    const problems = RULES.noReplyLoops(
      context((o) => {
        find(o, 'Trigger', 'hello').spec.filter = {};
      }),
    );
    expect(problems).toHaveLength(1);
  });

  it('reports an image that matches no function folder', () => {
    const problems = RULES.imagesMatchFunctions(
      context((o) => {
        find(o, 'Service', 'hello').spec.template.spec.containers[0].image = 'docker.io/library/nginx:1';
      }),
    );
    expect(problems).toEqual([
      'Service/sluice-test/hello image "docker.io/library/nginx:1" is not <registry>/sluice/<function>:<tag>',
    ]);
  });

  it('accepts a registry prefix on a function image', () => {
    const problems = RULES.imagesMatchFunctions(
      context((o) => {
        find(o, 'Service', 'hello').spec.template.spec.containers[0].image =
          'registry.example:5000/team/sluice/hello:2';
      }),
    );
    expect(problems).toEqual([]);
  });

  it('reports a Secret with literal data', () => {
    const problems = RULES.noSecretLiterals(
      context((o) => {
        o.push({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 's', namespace: NS },
          stringData: { a: 'b' },
        });
      }),
    );
    expect(problems).toHaveLength(1);
  });

  it('reports a dead-letter sink that may scale to zero', () => {
    const problems = RULES.deadLetterSinkWarm(
      context((o) => {
        delete find(o, 'Service', 'dead-letter-sink').spec.template.metadata.annotations[
          'autoscaling.knative.dev/min-scale'
        ];
      }),
    );
    expect(problems).toEqual([
      'Service/sluice-test/dead-letter-sink is a dead-letter sink: it needs autoscaling.knative.dev/min-scale "1"',
    ]);
  });

  it('reports a Broker of another class or without delivery', () => {
    const problems = RULES.brokerSetup(
      context((o) => {
        const b = find(o, 'Broker', 'default');
        b.metadata.annotations['eventing.knative.dev/broker.class'] = 'MTChannelBasedBroker';
        delete b.spec.delivery;
      }),
    );
    expect(problems).toHaveLength(2);
  });

  it('reports a consumer_timeout below the wait of the 100th prefetched message', () => {
    const problems = RULES.consumerTimeout(
      context((o) => {
        find(o, 'Trigger', 'hello').metadata.annotations = {
          'rabbitmq.eventing.knative.dev/parallelism': '10',
        };
        find(o, 'RabbitmqCluster', 'rabbitmq').spec.rabbitmq.additionalConfig =
          'default_queue_type = quorum\nconsumer_timeout = 3600000\n';
      }),
    );
    // One delivery: 6 attempts × 30 s + 2 + 4 + 8 + 16 + 32 s = 242 s. Parallelism 10: 10 rounds; the
    // dead-letter dispatcher (parallelism 1): 100 rounds.
    expect(problems).toEqual([
      'Trigger/sluice-test/hello: a message prefetched by its dead-letter dispatcher (100 per dispatcher) may wait 24200000 ms before its ack, not below consumer_timeout 3600000 ms',
    ]);
  });

  it('reports retries that end before the idempotency lock expires (Trigger and Broker default)', () => {
    const problems = checkRules(
      context((o) => {
        find(o, 'Trigger', 'hello').spec.delivery.retry = 3; // 2 + 4 + 8 = 14 s
        find(o, 'Service', 'hello').spec.template.spec.containers[0].env = [
          { name: 'HANDLER_TIMEOUT_SECONDS', value: '10' },
        ]; // lock 15 s
        find(o, 'Broker', 'default').spec.delivery.retry = 1;
      }),
    );
    expect(problems).toEqual([
      "Trigger/sluice-test/hello: its retries wait 14000 ms in all, not more than hello's idempotency lock (15000 ms): a crashed attempt would be dead-lettered with 503 before its lock expires",
      "Broker/sluice-test/default: its default delivery's retries wait 2000 ms in all, not more than the default idempotency lock (30000 ms)",
    ]);
  });

  it('reports a Trigger without delivery on a Broker without a dead-letter sink (the exchange would be missing)', () => {
    const problems = RULES.deadLetterExchangeExists(
      context((o) => {
        delete find(o, 'Trigger', 'hello').spec.delivery;
        delete find(o, 'Broker', 'default').spec.delivery.deadLetterSink;
      }),
    );
    expect(problems).toEqual([
      'Trigger/sluice-test/hello has no spec.delivery and its Broker no deadLetterSink: its failures go to a dead-letter exchange that does not exist, and are lost',
    ]);
    expect(
      RULES.deadLetterExchangeExists(context((o) => delete find(o, 'Trigger', 'hello').spec.delivery)),
    ).toEqual([]);
  });

  it('reports a function whose SLUICE_DEAD_LETTER_SINK is not the sink its Triggers name, and a sink that is not empty', () => {
    const problems = RULES.deadLetterSinkAddress(
      context((o) => {
        find(o, 'ConfigMap', 'sluice-eventing-env').data.SLUICE_DEAD_LETTER_SINK = 'http://elsewhere';
        find(o, 'Service', 'dead-letter-sink').spec.template.spec.containers[0].env = [];
      }),
    );
    expect(problems).toEqual([
      'Service/sluice-test/hello keeps its refusals in http://elsewhere, but Trigger/sluice-test/hello names dead-letter sink dead-letter-sink: set SLUICE_DEAD_LETTER_SINK=http://dead-letter-sink',
      'Service/sluice-test/dead-letter-sink is a dead-letter sink: its SLUICE_DEAD_LETTER_SINK must be empty (it would send to itself)',
    ]);
  });

  it('reports a function without the metrics annotations or the env Secret', () => {
    const problems = RULES.functionServices(
      context((o) => {
        const s = find(o, 'Service', 'hello');
        s.spec.template.metadata.annotations = {};
        delete s.spec.template.spec.containers[0].envFrom;
      }),
    );
    expect(problems).toHaveLength(2);
  });

  it('reports a public gateway that holds the env Secret (store credentials)', () => {
    const problems = RULES.functionServices(
      context((o) => {
        find(o, 'Service', 'api-gateway').spec.template.spec.containers[0].envFrom = [
          { secretRef: { name: 'sluice-function-env' } },
        ];
      }),
    );
    expect(problems).toEqual([
      'Service/sluice-test/api-gateway is public and must not hold the sluice-function-env Secret (store credentials)',
    ]);
  });

  it('reports a MongoDB image other than the pinned one', () => {
    const problems = RULES.pinnedImages(
      context((o) => {
        find(o, 'StatefulSet', 'mongodb').spec.template.spec.containers[0].image = 'mongo:latest';
      }),
    );
    expect(problems).toHaveLength(1);
  });

  it('reports an object outside the overlay namespaces', () => {
    const problems = RULES.environment(
      context((o) => {
        find(o, 'Service', 'hello').metadata.namespace = 'default';
      }),
    );
    expect(problems).toEqual([
      "Service/default/hello is not in the overlay's namespaces sluice-test or sluice-test-data",
    ]);
  });

  it('reports state beside the functions, a function beside the data, and an environment of one namespace', () => {
    expect(
      RULES.environment(
        context((o) => {
          find(o, 'StatefulSet', 'mongodb').metadata.namespace = NS;
          find(o, 'Service', 'hello').metadata.namespace = DATA;
        }),
      ),
    ).toEqual([
      'Service/sluice-test-data/hello belongs in the app namespace sluice-test, with the functions',
      'StatefulSet/sluice-test/mongodb belongs in the data namespace sluice-test-data, not beside the functions',
    ]);
    expect(RULES.environment(context((o) => o.splice(o.indexOf(find(o, 'Namespace', DATA)), 1)))).toEqual([
      'an overlay has exactly two Namespaces, labelled sluice.dev/namespace-role app and data; found sluice-test (app)',
    ]);
  });

  it('reports a RabbitmqCluster reference across namespaces that the topology operator would refuse', () => {
    const unlisted = checkRules(
      context((o) => {
        find(o, 'RabbitmqCluster', 'rabbitmq').metadata.annotations = {};
      }),
    );
    expect(unlisted).toEqual([
      'RabbitmqBrokerConfig/sluice-test/default-config references RabbitmqCluster/sluice-test-data/rabbitmq across namespaces, but its rabbitmq.com/topology-allowed-namespaces does not list sluice-test: the topology operator would refuse its queues',
    ]);
    const everyone = RULES.crossNamespaceReferences(
      context((o) => {
        find(o, 'RabbitmqCluster', 'rabbitmq').metadata.annotations[
          'rabbitmq.com/topology-allowed-namespaces'
        ] = '*';
      }),
    );
    expect(everyone).toEqual([
      'RabbitmqCluster/sluice-test-data/rabbitmq allows every namespace (rabbitmq.com/topology-allowed-namespaces: "*"): list its environment\'s app namespace only',
    ]);
  });
});

describe('rules: one public entry, event endpoints private', () => {
  const makePublic = (o: KubeObject[], name: string) => {
    find(o, 'Service', name).metadata.labels = {};
  };

  it('fails on a public event endpoint', () => {
    const ctx = context((o) => makePublic(o, 'hello'));
    expect(RULES.noPublicEventEndpoint(ctx)).toEqual([
      'Service/sluice-test/hello is a public event endpoint (fed by Trigger/sluice-test/hello subscriber): label it networking.knative.dev/visibility: cluster-local',
    ]);
    expect(RULES.publicEntry(ctx)).toEqual([
      'Service/sluice-test/hello is public: only api-gateway may be; label it networking.knative.dev/visibility: cluster-local',
    ]);
  });

  it('counts dead-letter sinks as event endpoints', () => {
    expect(RULES.noPublicEventEndpoint(context((o) => makePublic(o, 'dead-letter-sink')))[0]).toContain(
      'fed by Trigger/sluice-test/hello deadLetterSink, Broker/sluice-test/default deadLetterSink',
    );
  });

  it('fails without the gateway, with a cluster-local gateway, and on any other way in', () => {
    expect(
      RULES.publicEntry(context((o) => o.splice(o.indexOf(find(o, 'Service', 'api-gateway')), 1))),
    ).toEqual(['no Knative Service api-gateway: the overlay has no public entry']);
    expect(
      RULES.publicEntry(
        context((o) => {
          find(o, 'Service', 'api-gateway').metadata.labels = {
            'networking.knative.dev/visibility': 'cluster-local',
          };
        }),
      ),
    ).toHaveLength(1);
    const exposed = RULES.publicEntry(
      context((o) => {
        o.push({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'mongo-lb', namespace: NS },
          spec: { type: 'LoadBalancer' },
        });
        o.push({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'x', namespace: NS },
        });
      }),
    );
    expect(exposed).toEqual([
      'Service/sluice-test/mongo-lb is a LoadBalancer: reach it through api-gateway or a port-forward',
      'Ingress/sluice-test/x exposes something beside api-gateway',
    ]);
  });

  it('fails when no NetworkPolicy guards the event endpoints, the gateway or the broker ingress', () => {
    const problems = RULES.networkPolicies(
      context((o) => o.splice(0, o.length, ...o.filter((x) => x.kind !== 'NetworkPolicy'))),
    );
    expect(problems).toEqual([
      'Service/sluice-test/hello: no NetworkPolicy selects its pods, so anything in the cluster can connect',
      'Service/sluice-test/dead-letter-sink: no NetworkPolicy selects its pods, so anything in the cluster can connect',
      'Service/sluice-test/api-gateway: no NetworkPolicy selects its pods, so anything in the cluster can connect',
      'the ingress of Broker/sluice-test/default: no NetworkPolicy selects its pods, so anything in the cluster can connect',
      'Deployment/sluice-test-data/redis: no NetworkPolicy selects its pods, so anything in the cluster can connect',
      'StatefulSet/sluice-test-data/mongodb: no NetworkPolicy selects its pods, so anything in the cluster can connect',
      'RabbitmqCluster/sluice-test-data/rabbitmq: no NetworkPolicy selects its pods, so anything in the cluster can connect',
    ]);
  });

  it("fails on a data service open to another environment, and on Prometheus kept in the data namespace's own", () => {
    const problems = RULES.networkPolicies(
      context((o) => {
        // Redis and MongoDB admit the gateway and functions of any namespace; the functions admit a Prometheus
        // of their own namespace, which has none.
        delete find(o, 'NetworkPolicy', 'redis').spec.ingress[0].from[0].namespaceSelector.matchLabels;
        delete find(o, 'NetworkPolicy', 'mongodb').spec.ingress[0].from[0].namespaceSelector.matchLabels;
        delete find(o, 'NetworkPolicy', 'event-endpoints').spec.ingress[2].from[0].namespaceSelector;
      }),
    );
    expect(problems).toEqual([
      'Service/sluice-test/hello: NetworkPolicy keeps out Prometheus, which must reach it',
      'Service/sluice-test/dead-letter-sink: NetworkPolicy keeps out Prometheus, which must reach it',
      "Deployment/sluice-test-data/redis: NetworkPolicy lets another environment's gateway in",
      "StatefulSet/sluice-test-data/mongodb: NetworkPolicy lets another environment's function in",
    ]);
  });

  it('fails on a RabbitMQ open to the functions or another environment, or closed to its operators or Prometheus', () => {
    const problems = RULES.networkPolicies(
      context((o) => {
        const rules = find(o, 'NetworkPolicy', 'rabbitmq').spec.ingress;
        rules[0].from[0].namespaceSelector = {}; // the broker's pods of any namespace
        rules[0].from.push({ podSelector: {}, namespaceSelector: rules[0].from[1].namespaceSelector });
        rules[1].from = rules[1].from.filter(
          (f: { namespaceSelector: { matchLabels: Record<string, string> } }) =>
            f.namespaceSelector.matchLabels['kubernetes.io/metadata.name'] !== 'rabbitmq-system',
        );
        rules.splice(2, 1); // Prometheus
      }),
    );
    const rabbit = problems.filter((p) => p.startsWith('RabbitmqCluster/'));
    expect(rabbit).toEqual([
      'RabbitmqCluster/sluice-test-data/rabbitmq: NetworkPolicy lets api-gateway in',
      'RabbitmqCluster/sluice-test-data/rabbitmq: NetworkPolicy keeps out Prometheus, which must reach it',
      "RabbitmqCluster/sluice-test-data/rabbitmq: NetworkPolicy lets another environment's trigger dispatcher in",
      'RabbitmqCluster/sluice-test-data/rabbitmq: NetworkPolicy keeps out the messaging-topology-operator, which must reach it',
      'RabbitmqCluster/sluice-test-data/rabbitmq: NetworkPolicy lets another function in',
      'RabbitmqCluster/sluice-test-data/rabbitmq: NetworkPolicy lets any other pod of the namespace in',
    ]);
  });

  it('fails on a policy that opens an event endpoint to more than the broker, the gateway and Knative', () => {
    const allowAll = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-all', namespace: NS },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] },
    };
    expect(RULES.networkPolicies(context((o) => o.push(allowAll as unknown as KubeObject)))).toContain(
      'Service/sluice-test/hello: NetworkPolicy allow-all ingress[0] has no from: it admits every source',
    );
    const anyNamespace = RULES.networkPolicies(
      context((o) => {
        find(o, 'NetworkPolicy', 'event-endpoints').spec.ingress[1].from.push({ namespaceSelector: {} });
      }),
    );
    expect(anyNamespace).toContain(
      'Service/sluice-test/hello: NetworkPolicy lets a pod of another namespace in',
    );
    expect(anyNamespace).toContain(
      'Service/sluice-test/hello: NetworkPolicy lets any other pod of the namespace in',
    );
  });

  it('fails on Prometheus let in on every port, and on a policy that keeps Knative out', () => {
    const problems = RULES.networkPolicies(
      context((o) => {
        const policy = find(o, 'NetworkPolicy', 'event-endpoints');
        delete policy.spec.ingress[2].ports;
        policy.spec.ingress[0].from.shift();
      }),
    );
    expect(problems).toContain(
      'Service/sluice-test/hello: Prometheus may reach every port; allow its metrics port only',
    );
    expect(problems).toContain(
      "Service/sluice-test/hello: NetworkPolicy keeps out Kourier's gateway, which must reach it",
    );
  });

  it('fails on a gateway route to a missing or public Service, or a route table that does not parse', () => {
    const twoTables = RULES.gatewayRoutes(
      context((o) => o.push(routeTable('  - {prefix: /x, service: nobody}\n') as unknown as KubeObject)),
    );
    expect(twoTables).toEqual([
      'Service/sluice-test/api-gateway must mount exactly one route ConfigMap of the overlay',
    ]);
    const replaced = (routes: string) =>
      RULES.gatewayRoutes(
        context((o) => {
          find(o, 'ConfigMap', 'api-gateway-routes-abc').data = routeTable(routes).data;
          makePublic(o, 'hello');
        }),
      );
    expect(replaced('  - {prefix: /x, service: nobody}\n  - {prefix: /y, service: hello}\n')).toEqual([
      'ConfigMap/sluice-test/api-gateway-routes-abc demo.yaml: /x proxies to nobody, which is not in the overlay',
      'ConfigMap/sluice-test/api-gateway-routes-abc demo.yaml: /y proxies to Service/sluice-test/hello, which is public',
    ]);
    expect(replaced('  - {prefix: /X}\n')[0]).toMatch(
      /^ConfigMap\/sluice-test\/api-gateway-routes-abc demo\.yaml: \/routes\/0\/prefix must match pattern/,
    );
  });
});

describe('rules: high availability', () => {
  const production = (o: KubeObject[]) => {
    for (const ns of o.filter((x) => x.kind === 'Namespace'))
      find(o, 'Namespace', ns.metadata.name).metadata.labels['sluice.dev/environment'] = 'production';
  };
  const spread = (name: string) => ({
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          topologyKey: 'kubernetes.io/hostname',
          labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } },
        },
      ],
    },
  });
  const budget = (name: string, spec: Record<string, unknown>) =>
    ({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: DATA },
      spec: { ...spec, selector: { matchLabels: { 'app.kubernetes.io/name': name } } },
    }) as unknown as KubeObject;
  const highlyAvailable = (o: KubeObject[]) => {
    production(o);
    Object.assign(find(o, 'RabbitmqCluster', 'rabbitmq').spec, { replicas: 3, affinity: spread('rabbitmq') });
    const mongo = find(o, 'StatefulSet', 'mongodb').spec;
    mongo.replicas = 3;
    mongo.template.spec.affinity = spread('mongodb');
    mongo.template.spec.containers[0].args = ['--replSet', 'rs0'];
    find(o, 'Service', 'api-gateway').spec.template.metadata.annotations[
      'autoscaling.knative.dev/min-scale'
    ] = '2';
    o.push(budget('rabbitmq', { maxUnavailable: 1 }), budget('mongodb', { minAvailable: 2 }));
  };

  it('asks nothing of an environment other than production', () => {
    expect(RULES.highAvailability(context())).toEqual([]);
  });

  it('passes production with 3 spread, budgeted members of each set and two gateways', () => {
    expect(checkRules(context(highlyAvailable))).toEqual([]);
  });

  it('fails an even cluster, members that may share a node, a budget that lets a majority go, one gateway', () => {
    const problems = RULES.highAvailability(
      context((o) => {
        highlyAvailable(o);
        find(o, 'RabbitmqCluster', 'rabbitmq').spec.replicas = 4;
        delete find(o, 'StatefulSet', 'mongodb').spec.template.spec.affinity;
        find(o, 'PodDisruptionBudget', 'mongodb').spec = budget('mongodb', { minAvailable: 1 }).spec;
        find(o, 'Service', 'api-gateway').spec.template.metadata.annotations[
          'autoscaling.knative.dev/min-scale'
        ] = '1';
      }),
    );
    expect(problems).toEqual([
      'RabbitmqCluster/sluice-test-data/rabbitmq runs 4 replica(s): production needs an odd number ≥ 3, so that its quorum queues keep a majority with one node lost',
      'StatefulSet/sluice-test-data/mongodb has no required pod anti-affinity on kubernetes.io/hostname: two members could share a host',
      'StatefulSet/sluice-test-data/mongodb has no PodDisruptionBudget that lets a drain take one member at a time',
      'Service/sluice-test/api-gateway runs at min-scale 1: the public entry needs 2 or more in production',
    ]);
  });
});

describe('rules: least privilege', () => {
  it("fails on a workload other than MongoDB that reads MongoDB's root credentials", () => {
    const rootRef = (key: string) => ({
      name: key,
      valueFrom: { secretKeyRef: { name: 'mongodb-credentials', key } },
    });
    const problems = RULES.rootCredentialsStayHome(
      context((o) => {
        find(o, 'StatefulSet', 'mongodb').spec.template.spec.containers[0].env = [rootRef('root-password')];
        o.push({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'mongodb-exporter', namespace: NS },
          spec: {
            template: {
              spec: {
                containers: [{ name: 'e', env: [rootRef('root-username'), rootRef('root-password')] }],
              },
            },
          },
        } as unknown as KubeObject);
      }),
    );
    expect(problems).toEqual([
      "Deployment/sluice-test/mongodb-exporter reads MongoDB's root-username: give it a least-privilege user of its own",
      "Deployment/sluice-test/mongodb-exporter reads MongoDB's root-password: give it a least-privilege user of its own",
    ]);
  });
});

describe('rules: secrets off the command line', () => {
  it('fails on a Secret the kubelet would expand into args, or into a command through envFrom', () => {
    const problems = RULES.secretsOffCommandLine(
      context((o) => {
        find(o, 'Deployment', 'redis').spec.template.spec.containers[0] = {
          name: 'redis',
          image: 'redis:8.2-alpine',
          args: ['--requirepass', '$(REDIS_PASSWORD)', '--save', ''],
          env: [
            {
              name: 'REDIS_PASSWORD',
              valueFrom: { secretKeyRef: { name: 'redis-credentials', key: 'password' } },
            },
          ],
        };
        find(o, 'Service', 'hello').spec.template.spec.containers[0].command = ['run', '--db=$(MONGODB_URL)'];
      }),
    );
    expect(problems).toEqual([
      'Service/sluice-test/hello puts $(MONGODB_URL), Secret sluice-function-env (envFrom), on the command line of its container: mount the Secret as a file instead',
      'Deployment/sluice-test-data/redis puts $(REDIS_PASSWORD), Secret redis-credentials key password, on the command line of container redis: mount the Secret as a file instead',
    ]);
  });

  it('passes plain env, escaped $$(VAR) and a Secret mounted as a file', () => {
    const problems = RULES.secretsOffCommandLine(
      context((o) => {
        const redis = find(o, 'Deployment', 'redis').spec.template.spec;
        redis.containers[0].args = [
          '/etc/redis/redis.conf',
          '--maxmemory',
          '$(MAXMEMORY)',
          '$$(REDIS_PASSWORD)',
        ];
        redis.containers[0].env = [
          { name: 'MAXMEMORY', value: '48mb' },
          {
            name: 'REDIS_PASSWORD',
            valueFrom: { secretKeyRef: { name: 'redis-credentials', key: 'password' } },
          },
        ];
        redis.volumes = [{ name: 'config', secret: { secretName: 'redis-config' } }];
      }),
    );
    expect(problems).toEqual([]);
  });
});

describe('delivery timing', () => {
  it('sums the waits as sdk-go BackoffFor(1 … retry), with the dispatcher defaults', () => {
    expect(retryWindowMs(deliveryTiming({ retry: 3, backoffDelayMs: 1000 }))).toBe(14_000);
    expect(retryWindowMs(deliveryTiming({ retry: 3, backoffDelayMs: 1000, backoffPolicy: 'linear' }))).toBe(
      6_000,
    );
    expect(deliveryTiming({})).toEqual({ retry: 5, backoffDelayMs: 50, linear: false, timeoutMs: undefined });
    expect(retryWindowMs(deliveryTiming(undefined))).toBe(0);
    expect(worstPrefetchWaitMs(20, deliveryTiming({ retry: 0, timeoutMs: 1000 }))).toBe(5_000);
  });

  it('adds every attempt and the exponential back-off', () => {
    // 4 attempts × 10 s + 2 s + 4 s + 8 s
    expect(longestDeliveryMs({ timeoutMs: 10_000, retry: 3, backoffDelayMs: 1000 })).toBe(54_000);
  });
});
