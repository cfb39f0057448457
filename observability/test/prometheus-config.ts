/**
 * Debian's promtool (2.42) is built without Kubernetes service discovery, so `promtool check config` rejects
 * the cluster config at `kubernetes_sd_configs`. This writes a copy in which each kubernetes_sd_configs block
 * becomes a static target — everything else (relabelling regexes, params, rule files, alerting) is checked
 * as written — and runs promtool on it. The SD blocks themselves are checked by prometheus-config.test.ts.
 *
 *   node observability/test/prometheus-config.ts   # exit status of promtool check config
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

export const K8S_PROMETHEUS_DIR = join(import.meta.dirname, '..', 'k8s', 'prometheus');

interface ScrapeConfig {
  job_name: string;
  kubernetes_sd_configs?: unknown[];
  static_configs?: { targets: string[] }[];
  [key: string]: unknown;
}

/** The cluster config with kubernetes_sd_configs replaced by a static placeholder target. */
export function withoutKubernetesSd(text: string): { config: string; replaced: string[] } {
  const config = parse(text, { merge: true }) as { scrape_configs: ScrapeConfig[] };
  const replaced: string[] = [];
  for (const job of config.scrape_configs) {
    if (job.kubernetes_sd_configs === undefined) continue;
    delete job.kubernetes_sd_configs;
    job.static_configs = [{ targets: ['kubernetes-sd.invalid:80'] }];
    replaced.push(job.job_name);
  }
  return { config: stringify(config, { aliasDuplicateObjects: false }), replaced };
}

export function checkClusterConfig(outDir: string): { status: number | null; output: string } {
  mkdirSync(outDir, { recursive: true });
  const { config } = withoutKubernetesSd(readFileSync(join(K8S_PROMETHEUS_DIR, 'prometheus.yml'), 'utf8'));
  writeFileSync(join(outDir, 'prometheus.yml'), config);
  copyFileSync(join(K8S_PROMETHEUS_DIR, 'sluice.rules.yml'), join(outDir, 'sluice.rules.yml'));
  const r = spawnSync(
    process.env.PROMTOOL ?? 'promtool',
    ['check', 'config', join(outDir, 'prometheus.yml')],
    {
      encoding: 'utf8',
    },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

if (import.meta.main) {
  const r = checkClusterConfig(join(import.meta.dirname, '..', '..', '.tmp', 'observability', 'prometheus'));
  process.stdout.write(r.output);
  process.exitCode = r.status ?? 1;
}
