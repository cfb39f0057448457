/**
 * position-tracker — per vehicle (`subject`), records each GPS fix (`time` = the device's fix time) in raw history
 * once, and derives from it speed, heading, jitter and implausible jumps, the live position and trips
 * (lib/tracker-store.ts, lib/track.ts). A trip that starts or ends is published to the broker as
 * `…trip.started.v1` / `…trip.ended.v1` with the trip's own id, so deriving it again (a redelivery, a late fix)
 * publishes the same event, which consumers' idempotency guard absorbs. A handler replies with at most one event,
 * and a late fix can end one trip and start the next: they go to the broker ingress (BROKER_URL) directly.
 *
 * Refused (400, kept in the dead-letter sink by the runtime): no usable vehicle id, no fix time, a fix time
 * further ahead than FLEET_MAX_FUTURE; out-of-range or non-number coordinates fail the schema first.
 * An implausible jump is not refused: it is a real report of the device, kept in history as `rejected` with
 * its reason (and counted), so a recompute with other thresholds can judge it again.
 */
import { type Counter, type Histogram, metrics } from '@opentelemetry/api';
import {
  ConfigError,
  InvalidEventError,
  notStoredReason,
  postToIngress,
  type SluiceFunction,
  storedByBroker,
  TransientError,
} from '../../runtime/src/index.ts';
import {
  type FleetConfig,
  FleetEventType,
  fleetConfig,
  type TripEnded,
  type TripStarted,
  tripIdOf,
  VEHICLE_ID_PATTERN,
} from '../lib/fleet.ts';
import type { Transition } from '../lib/track.ts';
import { TrackerStore } from '../lib/tracker-store.ts';
import type { Handle } from './events.gen.ts';

export const accepts = [FleetEventType.positionReported] as const;
export const emits = [] as const;
/**
 * Without the runtime's idempotency guard (two store round trips of about nine per fix): a redelivered fix is
 * absorbed by the raw insert's unique `_id` and folds to the same writes, and its trip events, if any, carry the
 * trip's own id, which consumers' guards absorb (docs/fleet.md, "Failure scenarios").
 */
export const idempotent = false;

const SOURCE = '/sluice/functions/position-tracker';

let tracker: TrackerStore | undefined;
let config: Readonly<FleetConfig> | undefined;
let brokerUrl = '';
let received: Counter | undefined;
let rejected: Counter | undefined;
let lag: Histogram | undefined;
let trips: Counter | undefined;
const seen = new Map<string, number>();

export const init: SluiceFunction['init'] = async ({ store, log }) => {
  config = fleetConfig(process.env);
  brokerUrl = process.env.BROKER_URL ?? '';
  if (!/^https?:\/\//.test(brokerUrl)) {
    throw new ConfigError([
      'BROKER_URL must be the broker ingress (http(s) URL): trip events are published there',
    ]);
  }
  tracker = new TrackerStore(store, { config });
  await tracker.createIndexes();
  const meter = metrics.getMeter('position-tracker');
  received = meter.createCounter('fleet.positions', {
    description: 'Fixes received, by what became of them (accepted, jitter, rejected, duplicate)',
  });
  rejected = meter.createCounter('fleet.positions.rejected', {
    description: 'Fixes kept but not believed, by reason (implausible-speed)',
  });
  // The runtime's exporter adds unit suffixes to its own instruments only: named so Prometheus shows
  // fleet_tracker_lag_seconds.
  lag = meter.createHistogram('fleet.tracker.lag_seconds', {
    description: 'Processing time minus the fix time: how far behind the live position is',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300] },
  });
  trips = meter.createCounter('fleet.trips', {
    description: 'Trip events published, by kind (started, ended)',
  });
  meter
    .createObservableGauge('fleet.vehicles.active', {
      description: 'Vehicles this instance received a fix from within FLEET_OFFLINE_AFTER',
    })
    .addCallback((gauge) => {
      const since = Date.now() - (config?.offlineAfterMs ?? 60_000);
      let active = 0;
      for (const [id, at] of seen) {
        if (at >= since) active++;
        else seen.delete(id);
      }
      gauge.observe(active);
    });
  log.info(
    `trips of ${config.tripMinDistanceM} m or ${config.tripMinDurationMs / 1000} s, ended by ${config.stopMinDurationMs / 1000} s stops; ` +
      `fixes over ${config.maxSpeedKmh} km/h rejected, under ${config.minMoveM} m while stopped jitter (FLEET_*)`,
  );
};

