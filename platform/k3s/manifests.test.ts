import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type KubeObject, parseManifest } from './validate/manifest.ts';
import {
  checkManifest,
  K3S_DIR,
  kustomizationProblems,
  kustomizeBuild,
  type OverlayReport,
  overlayNames,
  readVersions,
  renderOverlay,
  routeGeneratorProblems,
} from './validate/project.ts';
import { PUBLIC_ENTRY } from './validate/rules.ts';
import { createSchemaValidator } from './validate/schema.ts';

describe('overlays', () => {
  const reports = new Map<string, OverlayReport>();

  beforeAll(async () => {
    for (const name of overlayNames()) reports.set(name, await checkManifest(renderOverlay(name), name));
  }, 120_000);

  it('has a qualification and a production overlay', () => {
    expect(overlayNames()).toEqual(['production', 'qualification']);
  });

  it('renders every object valid against its schema', () => {
    for (const [name, report] of reports) expect(report.schemaErrors, name).toEqual([]);
  });

  it('passes every project rule', () => {
    for (const [name, report] of reports) expect(report.ruleProblems, name).toEqual([]);
  });

  it('puts each overlay in two namespaces of its own (functions; data services), each with a quota and limits', () => {
    const namespaces = [...reports.values()].flatMap((r) =>
      r.objects.filter((o: KubeObject) => o.kind === 'Namespace').map((o) => o.metadata.name),
    );
    expect(namespaces.sort()).toEqual([
      'sluice',
      'sluice-data',
      'sluice-qualification',
      'sluice-qualification-data',
    ]);
    for (const [name, report] of reports) {
      const guards = report.objects.filter((o) => o.kind === 'ResourceQuota' || o.kind === 'LimitRange');
      expect(guards.map((o) => `${o.kind}/${o.metadata.namespace}`).sort(), name).toEqual(
        name === 'production'
          ? [
              'LimitRange/sluice',
              'LimitRange/sluice-data',
              'ResourceQuota/sluice',
              'ResourceQuota/sluice-data',
            ]
          : [
              'LimitRange/sluice-qualification',
              'LimitRange/sluice-qualification-data',
              'ResourceQuota/sluice-qualification',
              'ResourceQuota/sluice-qualification-data',
            ],
      );
    }
  });

  it("keeps the app namespace's reference quota and points its RabbitmqCluster references at the data namespace", () => {
    for (const [name, report] of reports) {
      const app = name === 'production' ? 'sluice' : `sluice-${name}`;
      const quota = report.objects.find(
        (o) => o.kind === 'ResourceQuota' && o.metadata.namespace === app,
      ) as KubeObject;
      expect((quota.spec as { hard: Record<string, string> }).hard, name).toMatchObject({
        'requests.cpu': '2',
        'requests.memory': '4Gi',
        'limits.cpu': '4',
        'limits.memory': '8Gi',
      });
      const refs = report.objects
        .filter((o) => o.kind === 'RabbitmqBrokerConfig' || o.kind === 'RabbitmqSource')
        .map((o) => (o.spec as { rabbitmqClusterReference: { namespace: string } }).rabbitmqClusterReference);
      expect(refs.length, name).toBeGreaterThanOrEqual(2);
      for (const ref of refs) expect(ref.namespace, name).toBe(`${app}-data`);
      const cluster = report.objects.find((o) => o.kind === 'RabbitmqCluster') as KubeObject;
      expect(cluster.metadata.namespace, name).toBe(`${app}-data`);
      expect(cluster.metadata.annotations?.['rabbitmq.com/topology-allowed-namespaces'], name).toBe(app);
    }
  });

  it('has one public entry: every broker-fed Service cluster-local, the gateway the only public one, NetworkPolicies in place', () => {
    for (const [name, report] of reports) {
      const ksvcs = report.objects.filter(
        (o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1',
      );
      const isPublic = (o: KubeObject) =>
        o.metadata.labels?.['networking.knative.dev/visibility'] !== 'cluster-local';
      expect(
        ksvcs.filter(isPublic).map((o) => o.metadata.name),
        name,
      ).toEqual([PUBLIC_ENTRY]);
      const subscribers = new Set(
        report.objects
          .filter((o) => o.kind === 'Trigger')
          .map((t) => (t.spec as { subscriber: { ref: { name: string } } }).subscriber.ref.name),
      );
      expect(subscribers.size, name).toBeGreaterThan(0);
      for (const s of subscribers)
        expect(isPublic(ksvcs.find((k) => k.metadata.name === s) as KubeObject), s).toBe(false);
      expect(
        report.objects
          .filter((o) => o.kind === 'NetworkPolicy')
          .map((o) => o.metadata.name)
          .sort(),
        name,
      ).toEqual(['api-gateway', 'broker-ingress', 'event-endpoints', 'mongodb', 'rabbitmq', 'redis']);
      const exposed = report.objects.filter(
        (o) =>
          o.kind === 'Service' &&
          o.apiVersion === 'v1' &&
          ['LoadBalancer', 'NodePort'].includes(String((o.spec as { type?: string }).type)),
      );
      expect(exposed, name).toEqual([]);
      const ns = report.objects.find(
        (o) => o.kind === 'Namespace' && o.metadata.labels?.['sluice.dev/namespace-role'] === 'app',
      )?.metadata.name;
      const gw = ksvcs.find((o) => o.metadata.name === PUBLIC_ENTRY) as KubeObject;
      const env = (
        gw.spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } }
      ).template.spec.containers[0]?.env;
      expect(env?.find((e) => e.name === 'SLUICE_NAMESPACE')?.value, name).toBe(ns);
      expect(env?.find((e) => e.name === 'BROKER_URL')?.value, name).toBe(
        `http://default-broker-ingress.${ns}.svc.cluster.local/`,
      );
    }
  });

  it('fails a planted bad manifest: a broker-fed Service made public', async () => {
    const objects = parseManifest(renderOverlay('qualification'));
    const processor = objects.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'transaction-processor',
    ) as KubeObject & { metadata: { labels: Record<string, string> } };
    delete processor.metadata.labels['networking.knative.dev/visibility'];
    const planted = objects.map((o) => stringify(o)).join('---\n');
    const report = await checkManifest(planted, 'planted');
    expect(report.ruleProblems).toContain(
      'Service/sluice-qualification/transaction-processor is a public event endpoint (fed by Trigger/sluice-qualification/transaction-processor-accounts subscriber, Trigger/sluice-qualification/transaction-processor-transfers subscriber): label it networking.knative.dev/visibility: cluster-local',
    );
  });

  it('runs production without a single point of failure among broker, store and gateway; qualification small', () => {
    const spec = (report: OverlayReport | undefined, kind: string, name: string) =>
      report?.objects.find((o) => o.kind === kind && o.metadata.name === name)?.spec as
        | Record<string, unknown>
        | undefined;
    const production = reports.get('production');
    const qualification = reports.get('qualification');
    expect(spec(production, 'RabbitmqCluster', 'rabbitmq')?.replicas).toBe(3);
    expect(spec(production, 'StatefulSet', 'mongodb')?.replicas).toBe(3);
    expect(
      production?.objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name),
    ).toEqual(['mongodb', 'rabbitmq']);
    expect(production?.manifests.services.find((s) => s.name === PUBLIC_ENTRY)?.minScale).toBe(2);
    expect(spec(qualification, 'RabbitmqCluster', 'rabbitmq')?.replicas).toBe(1);
    expect(spec(qualification, 'StatefulSet', 'mongodb')?.replicas).toBe(1);
    expect(qualification?.objects.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
  });

  it('fails a planted single point of failure in production: a single-replica broker, a lone store, one gateway', async () => {
    const objects = parseManifest(renderOverlay('production'));
    const find = (kind: string, name: string) =>
      objects.find((o) => o.kind === kind && o.metadata.name === name) as KubeObject & {
        spec: Record<string, unknown>;
      };
    find('RabbitmqCluster', 'rabbitmq').spec.replicas = 1;
    const report = await checkManifest(objects.map((o) => stringify(o)).join('---\n'), 'planted');
    expect(report.ruleProblems).toEqual([
      'RabbitmqCluster/sluice-data/rabbitmq runs 1 replica(s): production needs an odd number ≥ 3, so that its quorum queues keep a majority with one node lost',
    ]);
    find('StatefulSet', 'mongodb').spec.replicas = 1;
    const gateway = find('Service', PUBLIC_ENTRY) as unknown as {
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };
    delete gateway.spec.template.metadata.annotations['autoscaling.knative.dev/min-scale'];
    for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget'))
      objects.splice(objects.indexOf(pdb), 1);
    const worse = await checkManifest(objects.map((o) => stringify(o)).join('---\n'), 'planted');
    expect(worse.ruleProblems).toEqual([
      'RabbitmqCluster/sluice-data/rabbitmq runs 1 replica(s): production needs an odd number ≥ 3, so that its quorum queues keep a majority with one node lost',
      'RabbitmqCluster/sluice-data/rabbitmq has no PodDisruptionBudget that lets a drain take one node at a time',
      'StatefulSet/sluice-data/mongodb runs 1 member(s): production needs a replica set of an odd number ≥ 3, so that a primary is elected with one member lost',
      'StatefulSet/sluice-data/mongodb has no PodDisruptionBudget that lets a drain take one member at a time',
      'Service/sluice/api-gateway runs at min-scale 0: the public entry needs 2 or more in production',
    ]);
  });

  it("runs the MongoDB exporter as its own least-privilege user, created by MongoDB's init", () => {
    for (const [name, report] of reports) {
      const exporter = JSON.stringify(
        report.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'mongodb-exporter'),
      );
      expect(exporter, name).toContain('mongodb-exporter-credentials');
      expect(exporter, name).not.toContain('root-');
      const init = report.objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name === 'mongodb-init',
      ) as KubeObject;
      const script = (init.data as Record<string, string>)['20-exporter-user.js'] ?? '';
      expect(script, name).toContain(
        "[{ role: 'clusterMonitor', db: 'admin' }, { role: 'read', db: 'local' }]",
      );
      expect(script, name).toContain('updateUser');
      // Compiled, not run (mongosh's globals are not here): a syntax error would only show on the first deploy.
      expect(() => new Script(script), name).not.toThrow();
    }
  });

  it('deploys the data services, a RabbitMQ broker and every function', () => {
    for (const report of reports.values()) {
      const kinds = new Set(report.objects.map((o) => o.kind));
      for (const kind of ['RabbitmqCluster', 'StatefulSet', 'Broker', 'Trigger', 'RabbitmqBrokerConfig'])
        expect(kinds.has(kind), kind).toBe(true);
    }
  });
});

