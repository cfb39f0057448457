/**
 * A vehicle's track derived from its raw fixes, pure: the fixes ordered by fix time (one per time: a second
 * fix with the same time is a duplicate), then folded one by one from the vehicle's state:
 *
 * - **rejected** (`implausible-speed`): reaching it from the last accepted fix needs more than `maxSpeedKmh`
 *   (the occasional jump a receiver makes); kept with its reason, it moves nothing. But when the next fix agrees
 *   with the rejected one (reachable from it), the vehicle really is there — moved while silent, or the earlier
 *   fixes were the wrong ones — and that fix is accepted from there (a trip going on ends where it was).
 * - **jitter**: the vehicle is stopped and the fix is within `minMoveM` of where it stopped (GPS noise while
 *   parked); it is seen, not moved.
 * - **accepted**: speed = distance / time from the last accepted fix, heading = the bearing to it (kept from
 *   before for moves under `minMoveM`, whose bearing is noise), moving when the speed is `movingSpeedKmh` or more.
 *
 * Trips (Traccar's thresholds as defaults): a movement starts at the last accepted fix before the first moving
 * one; it becomes a trip (`started`) once it covered `tripMinDistanceM` or lasted `tripMinDurationMs`; it
 * `ended` where it stopped once the vehicle stood still (or sent nothing) for `stopMinDurationMs`. A movement
 * that stops before it became a trip is dropped (a repositioning in the depot).
 *
 * Everything is a function of the *set* of fixes: any permutation or duplication gives the same points and
 * trips (track.test.ts). Each point carries the state after it, so a late fix is folded from its predecessor's
 * state and the fixes after it folded again (lib/tracker-store.ts) — the same result as folding everything.
 */
import type { FleetConfig } from './fleet.ts';
import { bearingDegrees, haversineMeters, kmh, type LatLon } from './geo.ts';

/** One raw fix of one vehicle. `key` (its event's identity) only breaks ties between fixes of the same time. */
export interface Fix extends LatLon {
  readonly t: number;
  readonly key: string;
}

export const PointKind = { accepted: 'accepted', jitter: 'jitter', rejected: 'rejected' } as const;
export type PointKind = (typeof PointKind)[keyof typeof PointKind];

export const RejectReason = { implausibleSpeed: 'implausible-speed' } as const;

export interface Anchor extends LatLon {
  readonly t: number;
  readonly speedKmh: number;
  readonly headingDeg: number;
  readonly moving: boolean;
}

interface Stop extends LatLon {
  readonly t: number;
}

interface Movement {
  readonly startT: number;
  readonly start: LatLon;
  readonly distanceM: number;
  readonly maxSpeedKmh: number;
  /** Covered the trip thresholds: a trip (`started` was derived). */
  readonly isTrip: boolean;
  /** Where and when it stopped, while it stands still (cleared when it moves again). */
  readonly stoppedAt?: Stop;
}

/** What the fold carries from one fix to the next; stored with each point (plain JSON). */
export interface TrackState {
  /** The last accepted fix. */
  readonly anchor?: Anchor;
  readonly movement?: Movement;
  /** The last fix, when it was rejected: a next fix that agrees with it moves the vehicle there. */
  readonly pending?: Stop;
}

export interface TrackPoint extends LatLon {
  readonly t: number;
  readonly kind: PointKind;
  readonly reason?: string;
  /** Accepted: the speed from the last accepted fix; jitter: 0; rejected: the implied (impossible) speed. */
  readonly speedKmh: number;
  readonly headingDeg: number;
  /** The vehicle's status after this fix. */
  readonly moving: boolean;
  /** Metres from the last accepted fix (0 for jitter). */
  readonly distanceM: number;
}

export interface Trip {
  readonly startT: number;
  readonly start: LatLon;
  /** Absent while the trip goes on. */
  readonly endT?: number;
  readonly end?: LatLon;
  readonly distanceM: number;
  readonly maxSpeedKmh: number;
}

