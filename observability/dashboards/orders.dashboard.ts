/**
 * The orders system (docs/orders.md): orders accepted at the gateway and billed, billing's queue (what the drill
 * holds while billing is paused), billing's outcomes (transient = its store down, retried), the functions'
 * instances, and the inventory and order APIs as the gateway serves them.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { eventsByOutcome, gatewayRequests, instances, prom, series, sluiceDashboard } from './panels.ts';

export const UID = 'sluice-orders';
const FUNCTIONS = 'service_name=~"inventory|orders-api|billing"';
/** billing's Trigger queue: `<namespace>.billing.<trigger uid>` on the cluster (eventing-rabbitmq's name). */
const BILLING_QUEUE = 'queue=~".*\\\\.billing\\\\..*"';

const route = (prefix: string): string => `http_route="${prefix}"`;

export function ordersDashboard(): dashboard.DashboardBuilder {
  return sluiceDashboard(
    'sluice — orders',
    UID,
    ['sluice', 'orders'],
    "Orders accepted at the gateway and billed, billing's queue and paused state, billing's outcomes, instances, the inventory and order APIs.",
  )
    .withRow(new dashboard.RowBuilder('Orders'))
    .withPanel(
      gatewayRequests(
        'Orders placed at the gateway, by status',
        'POST/GET /api/billing at the gateway: 202 accepted (queued), 400/415/422 refused before anything was queued, 503/504 the broker or store unavailable.',
        route('/api/billing'),
        ['http_request_method', 'http_response_status_code'],
      ),
    )
    .withPanel(
      series(
        'Orders billed per second',
        'reqps',
        'billing: orders written with their invoice number (a replayed redelivery is not counted again).',
      ).withTarget(prom('sum(rate(orders_billed_total[$__rate_interval]))', 'billed')),
    )
    .withPanel(
      series(
        "Billing's queue",
        'short',
        "Orders waiting for billing: the depth of its Trigger's queue (make dev: the broker's /metrics; cluster: RabbitMQ's per-queue metrics). It grows while billing is paused or down, and drains after.",
      )
        .withTarget(prom('max(sluice_trigger_queue_depth{trigger="billing"})', 'queue depth (make dev)'))
        .withTarget(
          prom(`sum(rabbitmq_detailed_queue_messages_ready{${BILLING_QUEUE}})`, 'ready (cluster)', 'B'),
        )
        .withTarget(
          prom(`sum(rabbitmq_detailed_queue_messages_unacked{${BILLING_QUEUE}})`, 'unacked (cluster)', 'C'),
        )
        .decimals(0),
    )
    .withPanel(
      series(
        'Billing paused',
        'short',
        "1 while billing's Trigger is paused (make drill, make trigger-pause, the console); its queue keeps the orders.",
      )
        .withTarget(prom('max(sluice_trigger_paused{trigger="billing"})', 'paused'))
        .decimals(0),
    )
    .withRow(new dashboard.RowBuilder('Functions'))
    .withPanel(
      eventsByOutcome(
        FUNCTIONS,
        "billing's and orders-api's events: success, replayed (a redelivery), transient (store down: 503, retried with backoff), invalid/rejected (dead-letter sink).",
      ),
    )
    .withPanel(
      instances(
        'Instances per function',
        'Function instances exporting metrics: the Knative autoscaler adds them on concurrent requests, up to max-scale (inventory 3).',
        FUNCTIONS,
      ),
    )
    .withRow(new dashboard.RowBuilder('APIs at the gateway'))
    .withPanel(
      gatewayRequests(
        'Movies: requests by status',
        '/api/movies at the gateway (inventory behind it).',
        route('/api/movies'),
        ['http_request_method', 'http_response_status_code'],
      ),
    )
    .withPanel(
      series(
        'Response time p95',
        's',
        'At the gateway: /api/billing includes the broker confirm; /api/movies the store round trips.',
      ).withTarget(
        prom(
          'histogram_quantile(0.95, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{http_route=~"/api/billing|/api/movies"}[$__rate_interval])))',
          '{{http_route}}',
        ),
      ),
    );
}
