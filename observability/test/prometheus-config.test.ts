import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { K8S_PROMETHEUS_DIR, withoutKubernetesSd } from './prometheus-config.ts';

const REPO = join(import.meta.dirname, '..', '..');
/** What prometheus.yml says where the app namespace goes (written by the Deployment's init container). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal placeholder, not a template
const PLACEHOLDER = '${APP_NAMESPACE}';
interface Job {
  job_name: string;
  metrics_path?: string;
  kubernetes_sd_configs?: {
    role: string;
    namespaces?: { own_namespace?: boolean; names?: string[] };
  }[];
  relabel_configs?: { source_labels?: string[]; regex?: string; action?: string }[];
}
const config = parse(readFileSync(join(K8S_PROMETHEUS_DIR, 'prometheus.yml'), 'utf8'), { merge: true }) as {
  scrape_configs: Job[];
};
const job = (name: string): Job => {
  const j = config.scrape_configs.find((x) => x.job_name === name);
  if (j === undefined) throw new Error(`no job ${name}`);
  return j;
};

describe('cluster prometheus.yml', () => {
  it('discovers pods of its own namespace and the app namespace only (namespaced Roles are enough)', () => {
    const sd = config.scrape_configs.flatMap((j) =>
      (j.kubernetes_sd_configs ?? []).map((s) => [j.job_name, s] as const),
    );
    expect(sd.length).toBeGreaterThanOrEqual(4);
    for (const [name, s] of sd)
      expect(s, name).toEqual(
        name === 'sluice-functions'
          ? { role: 'pod', namespaces: { names: [PLACEHOLDER] } }
          : { role: 'pod', namespaces: { own_namespace: true } },
      );
  });

  it('gets the app namespace written by its init container, from the env the overlay sets', () => {
    const docs = parseAllDocuments(
      readFileSync(join(K8S_PROMETHEUS_DIR, 'prometheus-deployment.yaml'), 'utf8'),
    ).map((d) => d.toJSON());
    const deployment = docs.find((d) => d.kind === 'Deployment');
    const init = deployment.spec.template.spec.initContainers[0];
    expect(init.env).toEqual([{ name: 'APP_NAMESPACE', value: 'sluice' }]);
    const script = init.command.at(-1) as string;
    // What the shell runs, on a copy of the config: the one placeholder replaced, nothing else touched.
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-render-'));
    try {
      mkdirSync(join(dir, 'template'));
      mkdirSync(join(dir, 'out'));
      copyFileSync(join(K8S_PROMETHEUS_DIR, 'prometheus.yml'), join(dir, 'template', 'prometheus.yml'));
      copyFileSync(join(K8S_PROMETHEUS_DIR, 'sluice.rules.yml'), join(dir, 'template', 'sluice.rules.yml'));
      const run = spawnSync(
        '/bin/sh',
        [
          '-c',
          script
            .replaceAll('/etc/prometheus-template', join(dir, 'template'))
            .replaceAll('/etc/prometheus/', `${join(dir, 'out')}/`),
        ],
        { env: { APP_NAMESPACE: 'sluice-qualification', PATH: process.env.PATH ?? '' }, encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      const rendered = readFileSync(join(dir, 'out', 'prometheus.yml'), 'utf8');
      expect(rendered).not.toContain('APP_NAMESPACE');
      expect(rendered).toBe(
        readFileSync(join(K8S_PROMETHEUS_DIR, 'prometheus.yml'), 'utf8').replaceAll(
          PLACEHOLDER,
          'sluice-qualification',
        ),
      );
      expect(readFileSync(join(dir, 'out', 'sluice.rules.yml'), 'utf8')).toContain('groups:');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scrapes the functions the way the deploy patch annotates them', () => {
    const patch = parse(
      readFileSync(join(REPO, 'platform/k3s/kustomize/base/patches/function-metrics.yaml'), 'utf8'),
    );
    const annotations = patch.spec.template.metadata.annotations as Record<string, string>;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    const relabel = job('sluice-functions').relabel_configs ?? [];
    const keepScrape = relabel.find(
      (r) => r.source_labels?.[0] === '__meta_kubernetes_pod_annotation_prometheus_io_scrape',
    );
    expect(keepScrape).toMatchObject({ regex: 'true', action: 'keep' });
    expect(
      relabel.some((r) => r.source_labels?.includes('__meta_kubernetes_pod_annotation_prometheus_io_port')),
    ).toBe(true);
    expect(
      relabel.some((r) => r.source_labels?.includes('__meta_kubernetes_pod_annotation_prometheus_io_path')),
    ).toBe(true);
  });

  it('scrapes Fluent Bit on 2020, RabbitMQ on 15692 (aggregated and per queue) and the MongoDB exporter', () => {
    expect(job('fluent-bit').metrics_path).toBe('/api/v2/metrics/prometheus');
    expect(job('fluent-bit').relabel_configs?.[0]?.regex).toBe('fluent-bit;2020');
    expect(job('rabbitmq').relabel_configs?.[0]?.regex).toBe('rabbitmq;15692');
    expect(job('rabbitmq-queues').metrics_path).toBe('/metrics/detailed');
    expect(JSON.stringify(job('mongodb'))).toContain('mongodb-exporter:9216');
  });

  it('turns every kubernetes_sd block into a static target for Debian promtool, and only those', () => {
    const { config: text, replaced } = withoutKubernetesSd(
      readFileSync(join(K8S_PROMETHEUS_DIR, 'prometheus.yml'), 'utf8'),
    );
    expect(replaced).toEqual(['sluice-functions', 'fluent-bit', 'rabbitmq', 'rabbitmq-queues']);
    expect(text).not.toContain('kubernetes_sd_configs');
    expect(text).toContain('__meta_kubernetes_pod_annotation_prometheus_io_scrape');
  });
});

describe('alert rules', () => {
  const rules = parse(readFileSync(join(K8S_PROMETHEUS_DIR, 'sluice.rules.yml'), 'utf8')) as {
    groups: { rules: { alert?: string; labels?: { severity?: string } }[] }[];
  };
  const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
  const tests = readFileSync(join(K8S_PROMETHEUS_DIR, 'sluice.rules.test.yml'), 'utf8');

  it('covers what the pipeline needs, each alert with a severity and a promtool unit test', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'SluiceFunctionErrorRate',
        'SluiceDeadLetterRate',
        'SluiceQueueDepthGrowing',
        'SluiceProcessingLatencyHigh',
        'SluiceFunctionNotScalingFromZero',
        'SluiceHighCpu',
      ]),
    );
    for (const a of alerts) {
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(tests, a.alert).toContain(`alertname: ${a.alert}`);
    }
  });

  it('routes every alert to the webhook receiver, and the ones a person must see by mail too', () => {
    const am = parse(
      readFileSync(join(K8S_PROMETHEUS_DIR, '..', 'alertmanager', 'alertmanager.yml'), 'utf8'),
    );
    expect(am.route.receiver).toBe('webhook');
    expect(am.receivers).toEqual([
      expect.objectContaining({
        name: 'oncall-email',
        email_configs: [expect.objectContaining({ send_resolved: true })],
      }),
      expect.objectContaining({
        name: 'webhook',
        webhook_configs: [expect.objectContaining({ send_resolved: true })],
      }),
    ]);
    const mailed = am.route.routes.find((r: { receiver: string }) => r.receiver === 'oncall-email');
    expect(mailed.continue).toBe(true);
    const rules = parse(readFileSync(join(K8S_PROMETHEUS_DIR, 'sluice.rules.yml'), 'utf8')) as {
      groups: { rules: { alert?: string }[] }[];
    };
    const alerts = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)));
    for (const name of [
      'SluiceHttpErrorRate',
      'SluiceHighCpu',
      'SluiceHighMemory',
      'SluiceRateLimitedPersistently',
    ]) {
      expect(alerts.has(name), name).toBe(true);
      expect(mailed.matchers[0]).toContain(name);
    }
  });
});
