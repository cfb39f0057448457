import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS } from '../lib/fleet.ts';
import { loadRoutes } from '../lib/routes.ts';
import { deriveTrack } from '../lib/track.ts';
import { type SimulatedFix, Simulation } from './simulation.ts';

const routes = loadRoutes();
const T0 = Date.parse('2026-03-01T08:00:00.000Z');

function run(ticks: number, vehicles = 8, seed = 1): SimulatedFix[] {
  const sim = new Simulation({ vehicles, routes, seed, startMs: T0 });
  return Array.from({ length: ticks }, () => sim.tick()).flat();
}

describe('the shipped routes', () => {
  it('are three city loops and one highway run, each loop closed', () => {
    expect(routes.map((r) => [r.id, r.kind, r.loop])).toEqual([
      ['harbour-loop', 'city', true],
      ['old-town-loop', 'city', true],
      ['ring-road', 'city', true],
      ['highway-east', 'highway', false],
    ]);
    for (const r of routes.filter((r) => r.loop)) expect(r.points.at(-1)).toEqual(r.points[0]);
  });
});

describe('Simulation', () => {
  it('drives the same way for the same seed', () => {
    expect(run(30)).toEqual(run(30));
    expect(run(30, 8, 2)).not.toEqual(run(30));
  });

  it('reports one fix per vehicle per tick, at the tick’s time, plus resends', () => {
    const fixes = run(120);
    const firsts = fixes.filter((f) => f.kind !== 'duplicate');
    expect(firsts).toHaveLength(8 * 120);
    expect(new Set(fixes.map((f) => f.id)).size).toBe(fixes.length);
    for (const f of fixes.filter((f) => f.kind === 'duplicate')) {
      const original = fixes.find((o) => o.id === f.id.replace(/-resent$/, ''));
      expect(original).toMatchObject({ fixT: f.fixT, lat: f.lat, lon: f.lon });
    }
  });

  it('sends late fixes after later ones, and now and then an impossible jump', () => {
    const fixes = run(600, 20, 3);
    const late = fixes.filter((f) => f.kind === 'late');
    expect(late.length).toBeGreaterThan(0);
    for (const f of late) expect(f.sendAt - f.fixT).toBeGreaterThanOrEqual(2000);
    expect(fixes.some((f) => f.kind === 'jump')).toBe(true);
  });

  it('moves vehicles at about their route’s speed, stops them at lights and the depot, and the tracker finds trips', () => {
    const fixes = run(1800, 8, 4); // half an hour
    const byVehicle = Map.groupBy(fixes, (f) => f.vehicleId);
    let trips = 0;
    for (const [id, mine] of byVehicle) {
      const route = routes[(Number(id.slice(2)) - 1) % routes.length];
      const track = deriveTrack(
        mine.map((f) => ({ t: f.fixT, lat: f.lat, lon: f.lon, key: f.id })),
        FLEET_DEFAULTS,
      );
      const moving = track.points.filter((p) => p.kind === 'accepted' && p.moving).map((p) => p.speedKmh);
      const median = moving.sort((a, b) => a - b)[Math.floor(moving.length / 2)] ?? 0;
      expect(median).toBeGreaterThan((route?.speedKmh ?? 0) * 0.6);
      expect(median).toBeLessThan((route?.speedKmh ?? 0) * 1.3);
      expect(track.points.some((p) => p.kind === 'jitter')).toBe(true);
      trips += track.trips.filter((t) => t.endT !== undefined).length;
    }
    expect(trips).toBeGreaterThan(0);
  }, 60_000);
});