export type Transition =
  | { readonly kind: 'started'; readonly at: number; readonly trip: Trip }
  | { readonly kind: 'ended'; readonly at: number; readonly trip: Required<Trip> };

export interface Step {
  readonly point: TrackPoint;
  readonly state: TrackState;
  readonly transitions: readonly Transition[];
}

export type TrackThresholds = Pick<
  FleetConfig,
  | 'maxSpeedKmh'
  | 'minMoveM'
  | 'movingSpeedKmh'
  | 'tripMinDistanceM'
  | 'tripMinDurationMs'
  | 'stopMinDurationMs'
>;

export const INITIAL_STATE: TrackState = Object.freeze({});

/** Fixes by time; of several with the same time, the one with the smallest key (a duplicate is the same fix). */
export function orderFixes(fixes: Iterable<Fix>): Fix[] {
  const byTime = new Map<number, Fix>();
  for (const f of fixes) {
    const seen = byTime.get(f.t);
    if (seen === undefined || f.key < seen.key) byTime.set(f.t, f);
  }
  return [...byTime.values()].sort((a, b) => a.t - b.t);
}

const tripOf = (m: Movement): Trip => ({
  startT: m.startT,
  start: { lat: m.start.lat, lon: m.start.lon },
  distanceM: m.distanceM,
  maxSpeedKmh: m.maxSpeedKmh,
});

/** The movement after `fix`: ended (and dropped) once it stood still for the stop threshold. */
function settle(
  m: Movement | undefined,
  t: number,
  c: TrackThresholds,
  out: Transition[],
): Movement | undefined {
  if (m?.stoppedAt === undefined || t - m.stoppedAt.t < c.stopMinDurationMs) return m;
  if (m.isTrip) {
    const s = m.stoppedAt;
    out.push({
      kind: 'ended',
      at: t,
      trip: { ...tripOf(m), endT: s.t, end: { lat: s.lat, lon: s.lon } },
    });
  }
  return undefined;
}