describe('kustomization.yaml files', () => {
  it('list every function service.yaml and every eventing manifest that make dev reads', () => {
    expect(kustomizationProblems()).toEqual([]);
  });

  it("put every system's routes.yaml in the gateway's ConfigMap, as make dev does", () => {
    expect(routeGeneratorProblems()).toEqual([]);
  });
});

describe('versions.env', () => {
  const v = readVersions();

  it('pins the release lines the install order was checked against', () => {
    expect(v.K3S_VERSION).toMatch(/^v1\.(3[4-9]|[4-9]\d)\.\d+\+k3s\d+$/);
    expect(v.CERT_MANAGER_VERSION).toMatch(/^v1\.21\.\d+$/);
    expect(v.RABBITMQ_CLUSTER_OPERATOR_VERSION).toMatch(/^v2\.22\.\d+$/);
    expect(v.RABBITMQ_TOPOLOGY_OPERATOR_VERSION).toMatch(/^v1\.20\.\d+$/);
    for (const key of [
      'KNATIVE_SERVING_VERSION',
      'KNATIVE_NET_KOURIER_VERSION',
      'KNATIVE_EVENTING_VERSION',
      'KNATIVE_EVENTING_RABBITMQ_VERSION',
    ])
      expect(v[key], key).toMatch(/^knative-v1\.22\.\d+$/);
  });

  it('is the only place the scripts take versions from', () => {
    for (const script of ['install-platform.sh', 'install-k3s.sh']) {
      const text = readFileSync(join(K3S_DIR, script), 'utf8');
      expect(text, script).not.toMatch(/(knative-)?v\d+\.\d+\.\d+/);
    }
  });
});

