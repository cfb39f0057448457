// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} are Grafana variables, interpolated by Grafana, not JavaScript
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS, OUT_DIR, render } from '../dashboards/build.ts';
import { ELASTICSEARCH, KIBANA_DATA_VIEW_ID, PROMETHEUS } from '../dashboards/datasources.ts';

const K8S = join(import.meta.dirname, '..', 'k8s');
const provisioning = parse(
  readFileSync(join(K8S, 'grafana', 'provisioning', 'datasources.yaml'), 'utf8'),
) as {
  datasources: {
    uid: string;
    type: string;
    correlations?: { targetUID: string; config: { field: string } }[];
  }[];
};
const provisioned = new Map(provisioning.datasources.map((d) => [d.uid, d.type]));

function datasourceRefs(
  v: unknown,
  out: { uid: string; type?: string }[] = [],
): { uid: string; type?: string }[] {
  if (Array.isArray(v)) for (const x of v) datasourceRefs(x, out);
  else if (typeof v === 'object' && v !== null) {
    const ds = (v as { datasource?: unknown }).datasource;
    if (typeof ds === 'object' && ds !== null && typeof (ds as { uid?: unknown }).uid === 'string')
      out.push(ds as { uid: string; type?: string });
    for (const x of Object.values(v)) datasourceRefs(x, out);
  }
  return out;
}

describe('dashboard quotes', () => {
  const panels = (
    JSON.parse(render('quotes')) as { panels: { title?: string; targets?: { expr: string }[] }[] }
  ).panels;
  it('shows what the quotes issue asks for, each from the metric that measures it', () => {
    const expr = (title: string): string =>
      (panels.find((p) => p.title === title)?.targets ?? []).map((t) => t.expr).join('\n');
    expect(expr('API response time (p50, p95)')).toContain('http_server_request_duration_seconds_bucket');
    expect(expr('Running instances per service')).toContain('target_info');
    expect(expr('CPU per service')).toContain('process_cpu_time_seconds_total');
    expect(expr('Memory per instance')).toContain('process_memory_usage_bytes');
    expect(expr('Requests per service')).toContain('http_route');
    expect(expr('429s per key')).toContain('sum by (user_id) (rate(sluice_gateway_rate_limited_total');
  });
});

describe('dashboard streams', () => {
  const panels = (
    JSON.parse(render('streams')) as { panels: { title?: string; targets?: { expr: string }[] }[] }
  ).panels;
  it('shows readings, lateness, windows and both scaling levels, each from the metric that measures it', () => {
    const expr = (title: string): string =>
      (panels.find((p) => p.title === title)?.targets ?? []).map((t) => t.expr).join('\n');
    expect(expr('Readings decided per second')).toContain(
      'sum by (streams_outcome) (rate(streams_readings_total',
    );
    expect(expr('Late share')).toContain('streams_outcome="late"');
    expect(expr('Windows made final per minute')).toContain('streams_windows_closed_total');
    expect(expr('Queue depth of the readings trigger')).toContain('rabbitmq_detailed_queue_messages_ready');
    expect(expr('Dispatcher replicas (make dev)')).toContain('sluice_dispatcher_replicas');
    expect(expr('Instances per function')).toContain('target_info');
    expect(expr('Requests by status')).toContain('http_route="/api/streams"');
  });
});

describe('dashboard fleet', () => {
  const built = JSON.parse(render('fleet')) as {
    panels: {
      type?: string;
      title?: string;
      gridPos?: { x: number; y: number; w: number };
      links?: { url: string }[];
      fieldConfig?: { defaults?: { links?: { url: string }[] } };
      targets?: { expr?: string; query?: string; datasource?: { uid: string } }[];
    }[];
  };
  const panels = built.panels;
  const expr = (title: string): string =>
    (panels.find((p) => p.title === title)?.targets ?? []).map((t) => t.expr).join('\n');
  it('shows positions/s, tracker lag, rejected positions by reason and active vehicles, each from its metric', () => {
    expect(expr('Positions received per second')).toContain('rate(fleet_positions_total');
    expect(expr('Tracker lag (p50, p99)')).toContain(
      'histogram_quantile(0.99, sum by (le) (rate(fleet_tracker_lag_seconds_bucket',
    );
    expect(expr('Rejected positions by reason')).toContain(
      'sum by (fleet_reason) (rate(fleet_positions_rejected_total',
    );
    expect(expr('Active vehicles')).toContain('fleet_vehicles_active');
  });
  it('puts an Elasticsearch logs panel beside the error rate, on the same row, and links the errors to their logs', () => {
    const errors = panels.find((p) => p.title === 'Error rate per function');
    const lines = panels.find((p) => p.type === 'logs');
    expect(lines?.targets?.[0]?.datasource?.uid).toBe(ELASTICSEARCH.uid);
    expect(lines?.targets?.[0]?.query).toContain('service.name:("position-tracker"');
    expect(lines?.gridPos?.y).toBe(errors?.gridPos?.y);
    expect(lines?.gridPos?.x).toBe((errors?.gridPos?.x ?? 0) + (errors?.gridPos?.w ?? 0));
    const links = [...(errors?.links ?? []), ...(errors?.fieldConfig?.defaults?.links ?? [])].map(
      (l) => l.url,
    );
    expect(links.some((u) => u.startsWith('/explore') && u.includes(ELASTICSEARCH.uid))).toBe(true);
    expect(provisioned.get(ELASTICSEARCH.uid)).toBe('elasticsearch');
  });
});

