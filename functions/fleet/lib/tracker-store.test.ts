import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Collection,
  type Doc,
  type DocumentStore,
  MemoryDocumentStore,
} from '../../runtime/src/index.ts';
import { FLEET_DEFAULTS, tripIdOf } from './fleet.ts';
import { destination, type LatLon } from './geo.ts';
import { deriveTrack, type Fix } from './track.ts';
import { TrackerStore } from './tracker-store.ts';

/** Thresholds scaled down so short drives make and end trips: 50 m or 10 s, ended by 10 s stops. */
const C = { ...FLEET_DEFAULTS, tripMinDistanceM: 50, tripMinDurationMs: 10_000, stopMinDurationMs: 10_000 };
const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const START: LatLon = { lat: 48.8566, lon: 2.3522 };

/** One vehicle's fixes, a second apart: parked with noise, driving, silent, the odd jump. */
const fixes = fc
  .array(
    fc.oneof(
      fc.record({ park: fc.integer({ min: 1, max: 15 }) }),
      fc.record({ drive: fc.integer({ min: 1, max: 15 }), speed: fc.integer({ min: 5, max: 120 }) }),
      fc.record({ silence: fc.integer({ min: 2, max: 45 }) }),
      fc.constant({ jump: true }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((pieces) => {
    const out: Fix[] = [];
    let t = T0;
    let at = START;
    const push = (p: LatLon) => out.push({ t, lat: p.lat, lon: p.lon, key: `e${out.length}` });
    push(at);
    for (const p of pieces) {
      if ('park' in p)
        for (let i = 0; i < p.park; i++) {
          t += 1000;
          push(destination(at, i * 97, i % 4));
        }
      else if ('drive' in p)
        for (let i = 0; i < p.drive; i++) {
          t += 1000;
          at = destination(at, 80 + i, p.speed / 3.6);
          push(at);
        }
      else if ('silence' in p) {
        t += p.silence * 1000;
        push(at);
      } else {
        t += 1000;
        push(destination(at, 10, 20_000));
      }
    }
    return out;
  });

/** Deliveries: every fix at least once, some twice, in any order, handled in concurrent batches. */
const deliveries = (all: readonly Fix[]) =>
  fc
    .tuple(
      fc.shuffledSubarray([...all.keys(), ...all.keys()], { minLength: all.length }),
      fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 20 }),
    )
    .map(([order, batchSizes]) => {
      const seen = new Set(order);
      const indexes = [...order, ...[...all.keys()].filter((i) => !seen.has(i))];
      const batches: number[][] = [];
      for (let i = 0, b = 0; i < indexes.length; b++) {
        const size = batchSizes[b % batchSizes.length] ?? 1;
        batches.push(indexes.slice(i, i + size));
        i += size;
      }
      return batches;
    });

const record = (tracker: TrackerStore, f: Fix) =>
  tracker.record({
    vehicleId: 'v-1',
    t: f.t,
    lat: f.lat,
    lon: f.lon,
    event: { id: f.key, source: '/tests' },
  });

describe('TrackerStore', () => {
  it('records a fix once however often it comes, and derives its point', async () => {
    const tracker = new TrackerStore(new MemoryDocumentStore(), { config: C });
    const f = { t: T0, ...START, key: 'e0' };
    const first = await record(tracker, f);
    const again = await record(tracker, f);
    expect(first).toMatchObject({ duplicate: false, late: false, folded: 1 });
    expect(again).toMatchObject({ duplicate: true, late: false, folded: 1 });
    expect(await tracker.positions.countDocuments({})).toBe(1);
    expect(await tracker.track.countDocuments({})).toBe(1);
    expect(await tracker.vehicles.findOne({ _id: 'v-1' })).toMatchObject({
      fixT: T0,
      lat: START.lat,
      moving: false,
    });
  });

  it('keeps a late fix in history behind the live position and folds the fixes after it again', async () => {
    const tracker = new TrackerStore(new MemoryDocumentStore(), { config: C });
    const east = (m: number) => destination(START, 90, m);
    await record(tracker, { t: T0, ...START, key: 'a' });
    await record(tracker, { t: T0 + 2000, ...east(20), key: 'c' });
    const late = await record(tracker, { t: T0 + 1000, ...east(10), key: 'b' });
    expect(late).toMatchObject({ late: true, folded: 2 });
    const live = await tracker.vehicles.findOne({ _id: 'v-1' });
    expect(live?.fixT).toBe(T0 + 2000);
    expect(live?.lat).toBeCloseTo(east(20).lat, 12);
    const points = await tracker.track.find({}, { sort: { _id: 1 } });
    expect(points.map((p) => p.t)).toEqual([T0, T0 + 1000, T0 + 2000]);
    expect(points[2]?.speedKmh).toBeCloseTo(36, 6); // from the late fix, 10 m in 1 s, not 20 m in 2 s alone
    expect(points[2]?.fixesSeen).toBe(3);
  });

  it('recomputes a vehicle from its raw fixes with other thresholds, in chunks, and again to the same result', async () => {
    const store = new MemoryDocumentStore();
    const east = (m: number) => destination(START, 90, m);
    const fixesOf = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        t: T0 + i * 1000,
        ...east(i < 40 ? i * 10 : 390),
        key: `e${i}`,
      }));
    const tracker = new TrackerStore(store, { config: C });
    for (const f of fixesOf(80)) await record(tracker, f);
    const before = await tracker.trips.find({});
    expect(before).toHaveLength(1); // 390 m, over the 50 m threshold
    // The threshold raised over the drive's length: no trip any more, once recomputed (5 fixes a fold).
    const stricter = { ...C, tripMinDistanceM: 1000, tripMinDurationMs: 600_000 };
    const again = new TrackerStore(store, { config: stricter, maxFold: 5 });
    expect(await again.vehicleIds()).toEqual(['v-1']);
    expect(await again.recompute('v-1')).toEqual({ fixes: 80, trips: 0 });
    expect(await tracker.trips.countDocuments({})).toBe(0);
    const points = await tracker.track.find({}, { sort: { _id: 1 } });
    expect(points.map(({ _id, vehicleId, state, fixesSeen, ...p }) => p)).toStrictEqual(
      deriveTrack(fixesOf(80), stricter).points,
    );
    // Everything but the live document's write time (the stream's cursor) the same.
    const derived = async () => [
      await tracker.track.find({}, { sort: { _id: 1 } }),
      (await tracker.vehicles.find({})).map(({ updatedAtMs: _at, ...v }) => v),
      await tracker.trips.find({}),
    ];
    const snapshot = await derived();
    await again.recompute('v-1');
    expect(await derived()).toEqual(snapshot);
    // Back to the first thresholds: the trip is back.
    expect((await new TrackerStore(store, { config: C }).recompute('v-1')).trips).toBe(1);
  }, 60_000);

  it('stores the same history, trips and live position as deriving everything at once, for any order, duplication and concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fixes.chain((all) => fc.tuple(fc.constant(all), deliveries(all))),
        async ([all, batches]) => {
          const tracker = new TrackerStore(new MemoryDocumentStore(), { config: C, busyPollMs: 1 });
          for (const batch of batches) await Promise.all(batch.map((i) => record(tracker, all[i] as Fix)));
          const want = deriveTrack(all, C);
          const points = await tracker.track.find({}, { sort: { _id: 1 } });
          expect(points.map(({ _id, vehicleId, state, fixesSeen, ...p }) => p)).toStrictEqual(want.points);
          expect(await tracker.positions.countDocuments({})).toBe(all.length);
          const trips = await tracker.trips.find({}, { sort: { _id: 1 } });
          expect(trips.map((t) => [t._id, t.endT])).toEqual(
            want.trips.map((t) => [tripIdOf('v-1', t.startT), t.endT ?? null]),
          );
          const live = await tracker.vehicles.findOne({ _id: 'v-1' });
          expect(live?.fixT).toBe(all.at(-1)?.t);
          expect(live?.lat).toBe(want.state.anchor?.lat);
          expect(live?.fixesSeen).toBe(all.length);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);

  it('folds a fix newer than every derived one from the live document, without range reads', async () => {
    const ranges: string[] = [];
    const tracker = new TrackerStore(
      watched(new MemoryDocumentStore(), {
        find: (name) => {
          ranges.push(name);
        },
      }),
      { config: C },
    );
    const east = (m: number) => destination(START, 90, m);
    const all = Array.from({ length: 12 }, (_, i) => ({ t: T0 + i * 1000, ...east(i * 15), key: `e${i}` }));
    for (const f of all) await record(tracker, f);
    // The first fix has no live document yet; every later one folds onto it.
    expect(ranges).toEqual(['fleet_track', 'fleet_positions']);
    const points = await tracker.track.find({}, { sort: { _id: 1 } });
    expect(points.map(({ _id, vehicleId, state, fixesSeen, ...p }) => p)).toStrictEqual(
      deriveTrack(all, C).points,
    );
    expect(points.map((p) => p.fixesSeen)).toEqual(all.map((_, i) => i + 1));
  });

  it('after a fold that failed half-way, folds the next fix from complete history and heals what it left', async () => {
    let failOn: number | undefined;
    const tracker = new TrackerStore(
      watched(new MemoryDocumentStore(), {
        updateOne: (name, filter) => {
          // The live document's write, the last of a fold: its points and trips are written by then.
          if (name === 'fleet_vehicles' && failOn !== undefined && String(filter._id) === 'v-1') {
            failOn = undefined;
            throw new Error('store connection lost');
          }
        },
      }),
      { config: C, busyPollMs: 1 },
    );
    const east = (m: number) => destination(START, 90, m);
    const all = Array.from({ length: 10 }, (_, i) => ({
      t: T0 + i * 1000,
      ...east(i * i * 3),
      key: `e${i}`,
    }));
    for (const [i, f] of all.entries()) {
      if (i === 5) failOn = i;
      await record(tracker, f).catch(() => undefined); // fix 5 fails: the broker would deliver it again later
    }
    const history = async () => {
      const points = await tracker.track.find({}, { sort: { _id: 1 } });
      expect(points.map(({ _id, vehicleId, state, fixesSeen, ...p }) => p)).toStrictEqual(
        deriveTrack(all, C).points,
      );
      expect(points.map((p) => p.fixesSeen)).toEqual(all.map((_, i) => i + 1));
      expect((await tracker.vehicles.findOne({ _id: 'v-1' }))?.fixesSeen).toBe(all.length);
    };
    // Fix 6 found the failed fold's lease expired and folded from the points it had written, not from the
    // stale live document: history is right before fix 5 comes again.
    await history();
    await record(tracker, all[5] as Fix); // the redelivery
    await history();
  });
});

/** `store` with a hook called before each `find` / `updateOne` on any collection (by name). */
function watched(
  store: DocumentStore,
  hooks: {
    find?: (name: string) => void;
    updateOne?: (name: string, filter: Record<string, unknown>) => void;
  },
): DocumentStore {
  return {
    kind: store.kind,
    ping: () => store.ping(),
    close: () => store.close(),
    collection<T extends Doc>(name: string): Collection<T> {
      const c = store.collection<T>(name);
      return new Proxy(c, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          if (prop === 'find' && hooks.find)
            return (...args: unknown[]) => {
              hooks.find?.(name);
              return value.apply(target, args);
            };
          if (prop === 'updateOne' && hooks.updateOne)
            return async (...args: unknown[]) => {
              hooks.updateOne?.(name, args[0] as Record<string, unknown>);
              return value.apply(target, args);
            };
          return value.bind(target);
        },
      });
    },
  } as DocumentStore;
}
