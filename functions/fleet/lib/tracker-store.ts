/**
 * position-tracker's writes and `make fleet-recompute`'s, on a store without transactions and with
 * non-atomic conditional updates (FerretDB 1.24, docs/ferretdb.md):
 *
 *   fleet_positions  `<vehicle>|<fix ms>`  the raw fix, a unique insert: a redelivery or a device's resend of the
 *                                           same fix time has no second effect. Never changed: the truth.
 *   fleet_track      `<vehicle>|<fix ms>`  the derived point of that fix and the fold's state after it
 *   fleet_trips      `<vehicle>|<start ms>` a trip, written when it starts and when it ends
 *   fleet_vehicles   `<vehicle>`           the newest derived point: the live position
 *
 * A fix is recorded by: insert the raw fix; read the vehicle's track point just before it (one `_id` range read,
 * newest first, limit 1); read the raw fixes after that point (one `_id` range); fold them from that point's
 * state (lib/track.ts) and write their points. In order, that is the new fix alone, and a new fix newer than the
 * live document's skips both range reads (`#foldNext`: its predecessor is the point the live document names); a
 * late fix folds the few after it again, so history is the same as if it had come in order (and the live
 * position, the newest fix, does not move). Fixes whose points are not written yet (in flight elsewhere) are
 * folded too, so two fixes of one vehicle racing each other both end up folded from complete history by
 * whichever reads last.
 *
 * Each point and the vehicle document carry `fixesSeen`: how many raw fixes the derivation saw. A derivation
 * that missed a fix saw fewer, and a write only replaces what saw as many or fewer — so the most complete one
 * stays (derivations that saw the same fixes are equal: the fold is deterministic). On FerretDB two racing
 * conditional updates can still leave the less complete one until the vehicle's next fix; `make fleet-recompute`
 * rebuilds every derived document from the raw fixes alone.
 */
import {
  type Collection,
  type DocumentStore,
  DuplicateKeyError,
  type Filter,
  TransientError,
  type Update,
} from '../../runtime/src/index.ts';
import {
  Collections,
  type FleetConfig,
  ofVehicle,
  timeKey,
  tripIdOf,
  vehicleRange,
  vehicleTimeId,
} from './fleet.ts';
import type { LatLon } from './geo.ts';
import {
  type Fix,
  fold,
  INITIAL_STATE,
  openTrip,
  PointKind,
  type TrackPoint,
  type TrackState,
  type Transition,
  type Trip,
} from './track.ts';

export interface PositionDoc extends Record<string, unknown> {
  _id: string;
  vehicleId: string;
  t: number;
  lat: number;
  lon: number;
  accuracyM?: number;
  event: { id: string; source: string };
  receivedAtMs: number;
}

export interface TrackDoc extends TrackPoint, Record<string, unknown> {
  _id: string;
  vehicleId: string;
  state: TrackState;
  fixesSeen: number;
}

export interface TripDoc extends Record<string, unknown> {
  _id: string;
  vehicleId: string;
  startT: number;
  start: LatLon;
  endT: number | null;
  end: LatLon | null;
  distanceM: number;
  maxSpeedKmh: number;
  fixesSeen: number;
}

export interface VehicleDoc extends Record<string, unknown> {
  _id: string;
  /** The newest fix's time: when the vehicle was last seen. */
  fixT: number;
  /** Where it is: its last accepted fix (jitter and rejected fixes do not move it). */
  lat: number;
  lon: number;
  speedKmh: number;
  headingDeg: number;
  moving: boolean;
  /** What the newest fix was. */
  lastKind: TrackPoint['kind'];
  trip: Trip | null;
  fixesSeen: number;
  /** `<fix ms>|<fixesSeen>`, both padded: a write replaces the document only when this grows. */
  rank: string;
  /** Processing time of the write: the SSE stream's cursor (index `updatedAtMs`). */
  updatedAtMs: number;
}

