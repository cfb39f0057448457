/**
 * The quotes system behind the gateway: how fast and how often each service answers, how many instances
 * run and what they use, and who hits the rate limit. Routes are the gateway's `http.route` (one per
 * service: /users, /quotes, /search); instances and resources come from each function's own /metrics.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { gatewayRequests, instances, prom, series, sluiceDashboard } from './panels.ts';

export const UID = 'sluice-quotes';
const ROUTES = 'http_route=~"/users|/quotes|/search"';
const SERVICES = 'service_name=~"users|quotes|search|api-gateway"';

export function quotesDashboard(): dashboard.DashboardBuilder {
  return sluiceDashboard(
    'sluice — quotes',
    UID,
    ['sluice', 'quotes'],
    'users, quotes and search behind api-gateway: response time, requests, instances, CPU, memory, 429s per key.',
  )
    .withRow(new dashboard.RowBuilder('API (through api-gateway)'))
    .withPanel(
      series('API response time (p50, p95)', 's', 'http.server.request.duration at the gateway, per route.')
        .withTarget(
          prom(
            `histogram_quantile(0.95, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{${ROUTES}}[$__rate_interval])))`,
            'p95 {{http_route}}',
          ),
        )
        .withTarget(
          prom(
            `histogram_quantile(0.5, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{${ROUTES}}[$__rate_interval])))`,
            'p50 {{http_route}}',
            'B',
          ),
        ),
    )
    .withPanel(
      gatewayRequests(
        'Requests per service',
        'Requests per route and status code (429 = rate limited, 401/403 = keys).',
        ROUTES,
        ['http_route', 'http_response_status_code'],
      ),
    )
    .withPanel(
      series(
        '429s per key',
        'reqps',
        'Requests refused by the token bucket, per API key (principal).',
      ).withTarget(
        prom('sum by (user_id) (rate(sluice_gateway_rate_limited_total[$__rate_interval]))', '{{user_id}}'),
      ),
    )
    .withRow(new dashboard.RowBuilder('Instances and resources'))
    .withPanel(
      instances(
        'Running instances per service',
        'Instances exporting metrics (Knative scales them, to zero too).',
        SERVICES,
      ),
    )
    .withPanel(
      series(
        'CPU per service',
        'percentunit',
        'process.cpu.time rate: cores used, summed over instances.',
      ).withTarget(
        prom(
          `sum by (service_name) (rate(process_cpu_time_seconds_total{${SERVICES}}[$__rate_interval]))`,
          '{{service_name}}',
        ),
      ),
    )
    .withPanel(
      series(
        'Memory per instance',
        'bytes',
        'process.memory.usage (resident); the mail alert fires above 200 MiB.',
      ).withTarget(
        prom(
          `max by (service_name, pod) (process_memory_usage_bytes{${SERVICES}})`,
          '{{service_name}} {{pod}}',
        ),
      ),
    );
}
