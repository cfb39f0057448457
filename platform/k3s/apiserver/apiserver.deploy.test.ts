/**
 * `make test-deploy`: every object of every overlay through a real kube-apiserver (etcd + kube-apiserver +
 * kube-controller-manager on loopback, started once for the file), then planted mistakes that a schema check
 * lets through and the API server does not. Prints `apiserver: N objects accepted, M rejected` and each
 * namespace's quota as used once every Pod was admitted (the headroom).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overlayNames, renderOverlay } from '../validate/project.ts';
import {
  type ApiserverReport,
  checkOverlays,
  describeQuota,
  NOT_RECONCILED,
  prepareCluster,
  splitDocuments,
} from './check.ts';
import { type ControlPlane, startControlPlane } from './control-plane.ts';

let cp: ControlPlane | undefined;
const plane = (): ControlPlane => {
  if (cp === undefined) throw new Error('the control plane did not start');
  return cp;
};

beforeAll(async () => {
  cp = await startControlPlane();
  await prepareCluster(cp);
});

afterAll(async () => {
  await cp?.stop();
});

describe('the overlays on a real kube-apiserver', () => {
  let report: ApiserverReport;
  let total = 0;

  beforeAll(async () => {
    const overlays = overlayNames().map((name) => ({ name, text: renderOverlay(name) }));
    total = overlays.flatMap(splitDocuments).length;
    report = await checkOverlays(plane(), overlays);
    const lines = [
      `apiserver: ${report.accepted.length} objects accepted, ${report.rejected.length} rejected`,
      ...report.rejected.map((r) => `  ${r.overlay}: ${r.object}: ${r.reason}`),
      ...report.quotas.map((q) => `  ${describeQuota(q)}`),
      `  (${NOT_RECONCILED})`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });

  it('accepts every object and admits every Pod the workloads and stand-ins create', () => {
    expect(report.rejected).toEqual([]);
    expect(report.accepted).toHaveLength(total);
  });

  it("reports each overlay's quota as the admitted Pods use it", () => {
    expect(new Set(report.quotas.map((q) => q.overlay))).toEqual(new Set(overlayNames()));
    for (const q of report.quotas) expect(Number(q.used.pods ?? 0)).toBeGreaterThan(0);
  });
});

/** A one-namespace overlay around `objects` (YAML documents), with the quota and limits the overlays use. */
const planted = (namespace: string, objects: string): string => `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: sluice
  namespace: ${namespace}
spec:
  hard:
    requests.cpu: "1"
    requests.memory: 1Gi
    limits.memory: 2Gi
    pods: "10"
---
apiVersion: v1
kind: LimitRange
metadata:
  name: sluice
  namespace: ${namespace}
spec:
  limits:
    - type: Container
      defaultRequest: { cpu: 25m, memory: 64Mi }
      default: { memory: 256Mi }
      max: { memory: 2Gi }
---
${objects}`;

const deployment = (namespace: string, name: string, extra: { pod?: string; container?: string } = {}) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  selector:
    matchLabels: { app: ${name} }
  template:
    metadata:
      labels: { app: ${name} }
    spec:${extra.pod ?? ''}
      containers:
        - name: main
          image: dev.local/sluice/hello:0.1.0${extra.container ?? ''}
`;

describe('mistakes a schema check misses and the API server refuses', () => {
  const ns = 'planted';
  const cases: Record<string, string> = {
    'Deployment/planted/unknown-field': deployment(ns, 'unknown-field', {
      container: '\n          imagePullPolcy: Always',
    }),
    'Deployment/planted/over-quota': deployment(ns, 'over-quota', {
      container:
        '\n          resources: { requests: { cpu: 100m, memory: 1500Mi }, limits: { memory: 1500Mi } }',
    }),
    'Deployment/planted/over-limit-range': deployment(ns, 'over-limit-range', {
      container: '\n          resources: { requests: { cpu: 10m, memory: 64Mi }, limits: { memory: 3Gi } }',
    }),
    'Deployment/planted/selector-mismatch': deployment(ns, 'selector-mismatch').replace(
      'matchLabels: { app: selector-mismatch }',
      'matchLabels: { app: other }',
    ),
    'Deployment/planted/missing-service-account': deployment(ns, 'missing-service-account', {
      pod: '\n      serviceAccountName: nobody',
    }),
    'Deployment/planted/missing-priority-class': deployment(ns, 'missing-priority-class', {
      pod: '\n      priorityClassName: urgent',
    }),
    'ConfigMap/planted/slash-key': `apiVersion: v1