describe('schemas', () => {
  const validator = createSchemaValidator();
  const cluster = (spec: Record<string, unknown>) =>
    ({
      apiVersion: 'rabbitmq.com/v1beta1',
      kind: 'RabbitmqCluster',
      metadata: { name: 'r' },
      spec,
    }) as KubeObject;

  it('checks every kind with a CRD against the pinned upstream CRD, core kinds against kubernetes-models', async () => {
    const overlay = parseManifest(renderOverlay('qualification'));
    await Promise.all(overlay.map((o) => validator.validate(o)));
    const sources = await validator.sources();
    for (const kind of [
      'serving.knative.dev/v1/Service',
      'eventing.knative.dev/v1/Broker',
      'eventing.knative.dev/v1/Trigger',
      'eventing.knative.dev/v1alpha1/RabbitmqBrokerConfig',
      'sources.knative.dev/v1alpha1/RabbitmqSource',
      'rabbitmq.com/v1beta1/RabbitmqCluster',
    ])
      expect(sources.get(kind), kind).toMatch(/^CRD /);
    expect(sources.get('apps/v1/StatefulSet')).toBe('kubernetes-models');
  });

  it('accepts a Knative Service container without a name, as Knative does (the npm model required one)', async () => {
    const [svc] = parseManifest(
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{image: i, readinessProbe: {httpGet: {path: /health/readiness}}}]\n',
    );
    expect(svc && (await validator.validate(svc))).toEqual([]);
  });

  it('rejects a misspelt RabbitmqCluster field the API server would silently prune', async () => {
    const errors = await validator.validate(cluster({ replicas: 1, persistance: { storage: '1Gi' } }));
    expect(errors.join('\n')).toContain('spec.persistance is not a field of this kind');
  });

  it('accepts quantities as strings or integers, as the CRD does', async () => {
    expect(await validator.validate(cluster({ persistence: { storage: '5Gi' }, replicas: 1 }))).toEqual([]);
  });

  it('rejects a Knative Service whose container port is not a number', async () => {
    const [svc] = parseManifest(
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: f, image: i, ports: [{containerPort: http}]}]\n',
    );
    expect(svc && (await validator.validate(svc))).toHaveLength(1);
  });

  it('reports a kind it has no schema for', async () => {
    const [o] = parseManifest('apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n');
    expect(o && (await validator.validate(o))).toEqual([
      'Widget/w (example.com/v1): no schema for Widget (example.com/v1)',
    ]);
  });
});