/** The CloudEvent of a trip transition; its id is the trip's, so it is the same each time it is derived. */
export function tripEvent(
  vehicleId: string,
  t: Transition,
): { id: string; type: string; data: TripStarted | TripEnded } {
  const tripId = tripIdOf(vehicleId, t.trip.startT);
  const place = (p: { lat: number; lon: number }) => ({ latitude: p.lat, longitude: p.lon });
  const started: TripStarted = {
    vehicleId,
    tripId,
    startTime: new Date(t.trip.startT).toISOString(),
    start: place(t.trip.start),
  };
  if (t.kind === 'started')
    return { id: `trip-started-${tripId}`, type: FleetEventType.tripStarted, data: started };
  const durationS = (t.trip.endT - t.trip.startT) / 1000;
  const ended: TripEnded = {
    ...started,
    endTime: new Date(t.trip.endT).toISOString(),
    end: place(t.trip.end),
    distanceM: t.trip.distanceM,
    durationS,
    maxSpeedKmh: t.trip.maxSpeedKmh,
    averageSpeedKmh: durationS > 0 ? (t.trip.distanceM / durationS) * 3.6 : 0,
  };
  return { id: `trip-ended-${tripId}`, type: FleetEventType.tripEnded, data: ended };
}

/** POSTs one event in binary mode; the broker answers 202 once it is stored. */
async function publish(vehicleId: string, t: Transition, signal: AbortSignal): Promise<void> {
  const { id, type, data } = tripEvent(vehicleId, t);
  const answer = await postToIngress(
    brokerUrl,
    {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-source': SOURCE,
        'ce-type': type,
        'ce-subject': vehicleId,
        'ce-time': new Date(t.at).toISOString(),
        'content-type': 'application/json',
      },
      body: JSON.stringify(data),
    },
    { signal },
  );
  if (!storedByBroker(answer)) throw new TransientError(`${id} not stored: ${notStoredReason(answer)}`);
}

export const handle: Handle<typeof accepts> = async (event, { store, signal }) => {
  config ??= fleetConfig(process.env);
  const vehicleId = event.subject;
  if (vehicleId === undefined || !VEHICLE_ID_PATTERN.test(vehicleId)) {
    throw new InvalidEventError('a position needs its vehicle id as subject: 1-64 letters, digits, _ or -', [
      { name: 'subject', reason: vehicleId === undefined ? 'missing' : 'not a vehicle id' },
    ]);
  }
  const t = event.time === undefined ? Number.NaN : Date.parse(event.time);
  if (!Number.isFinite(t)) {
    throw new InvalidEventError('a position needs the device’s fix time as time', [
      { name: 'time', reason: 'missing' },
    ]);
  }
  const now = Date.now();
  if (t > now + config.maxFutureMs) {
    throw new InvalidEventError(
      `fix time ${event.time} is ${Math.round((t - now) / 1000)} s ahead of the tracker's clock (FLEET_MAX_FUTURE ${config.maxFutureMs / 1000} s)`,
      [{ name: 'time', reason: 'in the future' }],
    );
  }
  tracker ??= new TrackerStore(store, { config });
  const { latitude, longitude, accuracyM } = event.data;
  const outcome = await tracker.record({
    vehicleId,
    t,
    lat: latitude,
    lon: longitude,
    ...(accuracyM === undefined ? {} : { accuracyM }),
    event: { id: event.id, source: event.source },
  });
  for (const transition of outcome.transitions) {
    await publish(vehicleId, transition, signal);
    trips?.add(1, { 'fleet.trip.transition': transition.kind });
  }
  const kind = outcome.duplicate ? 'duplicate' : (outcome.point?.kind ?? 'accepted');
  received?.add(1, { 'fleet.outcome': kind, 'fleet.late': outcome.late });
  if (!outcome.duplicate && outcome.point?.reason !== undefined)
    rejected?.add(1, { 'fleet.reason': outcome.point.reason });
  if (!outcome.duplicate) lag?.record(Math.max(0, (Date.now() - t) / 1000));
  seen.set(vehicleId, now);
  return undefined;
};
