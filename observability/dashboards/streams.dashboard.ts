/**
 * The streams system (docs/streams.md): readings decided per second and how many came late, windows made final,
 * the aggregator's processing time, and the two levels of scaling — the readings trigger's queue depth and
 * dispatcher replicas (KEDA, by queue length) and the functions' instances (Knative, by concurrency) — plus the
 * results API as the gateway serves it.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  eventsByOutcome,
  gatewayRequests,
  instances,
  processingTime,
  prom,
  series,
  sluiceDashboard,
  stacked,
} from './panels.ts';

export const UID = 'sluice-streams';
const FUNCTIONS = 'service_name=~"window-aggregator|window-closer|results-api"';
/** The readings trigger's queue: `t.<namespace>.window-aggregator-readings.<uid>` on the cluster. */
const READINGS_QUEUE = 'queue=~"t\\\\..*window-aggregator-readings.*"';

export function streamsDashboard(): dashboard.DashboardBuilder {
  return sluiceDashboard(
    'sluice — streams',
    UID,
    ['sluice', 'streams'],
    'Sensor readings into event-time windows: readings/s and late share, windows closed, processing time, queue depth, dispatcher replicas and instances, the results API.',
  )
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
        .stacking(stacked()),
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
      processingTime(
        'window-aggregator',
        'faas.invoke_duration of successful readings: unique inserts and _id lookups in the store.',
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
      instances(
        'Instances per function',
        'Function instances exporting metrics: the Knative autoscaler adds them on concurrent requests (0 = scaled to zero).',
        FUNCTIONS,
      ),
    )
    .withPanel(
      eventsByOutcome(
        FUNCTIONS,
        'success, replayed (a redelivery), invalid/rejected (dead-letter sink), transient/error (retried).',
      ),
    )
    .withRow(new dashboard.RowBuilder('Results API (/api/streams at the gateway)'))
    .withPanel(
      gatewayRequests(
        'Requests by status',
        'http.server.request.duration at the gateway for /api/streams.',
        'http_route="/api/streams"',
        ['http_response_status_code'],
      ),
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