export interface RecordOutcome {
  /** The raw fix was already stored (a redelivery or a resend of the same fix time). */
  readonly duplicate: boolean;
  /** A newer fix of the vehicle was already derived: this one went into history behind the live position. */
  readonly late: boolean;
  /** The point derived for this fix. */
  readonly point: TrackPoint | undefined;
  /** Trips started or ended at the fixes folded (the event to publish for each). */
  readonly transitions: readonly Transition[];
  /** Fixes folded (1 in order; more when late or racing). */
  readonly folded: number;
  /** More fixes followed than one fold takes: the rest keep their points until `make fleet-recompute`. */
  readonly truncated: boolean;
}

export interface TrackerStoreOptions {
  readonly config: Readonly<FleetConfig>;
  /** Processing time. @default Date.now */
  readonly now?: () => number;
  /** Raw fixes one fold takes at most: bounds what one late fix costs. @default 1000 */
  readonly maxFold?: number;
  /** How long a vehicle's lease holds when its holder does not release it (crashed). @default 10 000 */
  readonly leaseMs?: number;
  /** First wait for a busy lease, growing by as much each time (20 polls, about 1 s at 5). @default 5 */
  readonly busyPollMs?: number;
}

/** What a fold derived: the points of the fixes it folded, the trips they started or ended, whether `maxFold` cut it. */
interface Folded {
  readonly points: TrackPoint[];
  readonly transitions: Transition[];
  readonly truncated: boolean;
}

interface LeaseDoc extends Record<string, unknown> {
  _id: string;
  untilMs: number;
}

/** Another fold of the same vehicle holds its lease: retried by the broker (503). */
export class VehicleBusyError extends TransientError {
  override name = 'VehicleBusyError';
  constructor(vehicleId: string) {
    super(`vehicle ${vehicleId} is being folded by another delivery; retry`);
  }
}

export interface IncomingFix extends LatLon {
  readonly vehicleId: string;
  readonly t: number;
  readonly accuracyM?: number;
  readonly event: { readonly id: string; readonly source: string };
}

const rankOf = (t: number, fixesSeen: number): string =>
  `${timeKey(t)}|${String(fixesSeen).padStart(12, '0')}`;

/** Inserts, or replaces where `guard` matches; a collision with a document the guard refused is a no-op. */
async function guardedUpsert<T extends Record<string, unknown>>(
  c: Collection<T>,
  filter: Filter,
  update: Update,
): Promise<void> {
  try {
    await c.updateOne(filter, update, { upsert: true });
  } catch (err) {
    if (!(err instanceof DuplicateKeyError)) throw err;
  }
}

export class TrackerStore {
  readonly positions: Collection<PositionDoc>;
  readonly track: Collection<TrackDoc>;
  readonly trips: Collection<TripDoc>;
  readonly vehicles: Collection<VehicleDoc>;
  readonly leases: Collection<LeaseDoc>;
  readonly config: Readonly<FleetConfig>;
  readonly #now: () => number;
  readonly #maxFold: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;

  constructor(store: DocumentStore, options: TrackerStoreOptions) {
    this.positions = store.collection<PositionDoc>(Collections.positions);
    this.track = store.collection<TrackDoc>(Collections.track);
    this.trips = store.collection<TripDoc>(Collections.trips);
    this.vehicles = store.collection<VehicleDoc>(Collections.vehicles);
    this.leases = store.collection<LeaseDoc>(Collections.leases);
    this.config = options.config;
    this.#now = options.now ?? Date.now;
    this.#maxFold = options.maxFold ?? 1000;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#pollMs = options.busyPollMs ?? 5;
  }

  /** Every other read is an `_id` lookup or range; the stream reads vehicles by update time. */
  async createIndexes(): Promise<void> {
    await this.vehicles.createIndex({ keys: { updatedAtMs: 1 }, name: 'updatedAtMs' });
  }