describe('kinds to come: PingSource and ScaledObject', () => {
  let dir = '';
  const fixture = readFileSync(join(K3S_DIR, 'test', 'fixtures', 'ping-and-scale.yaml'), 'utf8');
  const render = (text: string): string => {
    writeFileSync(join(dir, 'objects.yaml'), text);
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [objects.yaml]\n');
    return kustomizeBuild(dir);
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-kinds-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('validates them, rendered by kustomize, against their pinned CRDs and typed readers', async () => {
    const report = await checkManifest(render(fixture), 'fixture');
    expect(report.schemaErrors).toEqual([]);
    expect(report.manifests.pingSources[0]).toMatchObject({
      schedule: '*/5 * * * *',
      timezone: 'Europe/Paris',
    });
    expect(report.manifests.scaledObjects[0]).toMatchObject({
      maxReplicaCount: 5,
      pollingIntervalSeconds: 30,
    });
  });

  it('refuses a misspelt field and a broken value in each, naming the object and the field', async () => {
    const bad = fixture
      .replace('timezone: Europe/Paris', 'timeZone: Europe/Paris')
      .replace('maxReplicaCount: 5', 'maxReplicaCount: "5"')
      .replace('schedule: "*/5 * * * *"', 'schedule: "@every 5m"');
    const report = await checkManifest(render(bad), 'fixture');
    // kustomize writes objects in its own order.
    expect(report.schemaErrors).toEqual([
      'fixture: ScaledObject stream-reader: spec.maxReplicaCount must be integer',
      'fixture: PingSource tick: spec.timeZone is not a field of this kind (a typo? the cluster would drop it)',
    ]);
    const typed = await checkManifest(
      render(fixture.replace('schedule: "*/5 * * * *"', 'schedule: "@every 5m"')),
      'fixture',
    );
    expect(typed.schemaErrors).toEqual([
      'fixture: PingSource tick: spec.schedule "@every 5m" uses the unsupported descriptor @every',
    ]);
  });
});

describe('kustomize namespace references', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-kz-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('moves Trigger subscriber and dead-letter references with the overlay namespace', () => {
    const component = join(K3S_DIR, 'kustomize', 'components', 'namespace-references');
    writeFileSync(
      join(dir, 'trigger.yaml'),
      'apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t, namespace: sluice}\nspec:\n  broker: default\n  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f, namespace: sluice}}\n  delivery: {deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: d, namespace: sluice}}}\n',
    );
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      `namespace: elsewhere\nresources: [trigger.yaml]\ncomponents: [${relative(dir, component)}]\n`,
    );
    const [t] = parseManifest(kustomizeBuild(dir));
    expect(JSON.stringify(t)).not.toContain('"sluice"');
    expect(JSON.stringify(t).match(/"elsewhere"/g)).toHaveLength(3);
  });
});
