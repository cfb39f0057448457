import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readText } from './testing/read.ts';

const REPO = resolve(import.meta.dirname, '../..');

function service(
  extra: { annotations?: Record<string, string>; spec?: string; env?: string; container?: string } = {},
) {
  const annotations = Object.entries(extra.annotations ?? {})
    .map(([k, v]) => `        ${k}: "${v}"`)
    .join('\n');
  return `
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: demo
  namespace: sluice
spec:
  template:
    metadata:
      annotations:
${annotations || '        x: "y"'}
    spec:
${extra.spec ?? ''}
      containers:
        - image: x
${extra.container ?? ''}
          env:
${extra.env ?? '            - {name: A, value: "1"}'}
`;
}

describe('knative-service', () => {
  it('reads the hello manifest of the repository as the cluster would', () => {
    const file = 'functions/demo/hello/service.yaml';
    const { set, problems } = readText(readFileSync(resolve(REPO, file), 'utf8'), file);
    expect(problems).toEqual([]);
    const [s] = set.services;
    expect(s).toMatchObject({
      name: 'hello',
      namespace: 'sluice',
      file,
      minScale: 0,
      maxScale: 3,
      target: 50,
      targetUtilization: 0.7,
      containerConcurrency: 100,
      timeoutSeconds: 30,
      retentionMs: 30_000,
      visibility: 'cluster-local',
    });
    expect(s?.containers[0]?.env).toContainEqual({ name: 'HANDLER_TIMEOUT_SECONDS', value: '25' });
    expect(s?.containers[0]?.memoryLimitBytes).toBe(256 * 2 ** 20);
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('reads the container memory limit as a quantity, and says when it is not one', () => {
    const limit = (memory: string) =>
      readText(service({ container: `          resources: {limits: {memory: ${memory}}}` }));
    expect(limit('512Mi').set.services[0]?.containers[0]?.memoryLimitBytes).toBe(512 * 2 ** 20);
    expect(limit('1G').set.services[0]?.containers[0]?.memoryLimitBytes).toBe(1e9);
    expect(readText(service()).set.services[0]?.containers[0]?.memoryLimitBytes).toBeUndefined();
    expect(limit('lots').problems.join('\n')).toMatch(/resources\.limits\.memory.*quantity/);
  });

  it('reads visibility as the networking webhook allows it: cluster-local, or public when absent', () => {
    expect(readText(service()).set.services[0]?.visibility).toBe('public');
    const labelled = (value: string) =>
      readText(
        service().replace(
          '  namespace: sluice\n',
          `  namespace: sluice\n  labels: {networking.knative.dev/visibility: ${value}}\n`,
        ),
      );
    expect(labelled('cluster-local').set.services[0]?.visibility).toBe('cluster-local');
    expect(labelled('private').problems.join('\n')).toContain(
      'label networking.knative.dev/visibility must be "cluster-local" or absent (public)',
    );
  });

  it('applies Serving and the KPA defaults where the manifest is silent', () => {
    const { set, problems } = readText(service());
    expect(problems).toEqual([]);
    expect(set.services[0]).toMatchObject({
      minScale: 0,
      maxScale: 0,
      target: 100,
      targetUtilization: 0.7,
      containerConcurrency: 0,
      timeoutSeconds: 300,
      retentionMs: undefined,
    });
    // RevisionSpec.SetDefaults names an unnamed container; the port defaults to 8080.
    expect(set.services[0]?.containers[0]).toMatchObject({ name: 'user-container', port: 8080 });
  });

  it('reads timeoutSeconds 0 as the default, as SetDefaults does', () => {
    expect(readText(service({ spec: '      timeoutSeconds: 0' })).set.services[0]?.timeoutSeconds).toBe(300);
  });

  it('caps the target at containerConcurrency, as the KPA does', () => {
    const { set } = readText(
      service({
        annotations: { 'autoscaling.knative.dev/target': '50' },
        spec: '      containerConcurrency: 4',
      }),
    );
    expect(set.services[0]).toMatchObject({ target: 4, containerConcurrency: 4 });
  });

  it('types env entries: plain values, and references only the cluster resolves', () => {
    const { set } = readText(
      service({
        env: [
          '            - {name: LOG_LEVEL, value: debug}',
          '            - name: MONGODB_URL',
          '              valueFrom: {secretKeyRef: {name: mongo, key: url}}',
        ].join('\n'),
        container: '          envFrom: [{secretRef: {name: sluice-function-env}}]',
      }),
    );
    expect(set.services[0]?.containers[0]?.env).toEqual([
      { name: 'LOG_LEVEL', value: 'debug' },
      {
        name: 'MONGODB_URL',
        valueFrom: 'secretKeyRef',
        secretKeyRef: { name: 'mongo', key: 'url', optional: false },
      },
    ]);
    expect(set.services[0]?.containers[0]?.envFrom).toEqual([
      { kind: 'secretRef', name: 'sluice-function-env' },
    ]);
  });

  it.each([
    [
      { 'autoscaling.knative.dev/min-scale': 'two' },
      'annotation autoscaling.knative.dev/min-scale must be an integer',
    ],
    [
      { 'autoscaling.knative.dev/window': 'soon' },
      'annotation autoscaling.knative.dev/window must be a duration',
    ],
    [
      { 'autoscaling.knative.dev/window': '2s' },
      'annotation autoscaling.knative.dev/window must be from 6s to 3600s',
    ],
    [{ 'autoscaling.knative.dev/window': '6500ms' }, 'at most second precision'],
    [
      { 'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '-1s' },
      'scale-to-zero-pod-retention-period',
    ],
    [
      { 'autoscaling.knative.dev/target': '0' },
      'annotation autoscaling.knative.dev/target must be a number ≥ 0.01',
    ],
    [{ 'autoscaling.knative.dev/target-utilization-percentage': '101' }, 'from 1 to 100'],
    [
      { 'autoscaling.knative.dev/min-scale': '3', 'autoscaling.knative.dev/max-scale': '2' },
      'min-scale (3) exceeds max-scale (2)',
    ],
  ])('refuses %j, naming the file, the object and the field', (annotations, message) => {
    const { problems } = readText(service({ annotations }), 'functions/x/demo/service.yaml');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^functions\/x\/demo\/service\.yaml: Service demo: /);
    expect(problems[0]).toContain(message);
  });

  it.each([
    [
      '      containerConcurrency: 1001',
      'spec.template.spec.containerConcurrency must be an integer 0..1000',
    ],
    ['      timeoutSeconds: 601', 'spec.template.spec.timeoutSeconds must be an integer 0..600'],
    ['      timeoutSeconds: "30"', 'spec.template.spec.timeoutSeconds must be an integer'],
  ])('refuses %s', (spec, message) => {
    expect(readText(service({ spec })).problems.join('\n')).toContain(message);
  });

  it('refuses an env value that is not a string', () => {
    expect(readText(service({ env: '            - {name: N, value: 3}' })).problems.join('\n')).toContain(
      'spec.template.spec.containers[0].env[0].value of N must be a string',
    );
  });
});
