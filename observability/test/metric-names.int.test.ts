import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { waitFor } from '../../functions/runtime/test/support.ts';
import { DASHBOARDS, render } from '../dashboards/build.ts';
import {
  driveOutcomes,
  type LiveFunction,
  promtool,
  scrape,
  seriesNames,
  startHello,
} from './live-function.ts';
import { metricNames } from './promql.ts';

const K8S = join(import.meta.dirname, '..', 'k8s');

/**
 * Series the runtime cannot show here: the exporters' (RabbitMQ per-object endpoint, Fluent Bit, Go exporters'
 * process metrics) and Prometheus' own `up`. Names from their documentation; everything else must come
 * from the live exposition.
 */
const EXTERNAL = new Set([
  'up',
  'rabbitmq_detailed_queue_messages_ready',
  'rabbitmq_detailed_queue_messages_unacked',
  'fluentbit_output_retries_failed_total',
  'process_cpu_seconds_total',
  // api-gateway's token-bucket hook: read from a live gateway's exposition in
  // functions/platform/api-gateway/hooks/rate-limit.int.test.ts.
  'sluice_gateway_rate_limited_total',
  // The streams functions' own counters: read from window-aggregator's and window-closer's live expositions in
  // functions/streams/streams.int.test.ts; the local broker's KEDA series from its GET /metrics in
  // eventing/src/queue-scaler.int.test.ts.
  'streams_readings_total',
  'streams_windows_closed_total',
  'sluice_dispatcher_replicas',
  'sluice_dispatcher_queue_depth',
  // billing's counter: read from its live exposition in functions/orders/orders.int.test.ts; the local broker's
  // trigger series from its GET /metrics in eventing/src/broker.contract.ts (both backends).
  'orders_billed_total',
  'sluice_trigger_queue_depth',
  'sluice_trigger_paused',
  // position-tracker's own series: read from its live exposition in functions/fleet/fleet.int.test.ts (the
  // rejected and trips counters appear with their first rejection and trip: unit-tested in the handler's tests).
  'fleet_positions_total',
  'fleet_positions_rejected_total',
  'fleet_tracker_lag_seconds_bucket',
  'fleet_vehicles_active',
  'fleet_trips_total',
]);

interface PromTarget {
  expr?: string;
  datasource?: { uid?: string };
}

function promQueries(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      const t = v as PromTarget;
      if (typeof t.expr === 'string' && t.datasource?.uid === 'prometheus') out.push(t.expr);
      Object.values(v).forEach(walk);
    }
  };
  walk(dashboard);
  return out;
}

/** Grafana's template variables replaced by values promtool accepts. */
function concrete(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?[a-z_]+\}?/g, '.*');
}

describe('metric names in dashboards and alert rules', () => {
  let fn: LiveFunction;
  let exported: Set<string>;
  const rules = parse(readFileSync(join(K8S, 'prometheus', 'sluice.rules.yml'), 'utf8')) as {
    groups: { rules: { record?: string; alert?: string; expr: string }[] }[];
  };
  const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => r.record ?? [])));

  beforeAll(async () => {
    fn = await startHello();
    await driveOutcomes(fn.url);
    await waitFor('the cold start in the exposition', async () =>
      (await scrape(fn.url)).text.includes('faas_coldstarts_total{'),
    );
    exported = seriesNames((await scrape(fn.url)).text);
  });
  afterAll(async () => {
    await fn?.stop();
  });

  const known = (name: string): boolean => exported.has(name) || EXTERNAL.has(name) || recorded.has(name);

  it.each(Object.keys(DASHBOARDS))(
    'dashboard %s uses only series the runtime or the exporters export',
    (name) => {
      const queries = promQueries(JSON.parse(render(name)));
      expect(queries.length).toBeGreaterThan(5);
      const unknown = queries.flatMap((q) =>
        [...metricNames(q)].filter((n) => !known(n)).map((n) => `${n} in ${q}`),
      );
      expect(unknown).toEqual([]);
    },
  );

  it.each(Object.keys(DASHBOARDS))('dashboard %s queries are valid PromQL (promtool check rules)', (name) => {
    const queries = promQueries(JSON.parse(render(name)));
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dash-'));
    const file = join(dir, 'queries.rules.yml');
    const asRules = {
      groups: [
        { name, rules: queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: concrete(q) })) },
      ],
    };
    writeFileSync(file, JSON.stringify(asRules));
    const r = promtool(['check', 'rules', file]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.output).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('alert and recording rules use only exported series', () => {
    const unknown = rules.groups.flatMap((g) =>
      g.rules.flatMap((r) =>
        [...metricNames(r.expr)].filter((n) => !known(n)).map((n) => `${n} in ${r.alert ?? r.record}`),
      ),
    );
    expect(unknown).toEqual([]);
  });

  it('the Grafana correlation from logs to metrics queries an exported series', () => {
    const ds = parse(readFileSync(join(K8S, 'grafana', 'provisioning', 'datasources.yaml'), 'utf8')) as {
      datasources: { correlations?: { config: { target: { expr?: string } } }[] }[];
    };
    const exprs = ds.datasources
      .flatMap((d) => d.correlations ?? [])
      .flatMap((c) => c.config.target.expr ?? []);
    expect(exprs.length).toBeGreaterThan(0);
    for (const e of exprs) for (const n of metricNames(e)) expect(known(n), n).toBe(true);
  });
});
