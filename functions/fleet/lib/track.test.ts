import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS } from './fleet.ts';
import { destination, type LatLon } from './geo.ts';
import {
  deriveTrack,
  type Fix,
  fold,
  INITIAL_STATE,
  orderFixes,
  PointKind,
  step,
  type TrackState,
} from './track.ts';

const C = FLEET_DEFAULTS;
const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const DEPOT: LatLon = { lat: 48.8566, lon: 2.3522 };

/** A drive, one fix a second: stand still (with noise), or go east/north at a speed. */
class Drive {
  readonly fixes: Fix[] = [];
  t = T0;
  at: LatLon = DEPOT;
  #n = 0;
  fix(where: LatLon = this.at): this {
    this.fixes.push({
      t: this.t,
      lat: where.lat,
      lon: where.lon,
      key: `e-${String(this.#n++).padStart(5, '0')}`,
    });
    return this;
  }
  /** `seconds` fixes in place, each up to `noiseM` off (deterministic wobble). */
  park(seconds: number, noiseM = 0): this {
    for (let i = 0; i < seconds; i++) {
      this.t += 1000;
      this.fix(noiseM === 0 ? this.at : destination(this.at, (i * 137) % 360, noiseM * ((i % 3) / 2)));
    }
    return this;
  }
  drive(seconds: number, speedKmh: number, bearing = 90): this {
    for (let i = 0; i < seconds; i++) {
      this.t += 1000;
      this.at = destination(this.at, bearing, speedKmh / 3.6);
      this.fix();
    }
    return this;
  }
  silence(seconds: number): this {
    this.t += seconds * 1000;
    return this;
  }
}

describe('step', () => {
  it('accepts a vehicle’s first fix, standing, speed 0', () => {
    const s = step(INITIAL_STATE, { t: T0, ...DEPOT, key: 'a' }, C);
    expect(s.point).toMatchObject({ kind: 'accepted', speedKmh: 0, moving: false, distanceM: 0 });
    expect(s.transitions).toEqual([]);
  });

  it('derives speed and heading from the last accepted fix', () => {
    const { points } = deriveTrack(new Drive().fix().drive(10, 36).fixes, C);
    const last = points.at(-1);
    expect(last?.speedKmh).toBeCloseTo(36, 6);
    expect(last?.headingDeg).toBeCloseTo(90, 1);
    expect(last?.moving).toBe(true);
  });

  it('rejects a fix that would need more than the maximum speed, with its reason, and measures the next from before it', () => {
    const d = new Drive().fix().drive(5, 36);
    const before = d.at;
    d.t += 1000;
    d.fix(destination(before, 0, 10_000)); // 10 km in a second
    d.drive(1, 36);
    const { points } = deriveTrack(d.fixes, C);
    const jump = points[6];
    expect(jump).toMatchObject({ kind: 'rejected', reason: 'implausible-speed', moving: true });
    expect(jump?.speedKmh).toBeGreaterThan(30_000);
    expect(points[7]).toMatchObject({ kind: 'accepted' });
    // 10 m in the 2 s since the last accepted fix: 18 km/h, nothing from the jump.
    expect(points[7]?.speedKmh).toBeCloseTo(18, 6);
  });

  it('moves a vehicle that reappears elsewhere once two fixes in a row agree there (a relocation, not a jump)', () => {
    const d = new Drive().fix().park(5);
    d.silence(20);
    d.at = destination(DEPOT, 0, 8000); // 8 km away after 21 s: 1370 km/h from the last accepted fix
    d.fix().park(3);
    const { points } = deriveTrack(d.fixes, C);
    expect(points[6]).toMatchObject({ kind: 'rejected', reason: 'implausible-speed' });
    expect(points[7]).toMatchObject({ kind: 'accepted', speedKmh: 0, moving: false });
    expect(points.slice(8).every((p) => p.kind === 'jitter')).toBe(true);
  });

  it('keeps a parked vehicle where it is: noise under the minimum move is jitter, speed 0', () => {
    const { points, trips } = deriveTrack(new Drive().fix().park(120, 6).fixes, C);
    expect(points.slice(1).every((p) => p.kind === PointKind.jitter && p.speedKmh === 0 && !p.moving)).toBe(
      true,
    );
    expect(trips).toEqual([]);
  });
});

