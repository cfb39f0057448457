/**
 * The fleet domain shared by position-tracker, vehicles-api, the simulator and `make fleet-recompute`:
 * CloudEvent types, event data shapes, collection names and the tracker's thresholds. The JSON Schemas in
 * each function's `schemas/` are the contract; these types mirror them.
 */
import { ConfigError, durationSettings } from '../../runtime/src/index.ts';

export const FleetEventType = {
  positionReported: 'dev.sluice.fleet.position.reported.v1',
  tripStarted: 'dev.sluice.fleet.trip.started.v1',
  tripEnded: 'dev.sluice.fleet.trip.ended.v1',
} as const;

/** Vehicle ids: the CloudEvent `subject`; matched by `$eq` and `_id` ranges only, and `|` never appears in one. */
export const VEHICLE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Collections in the shared database. position-tracker writes them all; vehicles-api and `make fleet-recompute`
 * read them (the recompute also rewrites the derived ones). `_id`s start with the vehicle id, then the fix time
 * as 13 digits, so a vehicle's history in a time range is one range of the `_id` index (docs/fleet.md).
 */
export const Collections = {
  /** Raw fixes as the devices sent them: insert-only, one per vehicle and fix time. The source of truth. */
  positions: 'fleet_positions',
  /** One derived point per raw fix: speed, heading, accepted / jitter / rejected, and the fold's state after it. */
  track: 'fleet_track',
  /** Trips, keyed by vehicle and start time. */
  trips: 'fleet_trips',
  /** One document per vehicle: its newest derived point (the live position). */
  vehicles: 'fleet_vehicles',
  /** A lease per vehicle while its fixes are folded (one fold at a time per vehicle). */
  leases: 'fleet_leases',
} as const;

/** `data` of `…position.reported.v1`; the vehicle is the event's `subject`, the fix time its `time`. */
export interface PositionReported {
  readonly latitude: number;
  readonly longitude: number;
  /** Horizontal accuracy the device reports, in metres. */
  readonly accuracyM?: number;
}

export interface Place {
  readonly latitude: number;
  readonly longitude: number;
}

/** `data` of `…trip.started.v1`. */
export interface TripStarted {
  readonly vehicleId: string;
  /** `<vehicle>|<start time ms>`: the same trip, the same id, however often it is derived. */
  readonly tripId: string;
  readonly startTime: string;
  readonly start: Place;
}

/** `data` of `…trip.ended.v1`. */
export interface TripEnded extends TripStarted {
  readonly endTime: string;
  readonly end: Place;
  readonly distanceM: number;
  readonly durationS: number;
  readonly maxSpeedKmh: number;
  readonly averageSpeedKmh: number;
}

export interface FleetConfig {
  /** A fix implying a speed above this from the last accepted one is rejected (`implausible-speed`). @default 250 */
  readonly maxSpeedKmh: number;
  /** While stopped, a fix closer than this to the stop's anchor is jitter: seen, not moved. @default 15 */
  readonly minMoveM: number;
  /** At or above this speed between two fixes the vehicle is moving. @default 3 */
  readonly movingSpeedKmh: number;
  /** A movement is a trip once it covered this distance… @default 500 (Traccar's minimalTripDistance) */
  readonly tripMinDistanceM: number;
  /** …or lasted this long. @default 300 s (Traccar's minimalTripDuration) */
  readonly tripMinDurationMs: number;
  /** A trip ends once the vehicle stood still this long; it ended when it stopped. @default 300 s (minimalParkingDuration) */
  readonly stopMinDurationMs: number;
  /** No fix for this long: the vehicle is offline (API and page only). @default 60 s */
  readonly offlineAfterMs: number;
  /** A fix time further than this ahead of the tracker's clock is refused (400). @default 60 s */
  readonly maxFutureMs: number;
}

export const FLEET_DEFAULTS: Readonly<FleetConfig> = Object.freeze({
  maxSpeedKmh: 250,
  minMoveM: 15,
  movingSpeedKmh: 3,
  tripMinDistanceM: 500,
  tripMinDurationMs: 300_000,
  stopMinDurationMs: 300_000,
  offlineAfterMs: 60_000,
  maxFutureMs: 60_000,
});

