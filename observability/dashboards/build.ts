/**
 * Writes every observability/dashboards/<name>.dashboard.ts as Grafana JSON into
 * observability/k8s/grafana/generated/<name>.json, which Grafana's file provider loads (checked in, so a
 * deploy needs no Node; a test fails when the checked-in JSON is stale).
 *
 *   node observability/dashboards/build.ts          # write
 *   node observability/dashboards/build.ts --check  # exit 1 when a file differs
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { fleetDashboard } from './fleet.dashboard.ts';
import { ordersDashboard } from './orders.dashboard.ts';
import { pipelineOverview } from './pipeline-overview.dashboard.ts';
import { quotesDashboard } from './quotes.dashboard.ts';
import { streamsDashboard } from './streams.dashboard.ts';

export const OUT_DIR = join(import.meta.dirname, '..', 'k8s', 'grafana', 'generated');

export const DASHBOARDS: Readonly<Record<string, () => { build(): Dashboard }>> = {
  fleet: fleetDashboard,
  orders: ordersDashboard,
  'pipeline-overview': pipelineOverview,
  quotes: quotesDashboard,
  streams: streamsDashboard,
};

export function render(name: string): string {
  const make = DASHBOARDS[name];
  if (make === undefined) throw new Error(`no dashboard ${name}`);
  return `${JSON.stringify(make().build(), null, 2)}\n`;
}

async function main(check: boolean): Promise<number> {
  let stale = 0;
  for (const name of Object.keys(DASHBOARDS)) {
    const file = join(OUT_DIR, `${name}.json`);
    const json = render(name);
    if (check) {
      const current = await readFile(file, 'utf8').catch(() => '');
      if (current !== json) {
        console.error(`${file} is stale: run node observability/dashboards/build.ts`);
        stale++;
      }
    } else {
      await writeFile(file, json);
      console.log(file);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (import.meta.main) process.exitCode = await main(process.argv.includes('--check'));
