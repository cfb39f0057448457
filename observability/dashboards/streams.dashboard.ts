/**
 * The streams system (docs/streams.md): readings decided per second and how many came late, windows made final,
 * the aggregator's processing time, and the two levels of scaling — the readings trigger's queue depth and
 * dispatcher replicas (KEDA, by queue length) and the functions' instances (Knative, by concurrency) — plus the
 * results API as the gateway serves it.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { PROMETHEUS } from './datasources.ts';

export const UID = 'sluice-streams';
const FUNCTIONS = 'service_name=~"window-aggregator|window-closer|results-api"';
/** The readings trigger's queue: `t.<namespace>.window-aggregator-readings.<uid>` on the cluster. */
const READINGS_QUEUE = 'queue=~"t\\\\..*window-aggregator-readings.*"';

const prom = (expr: string, legend: string, refId = 'A'): prometheus.DataqueryBuilder =>
  new prometheus.DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend).refId(refId);

function series(title: string, unit: string, description: string): timeseries.PanelBuilder {
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

export function streamsDashboard(): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder('sluice — streams')
    .uid(UID)
    .tags(['sluice', 'streams'])
    .description(
      'Sensor readings into event-time windows: readings/s and late share, windows closed, processing time, queue depth, dispatcher replicas and instances, the results API.',
    )
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .withRow(new dashboard.RowBuilder('Readings and windows'))
    .withPanel(
      series(
        'Readings decided per second',
        'reqps',
        'window-aggregator: on-time (counted in their window) and late (kept apart, answered reading.late).',
      )
        .withTarget(
          prom(
            'sum by (streams_outcome) (rate(streams_readings_total[$__rate_interval]))',
            '{{streams_outcome}}',
          ),
        )
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
    )
    .withPanel(
      series(
        'Late share',
        'percentunit',
        'Late readings over all readings decided: how often the watermark (max event time − allowed lateness) was passed.',
      ).withTarget(
        prom(
          'sum(rate(streams_readings_total{streams_outcome="late"}[$__rate_interval])) / sum(rate(streams_readings_total[$__rate_interval]))',
          'late',
        ),
      ),
    )
    .withPanel(
      series(
        'Windows made final per minute',
        'short',
        'window-closer: windows the watermark passed, published as window.closed (one per sensor and window).',
      ).withTarget(prom('sum(increase(streams_windows_closed_total[1m]))', 'windows')),
    )
    .withPanel(
      series(
        'window-aggregator processing time (p50, p95)',
        's',
        'faas.invoke_duration of successful readings: unique inserts and _id lookups in the store.',
      )
        .withTarget(
          prom(
            'histogram_quantile(0.5, sum by (le) (rate(faas_invoke_duration_seconds_bucket{service_name="window-aggregator",outcome="success"}[$__rate_interval])))',
            'p50',
          ),
        )
        .withTarget(
          prom(
            'histogram_quantile(0.95, sum by (le) (rate(faas_invoke_duration_seconds_bucket{service_name="window-aggregator",outcome="success"}[$__rate_interval])))',
            'p95',
            'B',
          ),
        ),
    )
    .withRow(new dashboard.RowBuilder('Scaling: queue depth (KEDA) and concurrency (Knative)'))
    .withPanel(
      series(
        'Queue depth of the readings trigger',
        'short',
        "Messages ready and unacknowledged in window-aggregator-readings' queue: what KEDA scales the dispatcher on (10 per replica).",
      )
        .withTarget(prom(`sum(rabbitmq_detailed_queue_messages_ready{${READINGS_QUEUE}})`, 'ready'))
        .withTarget(prom(`sum(rabbitmq_detailed_queue_messages_unacked{${READINGS_QUEUE}})`, 'unacked', 'B')),
    )
    .withPanel(
      series(
        'Dispatcher replicas (make dev)',
        'short',
        "The local broker's KEDA: replicas of the readings trigger's dispatcher, and the depth it last read (GET <broker>/metrics).",
      )
        .withTarget(
          prom(
            'max by (trigger) (sluice_dispatcher_replicas{trigger="window-aggregator-readings"})',
            'replicas',
          ),
        )
        .withTarget(
          prom(
            'max by (trigger) (sluice_dispatcher_queue_depth{trigger="window-aggregator-readings"})',
            'queue depth',
            'B',
          ),
        )
        .decimals(0),
    )
    .withPanel(
      series(
        'Instances per function',
        'short',
        'Function instances exporting metrics: the Knative autoscaler adds them on concurrent requests (0 = scaled to zero).',
      )
        .withTarget(prom(`count by (service_name) (target_info{${FUNCTIONS}})`, '{{service_name}}'))
        .decimals(0),
    )
    .withPanel(
      series(
        'Events per function and outcome',
        'reqps',
        'success, replayed (a redelivery), invalid/rejected (dead-letter sink), transient/error (retried).',
      ).withTarget(
        prom(
          `sum by (service_name, outcome) (rate(faas_invocations_total{${FUNCTIONS}}[$__rate_interval]))`,
          '{{service_name}} {{outcome}}',
        ),
      ),
    )
    .withRow(new dashboard.RowBuilder('Results API (/api/streams at the gateway)'))
    .withPanel(
      series('Requests by status', 'reqps', 'http.server.request.duration at the gateway for /api/streams.')
        .withTarget(
          prom(
            'sum by (http_response_status_code) (rate(http_server_request_duration_seconds_count{http_route="/api/streams"}[$__rate_interval]))',
            '{{http_response_status_code}}',
          ),
        )
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)),
    )
    .withPanel(
      series('Response time p95', 's', 'At the gateway, results-api behind it included.').withTarget(
        prom(
          'histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{http_route="/api/streams"}[$__rate_interval])))',
          'p95',
        ),
      ),
    );
}