describe('dashboard orders', () => {
  const panels = (
    JSON.parse(render('orders')) as { panels: { title?: string; targets?: { expr: string }[] }[] }
  ).panels;
  it("shows orders accepted and billed, billing's queue and paused state, each from the metric that measures it", () => {
    const expr = (title: string): string =>
      (panels.find((p) => p.title === title)?.targets ?? []).map((t) => t.expr).join('\n');
    expect(expr('Orders placed at the gateway, by status')).toContain('http_route="/api/billing"');
    expect(expr('Orders billed per second')).toContain('orders_billed_total');
    expect(expr("Billing's queue")).toContain('sluice_trigger_queue_depth{trigger="billing"}');
    expect(expr("Billing's queue")).toContain('rabbitmq_detailed_queue_messages_ready');
    expect(expr('Billing paused')).toContain('sluice_trigger_paused');
    expect(expr('Movies: requests by status')).toContain('http_route="/api/movies"');
  });
});

describe.each(Object.keys(DASHBOARDS))('dashboard %s', (name) => {
  const json = render(name);
  const dashboard = JSON.parse(json) as {
    uid: string;
    panels: { type: string; title?: string; fieldConfig?: { defaults?: { links?: { url: string }[] } } }[];
  };

  it('builds, and the checked-in JSON is what the TypeScript builds (make dashboards)', () => {
    expect(dashboard.uid).toMatch(/^sluice-/);
    expect(readFileSync(join(OUT_DIR, `${name}.json`), 'utf8')).toBe(json);
  });

  it('references only provisioned datasource uids, with their types', () => {
    const refs = datasourceRefs(dashboard);
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) {
      expect(provisioned.has(ref.uid), ref.uid).toBe(true);
      if (ref.type !== undefined) expect(provisioned.get(ref.uid)).toBe(ref.type);
    }
  });
});

describe.each(['pipeline-overview'])('dashboard %s (logs)', (name) => {
  const dashboard = JSON.parse(render(name)) as {
    panels: { type: string; title?: string; fieldConfig?: { defaults?: { links?: { url: string }[] } } }[];
  };

  it('links every time series panel to the logs of the same service and time range', () => {
    const series = dashboard.panels.filter((p) => p.type === 'timeseries' && !p.title?.startsWith('Queue'));
    expect(series.length).toBeGreaterThan(5);
    for (const p of series) {
      const urls = (p.fieldConfig?.defaults?.links ?? []).map((l) => l.url);
      expect(
        urls.some((u) => u.startsWith('/explore') && u.includes(ELASTICSEARCH.uid)),
        p.title,
      ).toBe(true);
      expect(
        urls.some((u) => u.includes(`dataViewId:'${KIBANA_DATA_VIEW_ID}'`)),
        p.title,
      ).toBe(true);
      for (const u of urls) {
        expect(u).toContain('${__field.labels.service_name}');
        expect(u).toMatch(/\$\{__from(:date:iso)?\}/);
        expect(u).toMatch(/\$\{__to(:date:iso)?\}/);
      }
    }
  });

  it('has a logs panel filtered by trace.id and event.id', () => {
    const logsPanel = dashboard.panels.find((p) => p.type === 'logs') as unknown as {
      targets: { query: string; datasource: { uid: string } }[];
    };
    expect(logsPanel.targets[0]?.datasource.uid).toBe(ELASTICSEARCH.uid);
    expect(logsPanel.targets[0]?.query).toMatch(/trace\.id:\$\{trace_id\}.*event\.id:\$\{event_id\}/);
  });
});

describe('grafana provisioning', () => {
  it('provisions the datasources the dashboards name', () => {
    expect(provisioned.get(PROMETHEUS.uid)).toBe('prometheus');
    expect(provisioned.get(ELASTICSEARCH.uid)).toBe('elasticsearch');
  });

  it('correlates metrics and logs both ways, targeting provisioned datasources', () => {
    const pairs = provisioning.datasources.flatMap((d) =>
      (d.correlations ?? []).map((c) => {
        expect(provisioned.has(c.targetUID), c.targetUID).toBe(true);
        return `${d.uid}->${c.targetUID}:${c.config.field}`;
      }),
    );
    expect(pairs).toEqual(
      expect.arrayContaining([
        'prometheus->elasticsearch-logs:service_name',
        'elasticsearch-logs->prometheus:service.name',
        'elasticsearch-logs->elasticsearch-logs:event.id',
      ]),
    );
  });
});
