// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} are Grafana variables, interpolated by Grafana, not JavaScript
/**
 * The fleet system (docs/fleet.md): positions received per second, the tracker's lag (processing time − fix time),
 * rejected positions by reason, active vehicles, trips; the error rate of the fleet's functions with the
 * Elasticsearch log lines of the same services beside it — a spike and the lines behind it in one row, each series
 * linked to its service's logs in Explore and Kibana — and vehicles-api and the page as the gateway serves them.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as es from '@grafana/grafana-foundation-sdk/elasticsearch';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { ELASTICSEARCH, LOG_TIME_FIELD, PROMETHEUS } from './datasources.ts';
import { exploreLogsUrl, kibanaDiscoverUrl } from './pipeline-overview.dashboard.ts';

export const UID = 'sluice-fleet';
const FUNCTIONS = 'service_name=~"position-tracker|vehicles-api|fleet-web"';
const ROUTES = 'http_route=~"/api/vehicles.*|/fleet"';
/** The raw-logs "metric" of an Elasticsearch query (as pipeline-overview: the SDK's LogsBuilder emits "unknown"). */
const LOGS_METRIC: { build(): es.MetricAggregation } = {
  build: () => ({ id: '1', type: 'logs' }) as es.MetricAggregation,
};

const prom = (expr: string, legend: string, refId = 'A'): prometheus.DataqueryBuilder =>
  new prometheus.DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend).refId(refId);

function series(title: string, unit: string, description: string, span = 12): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .unit(unit)
    .datasource(PROMETHEUS)
    .height(8)
    .span(span)
    .fillOpacity(10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .showLegend(true)
        .calcs(['mean', 'max']),
    );
}

/** A series' links to the logs of its service over the panel's time range. */
const logLinks = (): dashboard.DashboardLinkBuilder[] => {
  const svc = '${__field.labels.service_name}';
  return [
    new dashboard.DashboardLinkBuilder('Logs of ${__field.labels.service_name} (Grafana Explore)')
      .url(exploreLogsUrl(`service.name:"${svc}"`))
      .targetBlank(true),
    new dashboard.DashboardLinkBuilder('Logs of ${__field.labels.service_name} (Kibana)')
      .url(kibanaDiscoverUrl(`service.name:"${svc}"`))
      .targetBlank(true),
  ];
};

