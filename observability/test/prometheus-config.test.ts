import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { K8S_PROMETHEUS_DIR, withoutKubernetesSd } from './prometheus-config.ts';

const REPO = join(import.meta.dirname, '..', '..');
interface Job {
  job_name: string;
  metrics_path?: string;
  kubernetes_sd_configs?: { role: string; namespaces?: { own_namespace?: boolean } }[];
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
  it('discovers pods of its own namespace only (a namespaced Role is enough)', () => {
    const sd = config.scrape_configs.flatMap((j) => j.kubernetes_sd_configs ?? []);
    expect(sd.length).toBeGreaterThanOrEqual(4);
    for (const s of sd) expect(s).toEqual({ role: 'pod', namespaces: { own_namespace: true } });
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