/** Folds one fix, later than every fix folded into `state`. */
export function step(state: TrackState, fix: Fix, c: TrackThresholds): Step {
  const a = state.anchor;
  const transitions: Transition[] = [];
  const here = { t: fix.t, lat: fix.lat, lon: fix.lon };
  if (a === undefined) {
    return {
      point: { ...here, kind: PointKind.accepted, speedKmh: 0, headingDeg: 0, moving: false, distanceM: 0 },
      state: { anchor: { ...here, speedKmh: 0, headingDeg: 0, moving: false } },
      transitions,
    };
  }
  const distanceM = haversineMeters(a, fix);
  const speedKmh = kmh(distanceM / ((fix.t - a.t) / 1000));
  if (speedKmh > c.maxSpeedKmh) {
    const p = state.pending;
    const fromPending = p === undefined ? undefined : haversineMeters(p, fix);
    const pendingKmh =
      p === undefined || fromPending === undefined
        ? Number.POSITIVE_INFINITY
        : kmh(fromPending / ((fix.t - p.t) / 1000));
    if (p !== undefined && fromPending !== undefined && pendingKmh <= c.maxSpeedKmh) {
      // Two fixes in a row agree with each other and not with the last accepted one: the vehicle is there (it
      // was moved while silent, or the earlier fixes were the wrong ones). A trip going on ended where it was.
      const m = state.movement;
      if (m?.isTrip === true) {
        const s = m.stoppedAt ?? { t: a.t, lat: a.lat, lon: a.lon };
        transitions.push({
          kind: 'ended',
          at: fix.t,
          trip: { ...tripOf(m), endT: s.t, end: { lat: s.lat, lon: s.lon } },
        });
      }
      const moving = pendingKmh >= c.movingSpeedKmh;
      const headingDeg = fromPending >= c.minMoveM ? bearingDegrees(p, fix) : a.headingDeg;
      const movement: Movement | undefined = moving
        ? {
            startT: p.t,
            start: { lat: p.lat, lon: p.lon },
            distanceM: fromPending,
            maxSpeedKmh: pendingKmh,
            isTrip: false,
          }
        : undefined;
      const anchor: Anchor = { ...here, speedKmh: pendingKmh, headingDeg, moving };
      return {
        point: {
          ...here,
          kind: PointKind.accepted,
          speedKmh: pendingKmh,
          headingDeg,
          moving,
          distanceM: fromPending,
        },
        state: movement === undefined ? { anchor } : { anchor, movement },
        transitions,
      };
    }
    const point: TrackPoint = {
      ...here,
      kind: PointKind.rejected,
      reason: RejectReason.implausibleSpeed,
      speedKmh,
      headingDeg: a.headingDeg,
      moving: a.moving,
      distanceM,
    };
    return { point, state: { ...state, pending: here }, transitions };
  }
  if (!a.moving && distanceM < c.minMoveM) {
    const movement = settle(state.movement, fix.t, c, transitions);
    const point: TrackPoint = {
      ...here,
      kind: PointKind.jitter,
      speedKmh: 0,
      headingDeg: a.headingDeg,
      moving: false,
      distanceM: 0,
    };
    return { point, state: movement === undefined ? { anchor: a } : { anchor: a, movement }, transitions };
  }
  const headingDeg = distanceM >= c.minMoveM ? bearingDegrees(a, fix) : a.headingDeg;
  const moving = speedKmh >= c.movingSpeedKmh;
  let m = state.movement;
  if (moving) {
    m =
      m === undefined
        ? { startT: a.t, start: { lat: a.lat, lon: a.lon }, distanceM, maxSpeedKmh: speedKmh, isTrip: false }
        : {
            startT: m.startT,
            start: m.start,
            distanceM: m.distanceM + distanceM,
            maxSpeedKmh: Math.max(m.maxSpeedKmh, speedKmh),
            isTrip: m.isTrip,
          };
    if (!m.isTrip && (m.distanceM >= c.tripMinDistanceM || fix.t - m.startT >= c.tripMinDurationMs)) {
      m = { ...m, isTrip: true };
      transitions.push({ kind: 'started', at: fix.t, trip: tripOf(m) });
    }
  } else if (m !== undefined && m.stoppedAt === undefined) {
    // It stopped where the last moving fix was; creeping after that is not part of the trip.
    m = { ...m, stoppedAt: { t: a.t, lat: a.lat, lon: a.lon } };
  }
  m = settle(m, fix.t, c, transitions);
  const anchor: Anchor = { ...here, speedKmh, headingDeg, moving };
  return {
    point: { ...here, kind: PointKind.accepted, speedKmh, headingDeg, moving, distanceM },
    state: m === undefined ? { anchor } : { anchor, movement: m },
    transitions,
  };
}

export interface Folded {
  readonly steps: readonly Step[];
  readonly state: TrackState;
}

/** Folds `ordered` (from orderFixes, all later than what `state` has seen) from `state`. */
export function fold(state: TrackState, ordered: readonly Fix[], c: TrackThresholds): Folded {
  const steps: Step[] = [];
  let s = state;
  for (const fix of ordered) {
    const next = step(s, fix, c);
    steps.push(next);
    s = next.state;
  }
  return { steps, state: s };
}

/** The trip going on in `state`, if the movement already is one. */
export function openTrip(state: TrackState): Trip | undefined {
  return state.movement?.isTrip === true ? tripOf(state.movement) : undefined;
}

export interface Track {
  readonly points: readonly TrackPoint[];
  /** By start time; the last one without an end while it goes on. */
  readonly trips: readonly Trip[];
  readonly state: TrackState;
}

/** A vehicle's whole track from a set of fixes, in any order and with any duplicates. */
export function deriveTrack(fixes: Iterable<Fix>, c: TrackThresholds): Track {
  const { steps, state } = fold(INITIAL_STATE, orderFixes(fixes), c);
  const trips: Trip[] = [];
  for (const s of steps) for (const t of s.transitions) if (t.kind === 'ended') trips.push(t.trip);
  const open = openTrip(state);
  if (open !== undefined) trips.push(open);
  return { points: steps.map((s) => s.point), trips, state };
}