kind: ConfigMap
metadata: { name: slash-key, namespace: ${ns} }
data:
  conf/app.yaml: "a: 1"`,
    'ConfigMap/planted/yaml-yes-label': `apiVersion: v1
kind: ConfigMap
metadata:
  name: yaml-yes-label
  namespace: ${ns}
  labels:
    sluice.dev/enabled: yes`,
    'Service/planted/port-too-high': `apiVersion: v1
kind: Service
metadata: { name: port-too-high, namespace: ${ns} }
spec:
  selector: { app: x }
  ports: [{ port: 70000 }]`,
    'Job/planted/restart-always': `apiVersion: batch/v1
kind: Job
metadata: { name: restart-always, namespace: ${ns} }
spec:
  template:
    spec:
      restartPolicy: Always
      containers: [{ name: main, image: busybox }]`,
    'Service/planted/knative-unknown-field': `apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: knative-unknown-field, namespace: ${ns} }
spec:
  template:
    spec:
      containers:
        - image: dev.local/sluice/hello:0.1.0
          imagePullPolcy: Always`,
  };
  const fine = {
    // Knative does not require a container name (Serving defaults it): accepted, stood in, admitted.
    'Service/planted/knative-unnamed-container': `apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: knative-unnamed-container, namespace: ${ns} }
spec:
  template:
    spec:
      containers:
        - image: dev.local/sluice/hello:0.1.0
          resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { memory: 128Mi } }`,
    'Deployment/planted/within-quota': deployment(ns, 'within-quota', {
      container: '\n          resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { memory: 128Mi } }',
    }),
  };
  let report: ApiserverReport;

  beforeAll(async () => {
    const text = planted(ns, [...Object.values(cases), ...Object.values(fine)].join('\n---\n'));
    report = await checkOverlays(plane(), [{ name: 'planted', text }]);
  });

  it.each(Object.keys(cases))('rejects %s', (object) => {
    expect(report.rejected.map((r) => r.object)).toContain(object);
  });

  it('names the cause: the unknown field, the quota, the limits, the missing account and class', () => {
    const reason = (object: string) => report.rejected.find((r) => r.object === object)?.reason ?? '';
    expect(reason('Deployment/planted/unknown-field')).toMatch(/imagePullPolcy/);
    expect(reason('Deployment/planted/over-quota')).toMatch(/exceeded quota: sluice/);
    expect(reason('Deployment/planted/over-limit-range')).toMatch(
      /maximum memory usage per Container is 2Gi/,
    );
    expect(reason('Deployment/planted/missing-service-account')).toMatch(/service ?account/i);
    expect(reason('Deployment/planted/missing-priority-class')).toMatch(/urgent/);
    expect(reason('ConfigMap/planted/yaml-yes-label')).toMatch(/bool/);
  });

  it('accepts what only looks wrong, and the quota, limits and namespace around it', () => {
    for (const object of [...Object.keys(fine), 'Namespace/planted', 'ResourceQuota/planted/sluice'])
      expect(report.accepted).toContain(object);
  });
});

describe('teardown', () => {
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('ends etcd, kube-apiserver and kube-controller-manager by PID and removes the folder', async () => {
    const { pids, dir } = plane();
    expect(pids).toHaveLength(3);
    expect(pids.every(alive)).toBe(true);
    await plane().stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
