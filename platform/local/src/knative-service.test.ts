import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  KnativeServiceError,
  loadKnativeService,
  loadKnativeServices,
  parseDuration,
  toServiceSpec,
} from './knative-service.ts';

const FUNCTIONS = resolve(import.meta.dirname, '../../../functions');

function manifest(extra: { annotations?: Record<string, string>; spec?: string; env?: string } = {}) {
  const annotations = Object.entries(extra.annotations ?? {})
    .map(([k, v]) => `        ${k}: "${v}"`)
    .join('\n');
  return parse(`
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
          env:
${extra.env ?? '            - {name: A, value: "1"}'}
`);
}

describe('knative-service', () => {
  describe('parseDuration', () => {
    it.each([
      ['30s', 30_000],
      ['1m', 60_000],
      ['250ms', 250],
      ['1.5h', 5_400_000],
      ['0s', 0],
      ['1m30s', 90_000], // time.ParseDuration mixes units; this reader refused it before it used the shared one
    ])('reads %s as %i ms', (text, ms) => {
      expect(parseDuration(text)).toBe(ms);
    });

    it.each(['30', 'thirty seconds', '-1s'])('rejects %s', (text) => {
      expect(parseDuration(text)).toBeUndefined();
    });
  });

  describe('loadKnativeService', () => {
    it('reads the hello manifest as the cluster would', async () => {
      const spec = await loadKnativeService(resolve(FUNCTIONS, 'demo/hello/service.yaml'));
      expect(spec.name).toBe('hello');
      expect(spec.namespace).toBe('sluice');
      expect(spec.functionDir).toBe(resolve(FUNCTIONS, 'demo/hello'));
      expect(spec.minScale).toBe(0);
      expect(spec.maxScale).toBe(3);
      expect(spec.target).toBe(50);
      expect(spec.targetUtilization).toBe(0.7);
      expect(spec.containerConcurrency).toBe(100);
      expect(spec.timeoutSeconds).toBe(30);
      expect(spec.retentionMs).toBe(30_000);
      expect(spec.env.HANDLER_TIMEOUT_SECONDS).toBe('25');
      expect(spec.visibility).toBe('cluster-local');
    });

    it('reads the gateway as the one public Service', async () => {
      const specs = await loadKnativeServices(FUNCTIONS);
      expect(specs.filter((s) => s.visibility === 'public').map((s) => s.name)).toEqual(['api-gateway']);
    });

    it('loads every function folder that has a service.yaml', async () => {
      const specs = await loadKnativeServices(FUNCTIONS);
      expect(specs.map((s) => s.name)).toContain('hello');
      expect(specs.map((s) => s.name)).not.toContain('runtime');
    });
  });

  describe('toServiceSpec', () => {
    it('caps the target at containerConcurrency, as the KPA does', () => {
      const spec = toServiceSpec(
        manifest({
          annotations: { 'autoscaling.knative.dev/target': '50' },
          spec: '      containerConcurrency: 4',
        }),
        'demo/service.yaml',
        'demo',
      );
      expect(spec.target).toBe(4);
      expect(spec.containerConcurrency).toBe(4);
    });

    it('uses Knative defaults when the manifest is silent', () => {
      const spec = toServiceSpec(manifest(), 'demo/service.yaml', 'demo');
      expect(spec).toMatchObject({ minScale: 0, maxScale: 0, target: 100, containerConcurrency: 0 });
      expect(spec.timeoutSeconds).toBe(300);
      expect(spec.retentionMs).toBeUndefined();
    });

    it('keeps plain values, lists required secret keys for make dev to generate, skips the rest', () => {
      const spec = toServiceSpec(
        manifest({
          env: [
            '            - {name: LOG_LEVEL, value: debug}',
            '            - name: ADMIN_KEY',
            '              valueFrom: {secretKeyRef: {name: admin, key: key}}',
            '            - name: MONGODB_URL',
            '              valueFrom: {secretKeyRef: {name: mongo, key: url, optional: true}}',
            '            - name: POD',
            '              valueFrom: {fieldRef: {fieldPath: metadata.name}}',
          ].join('\n'),
        }),
        'demo/service.yaml',
        'demo',
      );
      expect(spec.env).toEqual({ LOG_LEVEL: 'debug' });
      expect(spec.secretEnv).toEqual([{ env: 'ADMIN_KEY', secret: 'admin', key: 'key' }]);
      expect(spec.skippedEnv).toEqual(['MONGODB_URL', 'POD']);
    });

    it('names the file and every problem in one error', () => {
      const bad = manifest({
        annotations: {
          'autoscaling.knative.dev/min-scale': 'two',
          'autoscaling.knative.dev/window': 'soon',
        },
      });
      let caught: unknown;
      try {
        toServiceSpec(bad, 'functions/other/service.yaml', 'other');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(KnativeServiceError);
      const message = (caught as Error).message;
      expect(message).toMatch(/^functions\/other\/service\.yaml: /);
      expect(message).toContain('metadata.name "demo" must equal the function folder name "other"');
      expect(message).toContain('min-scale');
      expect(message).toContain('autoscaling.knative.dev/window');
    });

    it('reads networking.knative.dev/visibility: cluster-local, public when absent, nothing else', () => {
      const labelled = (value: string) => {
        const doc = manifest() as { metadata: { labels?: Record<string, string> } };
        doc.metadata.labels = { 'networking.knative.dev/visibility': value };
        return doc;
      };
      expect(toServiceSpec(manifest(), 'demo/service.yaml', 'demo').visibility).toBe('public');
      expect(toServiceSpec(labelled('cluster-local'), 'demo/service.yaml', 'demo').visibility).toBe(
        'cluster-local',
      );
      expect(() => toServiceSpec(labelled('private'), 'demo/service.yaml', 'demo')).toThrow(
        /networking\.knative\.dev\/visibility must be "cluster-local" or absent/,
      );
    });

    it('rejects a manifest that is not a Knative Service', () => {
      expect(() =>
        toServiceSpec({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'x/service.yaml', 'x'),
      ).toThrow(/x\/service\.yaml: expected apiVersion serving\.knative\.dev\/v1/);
    });

    it('rejects min-scale above max-scale', () => {
      const bad = manifest({
        annotations: { 'autoscaling.knative.dev/min-scale': '3', 'autoscaling.knative.dev/max-scale': '2' },
      });
      expect(() => toServiceSpec(bad, 'demo/service.yaml', 'demo')).toThrow(
        /min-scale \(3\) exceeds max-scale \(2\)/,
      );
    });
  });
});