describe('trips', () => {
  it('starts a trip once it covered 500 m and ends it where it stopped, once stopped 300 s', () => {
    const d = new Drive().fix().park(60, 5).drive(200, 36); // 2 km in 200 s
    const stop = d.at;
    const stoppedAt = d.t;
    d.park(400, 5);
    const folded = fold(INITIAL_STATE, orderFixes(d.fixes), C);
    const transitions = folded.steps.flatMap((s) => s.transitions);
    expect(transitions.map((t) => t.kind)).toEqual(['started', 'ended']);
    const [started, ended] = transitions;
    // The movement began at the last accepted fix before the first moving one: 20 m out of the depot at 62 s
    // (the first 10 m were jitter of the parked vehicle, the next 10 m too slow from there to be moving).
    expect(started?.trip.startT).toBe(T0 + 62_000);
    // It became a trip at the fix that took it past 500 m (10 m a second).
    expect(started?.trip.distanceM).toBeGreaterThanOrEqual(500);
    expect(started?.trip.distanceM).toBeLessThan(510);
    expect(ended?.at).toBe(stoppedAt + 300_000);
    const { trips } = deriveTrack(d.fixes, C);
    expect(trips).toHaveLength(1);
    expect(trips[0]?.endT).toBe(stoppedAt);
    expect(trips[0]?.end?.lat).toBeCloseTo(stop.lat, 9);
    expect(trips[0]?.distanceM).toBeCloseTo(1980, 3);
    expect(trips[0]?.maxSpeedKmh).toBeCloseTo(36, 6);
  });

  it('keeps one trip through a red light (stops shorter than 300 s)', () => {
    const d = new Drive().fix().drive(100, 36).park(60, 3).drive(100, 36).park(400);
    expect(deriveTrack(d.fixes, C).trips).toHaveLength(1);
  });

  it('drops a movement that stops before it became a trip (under 500 m and 300 s)', () => {
    const d = new Drive().fix().drive(20, 36).park(400);
    expect(deriveTrack(d.fixes, C).trips).toEqual([]);
  });

  it('counts a slow long movement as a trip by its duration', () => {
    const d = new Drive().fix().drive(320, 5).park(400); // 444 m in 320 s
    expect(deriveTrack(d.fixes, C).trips).toHaveLength(1);
  });

  it('ends a trip at the last fix when the device went silent for longer than the stop threshold', () => {
    const d = new Drive().fix().drive(100, 36);
    const lastMoving = d.t;
    d.silence(3600).fix().park(2);
    const { trips } = deriveTrack(d.fixes, C);
    expect(trips).toHaveLength(1);
    expect(trips[0]?.endT).toBe(lastMoving);
  });

  it('leaves a trip that goes on without an end', () => {
    const { trips } = deriveTrack(new Drive().fix().drive(100, 36).fixes, C);
    expect(trips).toHaveLength(1);
    expect(trips[0]?.endT).toBeUndefined();
  });
});

describe('orderFixes', () => {
  it('keeps one fix per time: the smallest key, whatever the order', () => {
    const a = { t: 1, lat: 1, lon: 1, key: 'b' };
    const b = { t: 1, lat: 2, lon: 2, key: 'a' };
    expect(orderFixes([a, b])).toEqual([b]);
    expect(orderFixes([b, a])).toEqual([b]);
  });
});

/**
 * A drive made of random pieces: parked with noise, driving, red lights, silences, jumps; pieces up to `scale`
 * seconds (thresholds are scaled with it, so short drives still make and end trips).
 */
