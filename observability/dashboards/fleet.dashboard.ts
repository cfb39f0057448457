/**
 * The fleet system (docs/fleet.md): positions received per second, the tracker's lag (processing time − fix time),
 * rejected positions by reason, active vehicles, trips; the error rate of the fleet's functions with the
 * Elasticsearch log lines of the same services beside it — a spike and the lines behind it in one row, each series
 * linked to its service's logs in Explore and Kibana — and vehicles-api and the page as the gateway serves them.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  gatewayRequests,
  instances,
  logLines,
  logLinks,
  processingTime,
  prom,
  series,
  sluiceDashboard,
  stacked,
} from './panels.ts';

export const UID = 'sluice-fleet';
const FUNCTIONS = 'service_name=~"position-tracker|vehicles-api|fleet-web"';
const ROUTES = 'http_route=~"/api/vehicles.*|/fleet"';

export function fleetDashboard(): dashboard.DashboardBuilder {
  return sluiceDashboard(
    'sluice — fleet',
    UID,
    ['sluice', 'fleet'],
    'Vehicles’ GPS fixes through position-tracker: positions/s, tracker lag, rejected positions, active vehicles, trips; errors with their log lines; the vehicles API and the page.',
  )
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
        .stacking(stacked()),
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
      processingTime(
        'position-tracker',
        'faas.invoke_duration of successful fixes: a few _id reads and writes, and the vehicle’s lease.',
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
      logLines(
        'Error and warning log lines of the fleet’s functions',
        'ECS lines from Elasticsearch, same time range as the error rate beside: a spike there, its lines here (trace.id and event.id on each).',
        'service.name:("position-tracker" OR "vehicles-api" OR "fleet-web") AND log.level:("error" OR "warn")',
        8,
        12,
      ),
    )
    .withRow(new dashboard.RowBuilder('vehicles-api and the page (at the gateway)'))
    .withPanel(
      gatewayRequests(
        'Requests by status',
        'http.server.request.duration at the gateway for /api/vehicles and /fleet.',
        ROUTES,
        ['http_route', 'http_response_status_code'],
      ),
    )
    .withPanel(
      instances(
        'Instances per function',
        'Function instances exporting metrics: 0 = scaled to zero; an open live stream keeps vehicles-api at 1 at least.',
        FUNCTIONS,
      ),
    );
}
