import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../manifests/index.ts';
import { parseManifest } from '../validate/manifest.ts';
import {
  knativeReplicas,
  knativeStandIn,
  queueProxyResources,
  rabbitmqStandIn,
  standInsFor,
} from './stand-ins.ts';

const ksvc = (annotations: string, container: string): KubeObject => {
  const [object] = parseManifest(`apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: hello, namespace: ns }
spec:
  template:
    metadata:
      annotations: {${annotations}}
    spec:
      serviceAccountName: runner
      containers:
        - ${container}
`);
  if (object === undefined) throw new Error('no object');
  return object;
};

describe('stand-ins', () => {
  describe('knativeReplicas', () => {
    it('is the start without a max-scale: the initial scale (1), or min-scale when higher', () => {
      expect(knativeReplicas({})).toBe(1);
      expect(knativeReplicas({ 'autoscaling.knative.dev/min-scale': '0' })).toBe(1);
      expect(knativeReplicas({ 'autoscaling.knative.dev/min-scale': '3' })).toBe(3);
      expect(knativeReplicas({ 'autoscaling.knative.dev/initial-scale': '2' })).toBe(2);
    });

    it('is max-scale when the revision has one: what the autoscaler may run', () => {
      expect(knativeReplicas({ 'autoscaling.knative.dev/max-scale': '5' })).toBe(5);
      expect(
        knativeReplicas({
          'autoscaling.knative.dev/min-scale': '0',
          'autoscaling.knative.dev/max-scale': '1',
        }),
      ).toBe(1);
    });
  });

  describe('queueProxyResources', () => {
    it('requests 25m CPU and nothing else with stock config-deployment', () => {
      expect(queueProxyResources({})).toEqual({ requests: { cpu: '25m' } });
    });

    it('takes the queue.sidecar annotations', () => {
      expect(
        queueProxyResources({
          'queue.sidecar.serving.knative.dev/memory-resource-request': '32Mi',
          'queue.sidecar.serving.knative.dev/memory-resource-limit': '64Mi',
        }),
      ).toEqual({ requests: { cpu: '25m', memory: '32Mi' }, limits: { memory: '64Mi' } });
    });
  });

  describe('knativeStandIn', () => {
    it('is the revision Deployment: user container (defaulted name) + queue-proxy, same service account', () => {
      const d = knativeStandIn(
        ksvc(
          'autoscaling.knative.dev/min-scale: "2"',
          'image: img\n          resources: { requests: { cpu: 50m } }',
        ),
      );
      expect(d).toMatchObject({
        kind: 'Deployment',
        metadata: { name: 'hello-00001-deployment', namespace: 'ns' },
        spec: {
          replicas: 2,
          template: {
            spec: {
              serviceAccountName: 'runner',
              containers: [
                { name: 'user-container', image: 'img', resources: { requests: { cpu: '50m' } } },
                { name: 'queue-proxy', resources: { requests: { cpu: '25m' } } },
              ],
            },
          },
        },
      });
    });
  });

  describe('rabbitmqStandIn', () => {
    it('is the operator StatefulSet: Parallel pods, setup-container, the persistence claim', () => {
      const [cluster] = parseManifest(`apiVersion: rabbitmq.com/v1beta1
kind: RabbitmqCluster
metadata: { name: rabbitmq, namespace: ns }
spec:
  replicas: 3
  resources: { requests: { cpu: 250m, memory: 512Mi }, limits: { memory: 1Gi } }
  persistence: { storage: 5Gi }
`);
      if (cluster === undefined) throw new Error('no object');
      expect(rabbitmqStandIn(cluster)).toMatchObject({
        kind: 'StatefulSet',
        metadata: { name: 'rabbitmq-server' },
        spec: {
          replicas: 3,
          podManagementPolicy: 'Parallel',
          template: {
            spec: {
              initContainers: [
                { name: 'setup-container', resources: { requests: { cpu: '20m', memory: '64Mi' } } },
              ],
              containers: [{ name: 'rabbitmq', resources: { requests: { cpu: '250m', memory: '512Mi' } } }],
            },
          },
          volumeClaimTemplates: [
            { metadata: { name: 'persistence' }, spec: { resources: { requests: { storage: '5Gi' } } } },
          ],
        },
      });
    });

    it('uses the CRD defaults when the cluster sets no resources or storage, and no claim for 0 storage', () => {
      const [cluster] = parseManifest(`apiVersion: rabbitmq.com/v1beta1
kind: RabbitmqCluster
metadata: { name: r, namespace: ns }
spec: { persistence: { storage: "0" } }
`);
      if (cluster === undefined) throw new Error('no object');
      const sts = rabbitmqStandIn(cluster) as unknown as { spec: Record<string, unknown> };
      expect(sts.spec.volumeClaimTemplates).toBeUndefined();
      expect(JSON.stringify(sts.spec.template)).toContain('"memory":"2Gi"');
    });
  });

  describe('eventingStandIns', () => {
    const objects = parseManifest(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: ns
  annotations: { eventing.knative.dev/broker.class: RabbitMQBroker }
spec:
  delivery: { deadLetterSink: { uri: http://sink } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t, namespace: ns }
spec:
  broker: default
  delivery: { deadLetterSink: { uri: http://sink } }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: small
  namespace: ns
  annotations: { rabbitmq.eventing.knative.dev/memory-limit: 128Mi }
spec:
  broker: default
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: elsewhere, namespace: ns }
spec:
  broker: mt-broker
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: busy, namespace: ns }
spec:
  broker: default
  delivery: { deadLetterSink: { uri: http://sink } }
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: busy, namespace: ns }
spec:
  scaleTargetRef: { name: busy-dispatcher }
  maxReplicaCount: 4
  triggers: [{ type: rabbitmq, metadata: { queueName: q, value: '10' } }]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: elsewhere, namespace: other }
spec:
  scaleTargetRef: { name: t-dispatcher }
  triggers: [{ type: rabbitmq, metadata: { queueName: q, value: '10' } }]
`);
    const replicas = (o: KubeObject | undefined) =>
      o ? standInsFor(o, objects).map((s) => (s.spec as unknown as { replicas: number }).replicas) : [];
    const names = (o: KubeObject | undefined) =>
      o ? standInsFor(o, objects).map((s) => s.metadata.name) : [];
    const resources = (o: KubeObject | undefined) =>
      o ? standInsFor(o, objects).map((s) => JSON.stringify(s.spec)) : [];

    it('runs a RabbitMQ Broker as an ingress and, with a dead-letter sink, a dead-letter dispatcher', () => {
      expect(names(objects[0])).toEqual(['default-broker-ingress', 'default-broker-dispatcher']);
      expect(resources(objects[0])[0]).toContain('"limits":{"cpu":"1000m","memory":"400Mi"}');
    });

    it('runs a dispatcher per Trigger of that Broker, a second one for its own dead-letter sink', () => {
      expect(names(objects[1])).toEqual(['t-dispatcher', 't-dlx-dispatcher']);
      expect(resources(objects[1])[0]).toContain('"limits":{"cpu":"4000m","memory":"600Mi"}');
    });

    it('lets the resource annotations replace the defaults', () => {
      expect(resources(objects[2])).toEqual([
        expect.stringContaining('"resources":{"requests":{},"limits":{"memory":"128Mi"}}'),
      ]);
    });

    it('runs nothing for a Trigger of another broker class', () => {
      expect(names(objects[3])).toEqual([]);
    });

    it('runs a dispatcher a ScaledObject scales at its maxReplicaCount, its dead-letter dispatcher at 1', () => {
      expect(names(objects[4])).toEqual(['busy-dispatcher', 'busy-dlx-dispatcher']);
      expect(replicas(objects[4])).toEqual([4, 1]);
    });

    it('ignores a ScaledObject of another namespace', () => {
      expect(replicas(objects[1])).toEqual([1, 1]);
    });
  });

  it('has none for kinds whose Pods the controllers here create themselves', () => {
    const [deployment] = parseManifest('apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\n');
    expect(deployment && standInsFor(deployment)).toEqual([]);
  });
});
