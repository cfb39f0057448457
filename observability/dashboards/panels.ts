// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} are Grafana variables, interpolated by Grafana, not JavaScript
/**
 * What the sluice dashboards build alike: the dashboard's frame, Prometheus queries, the time series panel
 * (legend as a table on the right with mean and max), the panels several systems show the same way (instances,
 * a function's processing time, events by outcome, requests at the gateway), and the way to the logs
 * (Elasticsearch logs panel, links to Grafana Explore and Kibana Discover).
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as es from '@grafana/grafana-foundation-sdk/elasticsearch';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { ELASTICSEARCH, KIBANA_DATA_VIEW_ID, LOG_TIME_FIELD, PROMETHEUS } from './datasources.ts';

/** A sluice dashboard: refreshed every 30 s, the last hour, in the browser's time zone. */
export function sluiceDashboard(
  title: string,
  uid: string,
  tags: string[],
  description: string,
): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .tags(tags)
    .description(description)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser');
}

export const prom = (expr: string, legend: string, refId = 'A'): prometheus.DataqueryBuilder =>
  new prometheus.DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend).refId(refId);

/** A half-width Prometheus time series panel, its legend a table on the right with mean and max. */
export function series(title: string, unit: string, description: string): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .unit(unit)
    .datasource(PROMETHEUS)
    .height(8)
    .span(12)
    .fillOpacity(10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .showLegend(true)
        .calcs(['mean', 'max']),
    );
}

/** Series stacked on one another (parts of one total). */
export const stacked = (): common.StackingConfigBuilder =>
  new common.StackingConfigBuilder().mode(common.StackingMode.Normal);

/** Function instances exporting metrics, per service (`selector`: the services' label matcher). */
export const instances = (title: string, description: string, selector: string): timeseries.PanelBuilder =>
  series(title, 'short', description)
    .withTarget(prom(`count by (service_name) (target_info{${selector}})`, '{{service_name}}'))
    .decimals(0);

/** faas.invoke_duration p50 and p95 of one function's successful events. */
export function processingTime(service: string, description: string): timeseries.PanelBuilder {
  const quantile = (q: string, legend: string, refId: string): prometheus.DataqueryBuilder =>
    prom(
      `histogram_quantile(${q}, sum by (le) (rate(faas_invoke_duration_seconds_bucket{service_name="${service}",outcome="success"}[$__rate_interval])))`,
      legend,
      refId,
    );
  return series(`${service} processing time (p50, p95)`, 's', description)
    .withTarget(quantile('0.5', 'p50', 'A'))
    .withTarget(quantile('0.95', 'p95', 'B'));
}

/** faas.invocations per function and outcome (`selector`: the functions' label matcher). */
export const eventsByOutcome = (selector: string, description: string): timeseries.PanelBuilder =>
  series('Events per function and outcome', 'reqps', description).withTarget(
    prom(
      `sum by (service_name, outcome) (rate(faas_invocations_total{${selector}}[$__rate_interval]))`,
      '{{service_name}} {{outcome}}',
    ),
  );

/** http.server.request.duration requests at the gateway, stacked, split by the labels `by`. */
export const gatewayRequests = (
  title: string,
  description: string,
  selector: string,
  by: string[],
): timeseries.PanelBuilder =>
  series(title, 'reqps', description)
    .withTarget(
      prom(
        `sum by (${by.join(', ')}) (rate(http_server_request_duration_seconds_count{${selector}}[$__rate_interval]))`,
        by.map((label) => `{{${label}}}`).join(' '),
      ),
    )
    .stacking(stacked());

/** The raw-logs "metric" of an Elasticsearch query; the SDK's LogsBuilder (v0.0.21) emits type "unknown". */
const LOGS_METRIC: { build(): es.MetricAggregation } = {
  build: () => ({ id: '1', type: 'logs' }) as es.MetricAggregation,
};

/** The functions' log lines from Elasticsearch matching a Lucene query, newest first. */
export function logLines(
  title: string,
  description: string,
  luceneQuery: string,
  height: number,
  span: number,
): logs.PanelBuilder {
  return new logs.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ELASTICSEARCH)
    .height(height)
    .span(span)
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .withTarget(
      new es.DataqueryBuilder()
        .datasource(ELASTICSEARCH)
        .refId('A')
        .timeField(LOG_TIME_FIELD)
        .query(luceneQuery)
        .metrics([LOGS_METRIC])
        .bucketAggs([]),
    );
}

/** Explore pane with the Elasticsearch logs of one service over the panel's time range. */
export function exploreLogsUrl(luceneQuery: string): string {
  const panes = {
    logs: {
      datasource: ELASTICSEARCH.uid,
      queries: [
        {
          refId: 'A',
          datasource: ELASTICSEARCH,
          query: luceneQuery,
          metrics: [{ id: '1', type: 'logs' }],
          bucketAggs: [],
          timeField: LOG_TIME_FIELD,
        },
      ],
      range: { from: '${__from}', to: '${__to}' },
    },
  };
  return `/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify(panes))
    .replaceAll('%24%7B', '${')
    .replaceAll('%7D', '}')}`;
}

/** Kibana Discover on the sluice-logs data view, same KQL and time range. */
export function kibanaDiscoverUrl(kql: string): string {
  return (
    "${kibana_url}/app/discover#/?_g=(time:(from:'${__from:date:iso}',to:'${__to:date:iso}'))" +
    `&_a=(dataSource:(dataViewId:'${KIBANA_DATA_VIEW_ID}',type:dataView),query:(language:kuery,query:'${kql}'))`
  );
}

/** A per-service series' links to the logs of its service (narrowed by the extra Lucene / KQL) over the panel's time range. */
export function logLinks(extraLucene = '', extraKql = ''): dashboard.DashboardLinkBuilder[] {
  const svc = '${__field.labels.service_name}';
  return [
    new dashboard.DashboardLinkBuilder('Logs of ${__field.labels.service_name} (Grafana Explore)')
      .url(exploreLogsUrl(`service.name:"${svc}"${extraLucene}`))
      .targetBlank(true),
    new dashboard.DashboardLinkBuilder('Logs of ${__field.labels.service_name} (Kibana)')
      .url(kibanaDiscoverUrl(`service.name:"${svc}"${extraKql}`))
      .targetBlank(true),
  ];
}