const driveOf = (scale: number) =>
  fc
    .array(
      fc.oneof(
        fc.record({ park: fc.integer({ min: 1, max: scale }), noise: fc.integer({ min: 0, max: 12 }) }),
        fc.record({
          drive: fc.integer({ min: 1, max: scale }),
          speed: fc.integer({ min: 1, max: 130 }),
          bearing: fc.integer({ min: 0, max: 359 }),
        }),
        fc.record({ silence: fc.integer({ min: 1, max: 10 * scale }) }),
        fc.record({ jump: fc.integer({ min: 2_000, max: 50_000 }) }),
      ),
      { minLength: 1, maxLength: 12 },
    )
    .map((pieces) => {
      const d = new Drive().fix();
      for (const p of pieces) {
        if ('park' in p) d.park(p.park, p.noise);
        else if ('drive' in p) d.drive(p.drive, p.speed, p.bearing);
        else if ('silence' in p) d.silence(p.silence).fix();
        else {
          d.t += 1000;
          d.fix(destination(d.at, 45, p.jump));
        }
      }
      return d.fixes;
    });

/** The fixes in another order, some of them several times (redeliveries, device resends). */
const deliveredAs = (fixes: readonly Fix[]) =>
  fc
    .tuple(
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
        minLength: fixes.length,
        maxLength: fixes.length,
      }),
      fc.array(fc.nat({ max: fixes.length - 1 }), { maxLength: 50 }),
    )
    .map(([ranks, dupes]) =>
      [...fixes, ...dupes.map((i) => fixes[i] as Fix)]
        .map((f, i) => ({ f, r: ranks[i % ranks.length] ?? 0 }))
        .sort((x, y) => x.r - y.r)
        .map((x) => x.f),
    );

/** Traccar's thresholds over 10: trips of 50 m or 30 s, ended by 30 s stops. */
const SMALL = { ...C, tripMinDistanceM: 50, tripMinDurationMs: 30_000, stopMinDurationMs: 30_000 };
const drive = driveOf(45);

// Property tests: deadlines that only bound a hang on a loaded machine.
describe('deriveTrack (properties)', () => {
  it('gives the same history and trips for any permutation or duplication of a long drive (default thresholds)', () => {
    fc.assert(
      fc.property(
        driveOf(420).chain((fixes) => fc.tuple(fc.constant(fixes), deliveredAs(fixes))),
        ([fixes, delivered]) => {
          expect(deriveTrack(delivered, C)).toStrictEqual(deriveTrack(fixes, C));
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);

  it('gives the same history and trips for any permutation or duplication of a vehicle’s fixes', () => {
    fc.assert(
      fc.property(
        drive.chain((fixes) => fc.tuple(fc.constant(fixes), deliveredAs(fixes))),
        ([fixes, delivered]) => {
          const track = deriveTrack(delivered, SMALL);
          expect(track).toStrictEqual(deriveTrack(fixes, SMALL));
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000);

  it('gives the same result when fixes arrive one by one in any order and each is folded from its predecessor’s state (the tracker’s way)', () => {
    fc.assert(
      fc.property(
        drive.chain((fixes) => fc.tuple(fc.constant(fixes), deliveredAs(fixes))),
        ([fixes, delivered]) => {
          // What the tracker keeps: the raw fixes, and per fix time its point and the state after it.
          const raw = new Map<number, Fix>();
          const derived = new Map<number, { point: unknown; state: TrackState }>();
          for (const f of delivered) {
            const seen = raw.get(f.t);
            if (seen === undefined || f.key < seen.key) raw.set(f.t, f);
            const before = [...derived.keys()].filter((t) => t < f.t).sort((a, b) => b - a)[0];
            const from = before === undefined ? INITIAL_STATE : (derived.get(before)?.state ?? INITIAL_STATE);
            const after = orderFixes([...raw.values()].filter((r) => before === undefined || r.t > before));
            for (const s of fold(from, after, SMALL).steps)
              derived.set(s.point.t, { point: s.point, state: s.state });
          }
          const whole = deriveTrack(fixes, SMALL);
          const incremental = [...derived.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v.point);
          expect(incremental).toStrictEqual(whole.points);
          expect(derived.get(Math.max(...derived.keys()))?.state).toStrictEqual(whole.state);
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it('never accepts a fix that implies more than the maximum speed, and never gives a negative speed', () => {
    fc.assert(
      fc.property(drive, (fixes) => {
        for (const p of deriveTrack(fixes, C).points) {
          expect(p.speedKmh).toBeGreaterThanOrEqual(0);
          if (p.kind === PointKind.accepted) expect(p.speedKmh).toBeLessThanOrEqual(C.maxSpeedKmh);
        }
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});