export function fleetDashboard(): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder('sluice — fleet')
    .uid(UID)
    .tags(['sluice', 'fleet'])
    .description(
      'Vehicles’ GPS fixes through position-tracker: positions/s, tracker lag, rejected positions, active vehicles, trips; errors with their log lines; the vehicles API and the page.',
    )
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .withRow(new dashboard.RowBuilder('Positions'))
    .withPanel(
      series(
        'Positions received per second',
        'reqps',
        'position-tracker, by what became of each fix: accepted, jitter (parked noise), rejected (kept, not believed), duplicate (already in history).',
      )
        .withTarget(
          prom('sum by (fleet_outcome) (rate(fleet_positions_total[$__rate_interval]))', '{{fleet_outcome}}'),
        )
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
    )
    .withPanel(
      series(
        'Tracker lag (p50, p99)',
        's',
        'Processing time − the device’s fix time: how far behind the live position is (includes the device’s own delay and late fixes).',
      )
        .withTarget(
          prom(
            'histogram_quantile(0.5, sum by (le) (rate(fleet_tracker_lag_seconds_bucket[$__rate_interval])))',
            'p50',
          ),
        )
        .withTarget(
          prom(
            'histogram_quantile(0.99, sum by (le) (rate(fleet_tracker_lag_seconds_bucket[$__rate_interval])))',
            'p99',
            'B',
          ),
        ),
    )
    .withPanel(
      series(
        'Rejected positions by reason',
        'reqps',
        'Fixes kept in history but not believed (implausible-speed: more than FLEET_MAX_SPEED_KMH from the last accepted fix).',
      ).withTarget(
        prom(
          'sum by (fleet_reason) (rate(fleet_positions_rejected_total[$__rate_interval]))',
          '{{fleet_reason}}',
        ),
      ),
    )
    .withPanel(
      series(
        'Active vehicles',
        'short',
        'Vehicles heard from within FLEET_OFFLINE_AFTER, as the busiest tracker instance saw them (one instance under the reference quota).',
      )
        .withTarget(prom('max(fleet_vehicles_active)', 'active'))
        .decimals(0),
    )
    .withPanel(
      series('Trips per minute', 'short', 'trip.started and trip.ended published to the broker.').withTarget(
        prom('sum by (fleet_trip_transition) (increase(fleet_trips_total[1m]))', '{{fleet_trip_transition}}'),
      ),
    )
    .withPanel(
      series(
        'position-tracker processing time (p50, p95)',
        's',
        'faas.invoke_duration of successful fixes: a few _id reads and writes, and the vehicle’s lease.',
      )
        .withTarget(
          prom(
            'histogram_quantile(0.5, sum by (le) (rate(faas_invoke_duration_seconds_bucket{service_name="position-tracker",outcome="success"}[$__rate_interval])))',
            'p50',
          ),
        )
        .withTarget(
          prom(
            'histogram_quantile(0.95, sum by (le) (rate(faas_invoke_duration_seconds_bucket{service_name="position-tracker",outcome="success"}[$__rate_interval])))',
            'p95',
            'B',
          ),
        ),
    )
    .withRow(new dashboard.RowBuilder('Errors and their log lines'))
    .withPanel(
      series(
        'Error rate per function',
        'reqps',
        'faas.errors of the fleet’s functions (transient ones are retried: a busy vehicle, the store away) and 5xx at the gateway. Click a series for its logs.',
      )
        .withTarget(
          prom(
            `sum by (service_name, error_type) (rate(faas_errors_total{${FUNCTIONS}}[$__rate_interval]))`,
            '{{service_name}} {{error_type}}',
          ),
        )
        .withTarget(
          prom(
            `sum by (service_name) (rate(http_server_request_duration_seconds_count{${ROUTES},http_response_status_code=~"5.."}[$__rate_interval]))`,
            '{{service_name}} 5xx at the gateway',
            'B',
          ),
        )
        .links(logLinks()),
    )
    .withPanel(
      new logs.PanelBuilder()
        .title('Error and warning log lines of the fleet’s functions')
        .description(
          'ECS lines from Elasticsearch, same time range as the error rate beside: a spike there, its lines here (trace.id and event.id on each).',
        )
        .datasource(ELASTICSEARCH)
        .height(8)
        .span(12)
        .showTime(true)
        .wrapLogMessage(true)
        .enableLogDetails(true)
        .sortOrder(common.LogsSortOrder.Descending)
        .withTarget(
          new es.DataqueryBuilder()
            .datasource(ELASTICSEARCH)
            .refId('A')
            .timeField(LOG_TIME_FIELD)
            .query(
              'service.name:("position-tracker" OR "vehicles-api" OR "fleet-web") AND log.level:("error" OR "warn")',
            )
            .metrics([LOGS_METRIC])
            .bucketAggs([]),
        ),
    )
    .withRow(new dashboard.RowBuilder('vehicles-api and the page (at the gateway)'))
    .withPanel(
      series(
        'Requests by status',
        'reqps',
        'http.server.request.duration at the gateway for /api/vehicles and /fleet.',
      )
        .withTarget(
          prom(
            `sum by (http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{${ROUTES}}[$__rate_interval]))`,
            '{{http_route}} {{http_response_status_code}}',
          ),
        )
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
    )
    .withPanel(
      series(
        'Instances per function',
        'short',
        'Function instances exporting metrics: 0 = scaled to zero; an open live stream keeps vehicles-api at 1 at least.',
      )
        .withTarget(prom(`count by (service_name) (target_info{${FUNCTIONS}})`, '{{service_name}}'))
        .decimals(0),
    );
}
