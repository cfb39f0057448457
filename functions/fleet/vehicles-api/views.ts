/**
 * What vehicles-api answers, from the tracker's documents (lib/tracker-store.ts): the JSON shapes of its routes
 * and of its stream's events. Pure; the OpenAPI document (openapi.ts) describes the same shapes.
 */
import { tripIdOf } from '../lib/fleet.ts';
import type { TrackDoc, TripDoc, VehicleDoc } from '../lib/tracker-store.ts';

export const VehicleStatus = { moving: 'moving', stopped: 'stopped', offline: 'offline' } as const;
export type VehicleStatus = (typeof VehicleStatus)[keyof typeof VehicleStatus];

export interface Position {
  readonly latitude: number;
  readonly longitude: number;
}

export interface VehicleView {
  readonly id: string;
  readonly status: VehicleStatus;
  /** The newest fix's time. */
  readonly lastSeen: string;
  /** Where it is: its last accepted fix. */
  readonly position: Position;
  readonly speedKmh: number;
  readonly headingDeg: number;
  /** The trip going on, if any. */
  readonly trip: { readonly id: string; readonly startTime: string; readonly distanceM: number } | null;
}

export interface PositionView extends Position {
  readonly time: string;
  readonly kind: 'accepted' | 'jitter' | 'rejected';
  readonly reason?: string;
  readonly speedKmh: number;
  readonly headingDeg: number;
  readonly moving: boolean;
}

export interface TripView {
  readonly id: string;
  readonly startTime: string;
  readonly start: Position;
  readonly endTime: string | null;
  readonly end: Position | null;
  readonly distanceM: number;
  readonly durationS: number | null;
  readonly maxSpeedKmh: number;
  readonly averageSpeedKmh: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const round = (n: number, digits: number) => Number(n.toFixed(digits));

export function statusOf(
  v: Pick<VehicleDoc, 'fixT' | 'moving'>,
  nowMs: number,
  offlineAfterMs: number,
): VehicleStatus {
  if (nowMs - v.fixT > offlineAfterMs) return VehicleStatus.offline;
  return v.moving ? VehicleStatus.moving : VehicleStatus.stopped;
}

export function vehicleView(v: VehicleDoc, nowMs: number, offlineAfterMs: number): VehicleView {
  return {
    id: v._id,
    status: statusOf(v, nowMs, offlineAfterMs),
    lastSeen: iso(v.fixT),
    position: { latitude: v.lat, longitude: v.lon },
    speedKmh: round(v.speedKmh, 1),
    headingDeg: round(v.headingDeg, 0),
    trip:
      v.trip === null
        ? null
        : {
            id: tripIdOf(v._id, v.trip.startT),
            startTime: iso(v.trip.startT),
            distanceM: round(v.trip.distanceM, 0),
          },
  };
}

export function positionView(p: TrackDoc): PositionView {
  return {
    time: iso(p.t),
    latitude: p.lat,
    longitude: p.lon,
    kind: p.kind,
    ...(p.reason === undefined ? {} : { reason: p.reason }),
    speedKmh: round(p.speedKmh, 1),
    headingDeg: round(p.headingDeg, 0),
    moving: p.moving,
  };
}

export function tripView(t: TripDoc): TripView {
  const durationS = t.endT === null ? null : (t.endT - t.startT) / 1000;
  return {
    id: t._id,
    startTime: iso(t.startT),
    start: { latitude: t.start.lat, longitude: t.start.lon },
    endTime: t.endT === null ? null : iso(t.endT),
    end: t.end === null ? null : { latitude: t.end.lat, longitude: t.end.lon },
    distanceM: round(t.distanceM, 0),
    durationS,
    maxSpeedKmh: round(t.maxSpeedKmh, 1),
    averageSpeedKmh: durationS === null || durationS === 0 ? null : round((t.distanceM / durationS) * 3.6, 1),
  };
}
