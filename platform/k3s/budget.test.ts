import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  budget,
  budgetTables,
  containerResources,
  limitRangeDefaults,
  overQuota,
  podResources,
} from './validate/budget.ts';
import { type KubeObject, parseManifest } from './validate/manifest.ts';
import { overlayNames, renderOverlay } from './validate/project.ts';

const Mi = 2 ** 20;
const limitRange = {
  apiVersion: 'v1',
  kind: 'LimitRange',
  metadata: { name: 'l', namespace: 'n' },
  spec: {
    limits: [
      {
        type: 'Container',
        defaultRequest: { cpu: '10m', memory: '32Mi' },
        default: { cpu: '100m', memory: '128Mi' },
      },
    ],
  },
} as unknown as KubeObject;

describe('pod resources as the quota counts them', () => {
  const defaults = limitRangeDefaults(limitRange);

  it('gives a container without a request its limit, and the LimitRange what is still unset', () => {
    expect(containerResources({ resources: { limits: { cpu: '50m' } } }, defaults)).toEqual({
      cpuRequest: 50,
      cpuLimit: 50,
      memoryRequest: 32 * Mi,
      memoryLimit: 128 * Mi,
    });
    expect(containerResources({}, defaults)).toEqual({
      cpuRequest: 10,
      cpuLimit: 100,
      memoryRequest: 32 * Mi,
      memoryLimit: 128 * Mi,
    });
  });

  it('adds the containers and takes the largest init container where it is larger', () => {
    const spec = {
      initContainers: [{ resources: { requests: { cpu: '300m' }, limits: { cpu: '300m', memory: '16Mi' } } }],
      containers: [
        { resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '120m', memory: '192Mi' } } },
        { resources: { requests: { cpu: '10m', memory: '24Mi' }, limits: { cpu: '30m', memory: '64Mi' } } },
      ],
    };
    expect(podResources(spec, defaults)).toEqual({
      cpuRequest: 300,
      cpuLimit: 300,
      memoryRequest: 88 * Mi,
      memoryLimit: 256 * Mi,
    });
  });
});

describe('the budget of each overlay', { timeout: 60_000 }, () => {
  it('fits each namespace of each overlay in its quota, every system counted', () => {
    for (const name of overlayNames()) {
      const budgets = budget(parseManifest(renderOverlay(name), name));
      expect(budgets.map((b) => b.namespace)).toHaveLength(2);
      expect(overQuota(budgets), name).toEqual([]);
      const app = budgets[0];
      const rows = new Set(app?.rows.map((r) => r.name));
      for (const system of ['banking', 'quotes', 'streams', 'demo', 'platform'])
        expect(rows.has(system)).toBe(true);
      expect(app?.total.instances).toBeGreaterThanOrEqual(14);
      expect(budgetTables(budgets)).toContain('| headroom |');
    }
    // Two kustomize renders: seconds on a loaded machine; the deadline only bounds a hang.
  }, 60_000);

  it('reports what does not fit: a function raised to max-scale 40', () => {
    const objects = parseManifest(renderOverlay('qualification'), 'qualification');
    const hello = objects.find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'hello',
    ) as KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } };
    hello.spec.template.metadata.annotations['autoscaling.knative.dev/max-scale'] = '40';
    const over = overQuota(budget(parseManifest(objects.map((o) => stringify(o)).join('---\n'), 'planted')));
    expect(over.map((o) => o.split(' ').slice(0, 2).join(' '))).toEqual(
      expect.arrayContaining(['sluice-qualification: limits.cpu', 'sluice-qualification: pods']),
    );
  }, 60_000);
});
