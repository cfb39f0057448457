/**
 * Simulated vehicles on the shipped routes, one fix per vehicle per tick, seeded (the same seed, the same
 * drive). Vehicles keep to their route's speed (each a little faster or slower), wait at red lights, stop at
 * the depot now and then for longer than a trip's stop threshold (so trips end), and report what real devices
 * report: GPS noise, jitter while parked, and faults — a fix sent twice (a resend: a new event id, the same fix
 * time), a fix held back and sent late (out of order), and the occasional impossible jump.
 */
import { seededUniform } from '../../runtime/src/index.ts';
import { bearingDegrees, destination, haversineMeters, type LatLon } from '../lib/geo.ts';
import type { Route } from '../lib/routes.ts';

export interface FaultRates {
  /** Share of fixes sent a second time, 0..1. @default 0.01 */
  readonly duplicate: number;
  /** Share of fixes held back 2–8 s (they arrive after later ones). @default 0.01 */
  readonly late: number;
  /** Share of fixes 5–50 km off. @default 0.002 */
  readonly jump: number;
}

export const DEFAULT_FAULTS: FaultRates = { duplicate: 0.01, late: 0.01, jump: 0.002 };

export interface SimulationOptions {
  readonly vehicles: number;
  readonly routes: readonly Route[];
  readonly seed: number;
  /** Fix time of the first tick. */
  readonly startMs: number;
  /** Seconds between a vehicle's fixes. @default 1 */
  readonly intervalS?: number;
  readonly faults?: FaultRates;
  /** Standard deviation of the GPS noise, metres. @default 3 */
  readonly noiseM?: number;
  /** Share of loop ends where a vehicle parks at its depot for 5.5–7 minutes. @default 0.35 */
  readonly depotStopShare?: number;
  /** Vehicle ids are `<prefix>-001`, `<prefix>-002`, … @default 'v' */
  readonly prefix?: string;
}

export type FixKind = 'fix' | 'duplicate' | 'late' | 'jump';

export interface SimulatedFix {
  readonly vehicleId: string;
  readonly id: string;
  readonly fixT: number;
  readonly lat: number;
  readonly lon: number;
  readonly accuracyM: number;
  /** When to send it, on the fix clock (later than fixT for a late one). */
  readonly sendAt: number;
  readonly kind: FixKind;
}

interface Vehicle {
  readonly id: string;
  readonly route: Route;
  readonly speedFactor: number;
  /** Index of the segment's start point, and metres along that segment. */
  segment: number;
  along: number;
  direction: 1 | -1;
  /** Standing still until this fix time (a red light or the depot). */
  waitUntil: number;
  seq: number;
}

export class Simulation {
  readonly #rand: () => number;
  readonly #vehicles: Vehicle[];
  readonly #interval: number;
  readonly #faults: FaultRates;
  readonly #noise: number;
  readonly #depotShare: number;
  #t: number;

  constructor(options: SimulationOptions) {
    if (options.routes.length === 0) throw new Error('no routes to drive');
    this.#rand = seededUniform(options.seed);
    this.#interval = options.intervalS ?? 1;
    this.#faults = options.faults ?? DEFAULT_FAULTS;
    this.#noise = options.noiseM ?? 3;
    this.#depotShare = options.depotStopShare ?? 0.35;
    this.#t = options.startMs;
    const width = String(options.vehicles).length < 3 ? 3 : String(options.vehicles).length;
    this.#vehicles = Array.from({ length: options.vehicles }, (_, i) => {
      const route = options.routes[i % options.routes.length] as Route;
      // Spread out along the route, a few already waiting at the depot.
      return {
        id: `${options.prefix ?? 'v'}-${String(i + 1).padStart(width, '0')}`,
        route,
        speedFactor: 0.8 + this.#rand() * 0.3,
        segment: Math.floor(this.#rand() * (route.points.length - 1)),
        along: 0,
        direction: 1,
        waitUntil: this.#rand() < 0.1 ? options.startMs + this.#rand() * 120_000 : 0,
        seq: 0,
      };
    });
  }

  get vehicleIds(): string[] {
    return this.#vehicles.map((v) => v.id);
  }

  /** The next tick: each vehicle moves on by one interval and reports (and now and then misreports) its fix. */
  tick(): SimulatedFix[] {
    const t = this.#t;
    this.#t += this.#interval * 1000;
    const out: SimulatedFix[] = [];
    for (const v of this.#vehicles) {
      if (t >= v.waitUntil) this.#drive(v, t, this.#interval);
      const truth = this.#position(v);
      const noisy = destination(truth, this.#rand() * 360, Math.abs(this.#gauss()) * this.#noise);
      const r = this.#rand();
      const f = this.#faults;
      const fix = (kind: FixKind, where: LatLon, sendAt: number, suffix = ''): SimulatedFix => ({
        vehicleId: v.id,
        id: `fix-${v.id}-${String(v.seq).padStart(7, '0')}${suffix}`,
        fixT: t,
        lat: Number(where.lat.toFixed(7)),
        lon: Number(where.lon.toFixed(7)),
        accuracyM: Number((this.#noise * (1 + this.#rand())).toFixed(1)),
        sendAt,
        kind,
      });
      if (r < f.jump)
        out.push(fix('jump', destination(truth, this.#rand() * 360, 5000 + this.#rand() * 45_000), t));
      else if (r < f.jump + f.late) out.push(fix('late', noisy, t + 2000 + Math.floor(this.#rand() * 6000)));
      else {
        const sent = fix('fix', noisy, t);
        out.push(sent);
        if (r < f.jump + f.late + f.duplicate)
          out.push({ ...sent, id: `${sent.id}-resent`, kind: 'duplicate', sendAt: t + 500 });
      }
      v.seq++;
    }
    return out;
  }

  #gauss(): number {
    // Box–Muller.
    return Math.sqrt(-2 * Math.log(1 - this.#rand())) * Math.cos(2 * Math.PI * this.#rand());
  }

  #position(v: Vehicle): LatLon {
    const pts = v.route.points;
    const a = pts[v.segment] as LatLon;
    const b = pts[v.segment + v.direction] as LatLon;
    return v.along <= 0 ? a : destination(a, bearingDegrees(a, b), v.along);
  }

  #drive(v: Vehicle, t: number, seconds: number): void {
    let left = ((v.route.speedKmh * v.speedFactor) / 3.6) * seconds;
    const pts = v.route.points;
    while (left > 0) {
      const a = pts[v.segment] as LatLon;
      const b = pts[v.segment + v.direction] as LatLon;
      const length = haversineMeters(a, b);
      if (v.along + left < length) {
        v.along += left;
        return;
      }
      left -= length - v.along;
      v.segment += v.direction;
      v.along = 0;
      const end = v.direction === 1 ? v.segment === pts.length - 1 : v.segment === 0;
      if (end) {
        if (v.route.loop) v.segment = 0;
        else v.direction = v.direction === 1 ? -1 : 1;
        const atDepot = v.route.loop || v.segment === 0;
        if (atDepot && this.#rand() < this.#depotShare) {
          v.waitUntil = t + 330_000 + this.#rand() * 90_000;
          return;
        }
      }
      if (v.route.lights.includes(v.segment) && this.#rand() < 0.5) {
        v.waitUntil = t + 10_000 + this.#rand() * 35_000;
        return;
      }
    }
  }
}