  async record(fix: IncomingFix): Promise<RecordOutcome> {
    const _id = vehicleTimeId(fix.vehicleId, fix.t);
    let duplicate = false;
    try {
      const doc: PositionDoc = {
        _id,
        vehicleId: fix.vehicleId,
        t: fix.t,
        lat: fix.lat,
        lon: fix.lon,
        event: { id: fix.event.id, source: fix.event.source },
        receivedAtMs: this.#now(),
      };
      if (fix.accuracyM !== undefined) doc.accuracyM = fix.accuracyM;
      await this.positions.insertOne(doc);
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      // Derive anyway: a crash after the insert must not leave the fix underived.
      duplicate = true;
    }
    const result = await this.#locked(
      fix.vehicleId,
      async (clean) =>
        (clean && !duplicate ? await this.#foldNext(fix, _id) : undefined) ??
        (await this.refold(fix.vehicleId, fix.t)),
    );
    const point = result.points.find((p) => p.t === fix.t);
    return {
      duplicate,
      late: result.points.some((p) => p.t > fix.t),
      point,
      transitions: result.transitions,
      folded: result.points.length,
      truncated: result.truncated,
    };
  }

  /**
   * `make fleet-recompute`: rebuilds a vehicle's derived documents (points, trips, live position) from its raw fixes
   * alone, with this store's thresholds, `maxFold` fixes at a time under the vehicle's lease; trips the raw fixes no
   * longer make are removed. Running it again changes nothing (the fold is deterministic, every write an upsert).
   */
  async recompute(vehicleId: string): Promise<{ fixes: number; trips: number }> {
    const touched = new Set<string>();
    let fixes = 0;
    let next: number | undefined;
    for (;;) {
      const from = next;
      const { points, transitions, truncated } = await this.#locked(vehicleId, () =>
        this.refold(vehicleId, from),
      );
      fixes += points.length;
      for (const tr of transitions) touched.add(tripIdOf(vehicleId, tr.trip.startT));
      const last = points.at(-1);
      if (!truncated || last === undefined) break;
      next = last.t + 1;
    }
    const live = await this.vehicles.findOne({ _id: vehicleId });
    if (live?.trip) touched.add(tripIdOf(vehicleId, live.trip.startT));
    for (const trip of await this.trips.find(ofVehicle(vehicleId, vehicleRange(vehicleId))))
      if (!touched.has(trip._id)) await this.trips.deleteOne({ _id: trip._id });
    return { fixes, trips: touched.size };
  }

  /** Every vehicle with raw fixes (`make fleet-recompute` without VEHICLE): one `_id` index walk per vehicle. */
  async vehicleIds(): Promise<string[]> {
    const ids: string[] = [];
    let after = '';
    for (;;) {
      const [first] = await this.positions.find({ _id: { $gt: after } }, { sort: { _id: 1 }, limit: 1 });
      if (first === undefined) return ids;
      ids.push(first.vehicleId);
      after = `${first.vehicleId}|~`;
    }
  }

  /**
   * Runs `fn` holding the vehicle's lease: one fold at a time per vehicle, so each folds from complete history.
   * The lease is a unique insert with an expiry (a holder that crashed frees it after `leaseMs`); a busy one is
   * polled briefly, then the event is retried by the broker (VehicleBusyError, 503).
   */
  async #locked<T>(vehicleId: string, fn: (clean: boolean) => Promise<T>): Promise<T> {
    let clean = true;
    for (let attempt = 0; ; attempt++) {
      const now = this.#now();
      try {
        await this.leases.insertOne({ _id: vehicleId, untilMs: now + this.#leaseMs });
        break;
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
      }
      const held = await this.leases.findOne({ _id: vehicleId });
      if (held !== null && held.untilMs < now) {
        // Its holder crashed or failed mid-fold: what it wrote may be partial.
        clean = false;
        await this.leases.deleteOne({ _id: vehicleId, untilMs: held.untilMs });
        continue;
      }
      if (attempt >= 20) throw new VehicleBusyError(vehicleId);
      await new Promise((r) => setTimeout(r, this.#pollMs * (1 + attempt)));
    }
    let result: T;
    try {
      result = await fn(clean);
    } catch (err) {
      // Left behind expired, not deleted: the next fold of this vehicle takes the lease over and, knowing that
      // this one may have written part of its documents, folds from complete history (#foldNext is skipped).
      await this.leases.updateOne({ _id: vehicleId }, { $set: { untilMs: 0 } }).catch(() => undefined);
      throw err;
    }
    await this.leases.deleteOne({ _id: vehicleId });
    return result;
  }

  /**
   * Folds the vehicle's raw fixes from its track point before `t` (everything when undefined) onwards, at most
   * `maxFold` of them, and writes what they derive. `make fleet-recompute` calls it from the start.
   */
  async refold(vehicleId: string, t?: number): Promise<Folded> {
    const range = vehicleRange(vehicleId);
    const [before] =
      t === undefined
        ? []
        : await this.track.find(
            ofVehicle(vehicleId, { $gte: range.$gte, $lt: vehicleTimeId(vehicleId, t) }),
            {
              sort: { _id: -1 },
              limit: 1,
            },
          );
    const raws = await this.positions.find(
      ofVehicle(vehicleId, { $gt: before?._id ?? range.$gte, $lt: range.$lt }),
      { sort: { _id: 1 }, limit: this.#maxFold + 1 },
    );
    const truncated = raws.length > this.#maxFold;
    const fixes: Fix[] = raws
      .slice(0, this.#maxFold)
      .map((r) => ({ t: r.t, lat: r.lat, lon: r.lon, key: r._id }));
    return this.#foldFrom(vehicleId, before, fixes, truncated, t);
  }

  /**
   * The common case without either range read of `refold` (on FerretDB 1.24 each scans and sorts the whole
   * collection: ~235 ms at 12,000 fixes, against ~5 ms for a read by `_id`): a new fix newer than every derived
   * one folds onto the vehicle's newest point, found from its live document by `_id`. Only under a lease taken
   * cleanly — its last holder released it, so everything it derived is written, the live document last. A fix
   * of the vehicle whose raw is stored but not folded yet (waiting for the lease, or redelivered after a crash)
   * is not seen here: its own fold comes as a late one and folds everything after it again. Undefined when the
   * newest point does not match the live document (`refold` then).
   */
  async #foldNext(fix: IncomingFix, key: string): Promise<Folded | undefined> {
    const live = await this.vehicles.findOne({ _id: fix.vehicleId });
    if (live === null || !(fix.t > live.fixT)) return undefined;
    const before = await this.track.findOne({ _id: vehicleTimeId(fix.vehicleId, live.fixT) });
    if (before === null || before.fixesSeen !== live.fixesSeen) return undefined;
    return this.#foldFrom(
      fix.vehicleId,
      before,
      [{ t: fix.t, lat: fix.lat, lon: fix.lon, key }],
      false,
      fix.t,
    );
  }

  /** Folds `fixes` (in time order) onto `before`'s state and writes what they derive: points, trips, live document. */
  async #foldFrom(
    vehicleId: string,
    before: TrackDoc | undefined,
    fixes: readonly Fix[],
    truncated: boolean,
    t: number | undefined,
  ): Promise<Folded> {
    const { steps, state } = fold(before?.state ?? INITIAL_STATE, fixes, this.config);
    const seenBefore = before?.fixesSeen ?? 0;
    for (const [i, s] of steps.entries()) {
      const fixesSeen = seenBefore + i + 1;
      const doc: Omit<TrackDoc, '_id'> = { vehicleId, ...s.point, state: s.state, fixesSeen };
      await guardedUpsert(
        this.track,
        { _id: vehicleTimeId(vehicleId, s.point.t), fixesSeen: { $lte: fixesSeen } },
        // A point derived again may lose its reason (rejected before a late fix, jitter after).
        s.point.reason === undefined ? { $set: doc, $unset: { reason: '' } } : { $set: doc },
      );
    }
    const transitions = steps.flatMap((s) => s.transitions);
    const fixesSeen = seenBefore + steps.length;
    // Trips that may change: any starting at or after the movement going on at `before`, or its last accepted
    // fix (a movement starts there: a trip derived from it before a fix in between was known is gone now).
    const fromT =
      before === undefined
        ? undefined
        : Math.min(before.t, before.state.anchor?.t ?? before.t, before.state.movement?.startT ?? before.t);
    await this.#writeTrips(
      vehicleId,
      fromT,
      transitions,
      state,
      fixesSeen,
      !truncated,
      steps.length === 1 && t !== undefined,
    );
    const last = steps.at(-1);
    if (last !== undefined && !truncated) await this.#writeVehicle(vehicleId, last.point, state, fixesSeen);
    return { points: steps.map((s) => s.point), transitions, truncated };
  }

  /**
   * The trips the fold touched: those that started or ended among its fixes, and the one going on at its end.
   * Each is written with the number of fixes its derivation saw (the more complete one stays). When the fold
   * went to the vehicle's newest fix, a trip starting at or after its first point that it did not derive again
   * is gone (a late fix changed where a movement began, or a racing derivation had missed a fix).
   */
  async #writeTrips(
    vehicleId: string,
    fromT: number | undefined,
    transitions: readonly Transition[],
    state: TrackState,
    fixesSeen: number,
    complete: boolean,
    onlyNewest: boolean,
  ): Promise<void> {
    const touched = new Map<string, TripDoc>();
    const put = (trip: Trip) => {
      const _id = tripIdOf(vehicleId, trip.startT);
      touched.set(_id, {
        _id,
        vehicleId,
        startT: trip.startT,
        start: trip.start,
        endT: trip.endT ?? null,
        end: trip.end ?? null,
        distanceM: trip.distanceM,
        maxSpeedKmh: trip.maxSpeedKmh,
        fixesSeen,
      });
    };
    for (const tr of transitions) put(tr.trip);
    const open = openTrip(state);
    if (open !== undefined) put(open);
    for (const { _id, ...doc } of touched.values())
      await guardedUpsert(this.trips, { _id, fixesSeen: { $lte: fixesSeen } }, { $set: doc });
    // Only the newest fix folded onto what the previous fold saw: every trip it could change is among those
    // touched (folds of one vehicle run one at a time), so there is nothing stale to look for.
    if (!complete || onlyNewest) return;
    const range = vehicleRange(vehicleId, fromT);
    for (const trip of await this.trips.find(ofVehicle(vehicleId, range))) {
      if (!touched.has(trip._id))
        await this.trips.deleteOne({ _id: trip._id, fixesSeen: { $lte: fixesSeen } });
    }
  }

  async #writeVehicle(
    vehicleId: string,
    last: TrackPoint,
    state: TrackState,
    fixesSeen: number,
  ): Promise<void> {
    const anchor = state.anchor;
    if (anchor === undefined) return;
    const rank = rankOf(last.t, fixesSeen);
    const doc: Omit<VehicleDoc, '_id'> = {
      fixT: last.t,
      lat: anchor.lat,
      lon: anchor.lon,
      speedKmh: last.kind === PointKind.jitter ? 0 : anchor.speedKmh,
      headingDeg: anchor.headingDeg,
      moving: last.kind === PointKind.jitter ? false : anchor.moving,
      lastKind: last.kind,
      trip: openTrip(state) ?? null,
      fixesSeen,
      rank,
      updatedAtMs: this.#now(),
    };
    await guardedUpsert(this.vehicles, { _id: vehicleId, rank: { $lte: rank } }, { $set: doc });
  }
}
