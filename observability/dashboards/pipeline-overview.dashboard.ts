// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} are Grafana variables, interpolated by Grafana, not JavaScript
/**
 * Pipeline overview: one row per question an operator asks during an incident — is traffic flowing, how
 * slow, what fails, are instances starting, is the broker backing up, what went to the dead-letter sink —
 * and, at the bottom, the log lines of the events behind it. Every time series links to the matching
 * logs (same service, same time range) in Grafana Explore and in Kibana Discover.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import { KIBANA_URL_DEFAULT, PROMETHEUS } from './datasources.ts';
import { kibanaDiscoverUrl, logLines, logLinks, prom, series, sluiceDashboard, stacked } from './panels.ts';

export const UID = 'sluice-pipeline-overview';
const SERVICE = 'service_name=~"$service"';

export function pipelineOverview(): dashboard.DashboardBuilder {
  return sluiceDashboard(
    'sluice — pipeline overview',
    UID,
    ['sluice', 'faas'],
    'Events through the sluice functions: rate, latency, errors, cold starts, broker, dead letters, logs.',
  )
    .withVariable(
      new dashboard.QueryVariableBuilder('service')
        .label('Function')
        .datasource(PROMETHEUS)
        .query('label_values(target_info{job="sluice-functions"}, service_name)')
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withVariable(
      new dashboard.TextBoxVariableBuilder('trace_id')
        .label('trace.id')
        .description(
          "Filter the logs panel by trace id (from a log line or a reply's traceparent); * for all",
        )
        .defaultValue('*'),
    )
    .withVariable(
      new dashboard.TextBoxVariableBuilder('event_id')
        .label('event.id')
        .description('Filter the logs panel by CloudEvent id; * for all')
        .defaultValue('*'),
    )
    .withVariable(
      new dashboard.ConstantVariableBuilder('kibana_url')
        .label('Kibana URL')
        .description('Where browsers reach Kibana (kubectl port-forward svc/kibana 5601 by default)')
        .value(KIBANA_URL_DEFAULT),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Kibana: sluice logs')
        .type(dashboard.DashboardLinkType.Link)
        .url(kibanaDiscoverUrl('*'))
        .targetBlank(true),
    )
    .withRow(new dashboard.RowBuilder('Traffic'))
    .withPanel(
      series(
        'Events/s per step',
        'reqps',
        'CloudEvents received by each function, all outcomes. Click a series for its logs.',
      )
        .withTarget(
          prom(
            `sum by (service_name) (rate(faas_invocations_total{${SERVICE}}[$__rate_interval]))`,
            '{{service_name}}',
          ),
        )
        .dataLinks(logLinks()),
    )
    .withPanel(
      series(
        'Outcomes',
        'reqps',
        'success, replayed (idempotent redelivery), invalid/rejected (→ dead-letter sink), transient/error (→ retried).',
      )
        .withTarget(
          prom(
            `sum by (service_name, outcome) (rate(faas_invocations_total{${SERVICE}}[$__rate_interval]))`,
            '{{service_name}} {{outcome}}',
          ),
        )
        .stacking(stacked())
        .dataLinks(
          logLinks(
            ' AND sluice.outcome:"${__field.labels.outcome}"',
            ' and sluice.outcome:"${__field.labels.outcome}"',
          ),
        ),
    )
    .withRow(new dashboard.RowBuilder('Latency'))
    .withPanel(
      series(
        'Processing time p50 / p95 / p99',
        's',
        'faas.invoke_duration of successful events: request body to answer, handler and idempotency record included.',
      )
        .withTarget(
          prom(
            `histogram_quantile(0.5, sum by (service_name, le) (rate(faas_invoke_duration_seconds_bucket{${SERVICE},outcome="success"}[$__rate_interval])))`,
            '{{service_name}} p50',
            'A',
          ),
        )
        .withTarget(
          prom(
            `histogram_quantile(0.95, sum by (service_name, le) (rate(faas_invoke_duration_seconds_bucket{${SERVICE},outcome="success"}[$__rate_interval])))`,
            '{{service_name}} p95',
            'B',
          ),
        )
        .withTarget(
          prom(
            `histogram_quantile(0.99, sum by (service_name, le) (rate(faas_invoke_duration_seconds_bucket{${SERVICE},outcome="success"}[$__rate_interval])))`,
            '{{service_name}} p99',
            'C',
          ),
        )
        .dataLinks(logLinks()),
    )
    .withPanel(
      series(
        'HTTP request duration p95',
        's',
        'http.server.request.duration by status code, as the broker sees the function.',
      )
        .withTarget(
          prom(
            `histogram_quantile(0.95, sum by (service_name, http_response_status_code, le) (rate(http_server_request_duration_seconds_bucket{${SERVICE}}[$__rate_interval])))`,
            '{{service_name}} {{http_response_status_code}}',
          ),
        )
        .dataLinks(logLinks()),
    )
    .withRow(new dashboard.RowBuilder('Errors'))
    .withPanel(
      series(
        'Errors by reason',
        'reqps',
        'faas.errors by error.type: handler exceptions and transient failures are retried; invalid/rejected go to the dead-letter sink.',
      )
        .withTarget(
          prom(
            `sum by (service_name, outcome, error_type) (rate(faas_errors_total{${SERVICE}}[$__rate_interval]))`,
            '{{service_name}} {{outcome}} {{error_type}}',
          ),
        )
        .dataLinks(logLinks(' AND event.outcome:"failure"', ' and event.outcome:"failure"')),
    )
    .withPanel(
      series(
        'Replays and replies',
        'reqps',
        'Redeliveries answered from the idempotency record, and reply events handed back to the broker.',
      )
        .withTarget(
          prom(
            `sum by (service_name) (rate(sluice_events_replayed_total{${SERVICE}}[$__rate_interval]))`,
            '{{service_name}} replayed',
            'A',
          ),
        )
        .withTarget(
          prom(
            `sum by (service_name) (rate(sluice_replies_emitted_total{${SERVICE}}[$__rate_interval]))`,
            '{{service_name}} replies',
            'B',
          ),
        )
        .dataLinks(logLinks()),
    )
    .withRow(new dashboard.RowBuilder('Scaling'))
    .withPanel(
      series(
        'Instances per service',
        'short',
        'Function instances Prometheus scrapes (0 = scaled to zero: the series stops).',
      )
        .withTarget(
          prom(
            `count by (service_name) (target_info{job="sluice-functions",${SERVICE}})`,
            '{{service_name}}',
          ),
        )
        .span(8)
        .dataLinks(logLinks()),
    )
    .withPanel(
      series('Cold starts', 'short', 'Instances that became ready (faas.coldstarts) in each interval.')
        .withTarget(
          prom(
            `sum by (service_name) (increase(faas_coldstarts_total{${SERVICE}}[$__rate_interval]))`,
            '{{service_name}}',
          ),
        )
        .span(8)
        .dataLinks(logLinks(' AND event.action:"start"', ' and event.action:"start"')),
    )
    .withPanel(
      series(
        'Cold start duration p95',
        's',
        'faas.init_duration: process start until ready (store reachable, init() done).',
      )
        .withTarget(
          prom(
            `histogram_quantile(0.95, sum by (service_name, le) (rate(faas_init_duration_seconds_bucket{${SERVICE}}[$__rate_interval])))`,
            '{{service_name}}',
          ),
        )
        .span(8)
        .dataLinks(logLinks(' AND event.action:"start"', ' and event.action:"start"')),
    )
    .withRow(new dashboard.RowBuilder('Broker and dead letters'))
    .withPanel(
      series(
        'Queue depth (RabbitMQ)',
        'short',
        'Messages ready and unacknowledged per queue (trigger queues are t.<namespace>.<trigger>…).',
      )
        .withTarget(prom('sum by (queue) (rabbitmq_detailed_queue_messages_ready)', '{{queue}} ready', 'A'))
        .withTarget(
          prom('sum by (queue) (rabbitmq_detailed_queue_messages_unacked)', '{{queue}} unacked', 'B'),
        ),
    )
    .withPanel(
      series(
        'Dead letters',
        'reqps',
        'Rejections by reason (answered 4xx, sent straight to the dead-letter sink) and what the dead-letter sink receives.',
      )
        .withTarget(
          prom(
            `sum by (service_name, error_type) (rate(sluice_events_rejected_total{${SERVICE}}[$__rate_interval]))`,
            '{{service_name}} {{error_type}}',
            'A',
          ),
        )
        .withTarget(
          prom(
            'sum by (service_name) (rate(faas_invocations_total{service_name="dead-letter-sink"}[$__rate_interval]))',
            'received by the dead-letter sink',
            'B',
          ),
        )
        .dataLinks(
          logLinks(' AND sluice.outcome:(invalid OR rejected)', ' and sluice.outcome:(invalid or rejected)'),
        ),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Dead-lettered in range')
        .datasource(PROMETHEUS)
        .unit('short')
        .height(4)
        .span(6)
        .withTarget(prom(`sum(increase(sluice_events_rejected_total{${SERVICE}}[$__range]))`, 'rejected')),
    )
    .withPanel(
      new stat.PanelBuilder()
        .title('Error ratio in range')
        .datasource(PROMETHEUS)
        .unit('percentunit')
        .height(4)
        .span(6)
        .withTarget(
          prom(
            `sum(increase(faas_errors_total{${SERVICE},outcome=~"error|transient"}[$__range])) / sum(increase(faas_invocations_total{${SERVICE}}[$__range]))`,
            'errors',
          ),
        ),
    )
    .withRow(new dashboard.RowBuilder('Logs of the events'))
    .withPanel(
      logLines(
        'Event log lines (filter: trace.id = $trace_id, event.id = $event_id)',
        'The runtime writes one ECS line per event outcome; set trace.id or event.id above to follow one event through every step.',
        'service.name:${service:lucene} AND trace.id:${trace_id} AND event.id:${event_id}',
        12,
        24,
      ),
    );
}
