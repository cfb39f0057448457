import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bearingDegrees, destination, EARTH_RADIUS_M, haversineMeters, kmh } from './geo.ts';

const point = fc.record({
  lat: fc.double({ min: -85, max: 85, noNaN: true }),
  lon: fc.double({ min: -179.9, max: 179.9, noNaN: true }),
});

describe('haversineMeters', () => {
  it('measures one degree of latitude as πR/180 with the pinned radius', () => {
    expect(haversineMeters({ lat: 0, lon: 0 }, { lat: 1, lon: 0 })).toBeCloseTo(
      (Math.PI * EARTH_RADIUS_M) / 180,
      6,
    );
    expect(EARTH_RADIUS_M).toBe(6_371_008.8);
  });

  it('gives a quarter of a great circle from the equator to the pole, and along the equator', () => {
    const quarter = (Math.PI * EARTH_RADIUS_M) / 2;
    expect(haversineMeters({ lat: 0, lon: 30 }, { lat: 90, lon: 30 })).toBeCloseTo(quarter, 3);
    expect(haversineMeters({ lat: 0, lon: -45 }, { lat: 0, lon: 45 })).toBeCloseTo(quarter, 3);
  });

  it('is symmetric, zero on the same point, and never more than half the circumference', () => {
    fc.assert(
      fc.property(point, point, (a, b) => {
        expect(haversineMeters(a, b)).toBeCloseTo(haversineMeters(b, a), 6);
        expect(haversineMeters(a, a)).toBe(0);
        expect(haversineMeters(a, b)).toBeLessThanOrEqual(Math.PI * EARTH_RADIUS_M + 1e-6);
      }),
    );
  });
});

describe('bearingDegrees', () => {
  it('reads north, east, south and west', () => {
    const o = { lat: 10, lon: 10 };
    expect(bearingDegrees(o, { lat: 11, lon: 10 })).toBeCloseTo(0, 6);
    expect(bearingDegrees(o, { lat: 10, lon: 10.001 })).toBeCloseTo(90, 2);
    expect(bearingDegrees(o, { lat: 9, lon: 10 })).toBeCloseTo(180, 6);
    expect(bearingDegrees(o, { lat: 10, lon: 9.999 })).toBeCloseTo(270, 2);
  });

  it('is in [0, 360)', () => {
    fc.assert(
      fc.property(point, point, (a, b) => {
        const deg = bearingDegrees(a, b);
        expect(deg).toBeGreaterThanOrEqual(0);
        expect(deg).toBeLessThan(360);
      }),
    );
  });
});

describe('destination', () => {
  it('lands the given distance away on the given bearing', () => {
    fc.assert(
      fc.property(
        point,
        fc.double({ min: 0, max: 359.9, noNaN: true }),
        fc.double({ min: 1, max: 50_000, noNaN: true }),
        (from, bearing, meters) => {
          const to = destination(from, bearing, meters);
          expect(haversineMeters(from, to)).toBeCloseTo(meters, 3);
          const back = bearingDegrees(from, to);
          const diff = Math.abs(((back - bearing + 540) % 360) - 180);
          expect(diff).toBeLessThan(0.01);
        },
      ),
    );
  });
});

describe('kmh', () => {
  it('turns 10 m/s into 36 km/h', () => expect(kmh(10)).toBeCloseTo(36, 12));
});