/**
 * FLEET_MAX_SPEED_KMH, FLEET_MIN_MOVE_M, FLEET_MOVING_SPEED_KMH, FLEET_TRIP_MIN_DISTANCE_M, FLEET_TRIP_MIN_DURATION,
 * FLEET_STOP_MIN_DURATION, FLEET_OFFLINE_AFTER, FLEET_MAX_FUTURE; every problem at once (ConfigError).
 */
export function fleetConfig(env: Readonly<Record<string, string | undefined>>): Readonly<FleetConfig> {
  const problems: string[] = [];
  const number = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) {
      problems.push(`${name}="${raw}" must be a number of at least ${min}`);
      return fallback;
    }
    return n;
  };
  const duration = durationSettings(env, problems, '5m, 30s or 500ms');
  const config = {
    maxSpeedKmh: number('FLEET_MAX_SPEED_KMH', FLEET_DEFAULTS.maxSpeedKmh, 1),
    minMoveM: number('FLEET_MIN_MOVE_M', FLEET_DEFAULTS.minMoveM, 0),
    movingSpeedKmh: number('FLEET_MOVING_SPEED_KMH', FLEET_DEFAULTS.movingSpeedKmh, 0),
    tripMinDistanceM: number('FLEET_TRIP_MIN_DISTANCE_M', FLEET_DEFAULTS.tripMinDistanceM, 0),
    tripMinDurationMs: duration('FLEET_TRIP_MIN_DURATION', FLEET_DEFAULTS.tripMinDurationMs, 0),
    stopMinDurationMs: duration('FLEET_STOP_MIN_DURATION', FLEET_DEFAULTS.stopMinDurationMs, 1000),
    offlineAfterMs: duration('FLEET_OFFLINE_AFTER', FLEET_DEFAULTS.offlineAfterMs, 1000),
    maxFutureMs: duration('FLEET_MAX_FUTURE', FLEET_DEFAULTS.maxFutureMs, 0),
  };
  if (config.movingSpeedKmh >= config.maxSpeedKmh)
    problems.push('FLEET_MOVING_SPEED_KMH must be below FLEET_MAX_SPEED_KMH');
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Fix times in `_id`s: 13 digits of epoch milliseconds (until the year 2286), so they sort as numbers. */
export const timeKey = (ms: number): string => String(Math.trunc(ms)).padStart(13, '0');

/** `<vehicle>|<13-digit ms>`: the `_id` of a vehicle's fix, track point or trip at that time. */
export const vehicleTimeId = (vehicleId: string, ms: number): string => `${vehicleId}|${timeKey(ms)}`;

/** The `_id` range of a vehicle's documents in [fromMs, toMs) ('~' sorts after every digit). */
export function vehicleRange(
  vehicleId: string,
  fromMs?: number,
  toMs?: number,
): { $gte: string; $lt: string } {
  return {
    $gte: fromMs === undefined ? `${vehicleId}|` : vehicleTimeId(vehicleId, Math.max(0, fromMs)),
    $lt: toMs === undefined ? `${vehicleId}|~` : vehicleTimeId(vehicleId, Math.max(0, toMs)),
  };
}

/**
 * A read of one vehicle's documents by `_id` range, with its id as a field beside the range: the same documents
 * (each of its ids starts with the vehicle's), but FerretDB 1.24 pushes a field's equality down into PostgreSQL,
 * where for an `_id` range it reads the whole collection and filters and sorts it in Go — a track read went from
 * ~470 to ~20 ms at 2,300 points of 60 vehicles, and the gap grows with the fleet (docs/fleet.md, "Storage").
 * MongoDB serves either from its `_id` index, the memory store from its sorted ids.
 */
export const ofVehicle = <R extends object>(
  vehicleId: string,
  idRange: R,
): { vehicleId: { $eq: string }; _id: R } => ({ vehicleId: { $eq: vehicleId }, _id: idRange });

/** A trip's id: its vehicle and start time (`<vehicle>|<13-digit ms>`), the same however often it is derived. */
export const tripIdOf = (vehicleId: string, startT: number): string => vehicleTimeId(vehicleId, startT);
