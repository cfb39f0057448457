/**
 * The readings `make stream` sends, as a pure, seeded plan: SENSORS sensors at RATE readings/s in all for
 * DURATION, event time = when measured, with the disorder a real fleet of sensors shows:
 * - out of order: each reading is sent up to `jitterMs` after it was measured (less than the allowed lateness,
 *   so these still count);
 * - late: `lateRatio` of them are held back `lateByMs` (past their window's end plus the lateness: too late);
 * - duplicates: `duplicateRatio` are sent twice (same CloudEvent id: a producer's retry);
 * - bursts: every `burstEveryS` seconds, one second at `burstFactor` × the rate.
 */
import { seededUniform } from '../../runtime/src/index.ts';

export interface PlanOptions {
  readonly sensors: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly startMs: number;
  readonly jitterMs?: number;
  readonly lateRatio?: number;
  readonly lateByMs?: number;
  readonly duplicateRatio?: number;
  readonly burstEveryS?: number;
  readonly burstFactor?: number;
}

export interface PlannedReading {
  readonly id: string;
  readonly sensorId: string;
  readonly timeMs: number;
  readonly value: number;
  readonly unit: string;
  /** When to send it, from the start of the run (ms). */
  readonly sendAtMs: number;
  readonly kind: 'on-time' | 'late' | 'duplicate';
}

const UNITS = ['C', '%', 'hPa'] as const;

export const sensorName = (i: number): string => `s-${String(i).padStart(3, '0')}`;

export function planReadings(o: PlanOptions): PlannedReading[] {
  const random = seededUniform(o.seed);
  const jitter = o.jitterMs ?? 3000;
  const lateRatio = o.lateRatio ?? 0.01;
  const lateBy = o.lateByMs ?? 90_000;
  const dupRatio = o.duplicateRatio ?? 0.01;
  const burstEvery = o.burstEveryS ?? 15;
  const burstFactor = o.burstFactor ?? 3;
  const out: PlannedReading[] = [];
  const seconds = Math.ceil(o.durationMs / 1000);
  let n = 0;
  for (let s = 0; s < seconds; s++) {
    const perSecond = Math.round(s > 0 && s % burstEvery === 0 ? o.rate * burstFactor : o.rate);
    for (let k = 0; k < perSecond; k++) {
      const offset = s * 1000 + Math.floor((k * 1000) / perSecond);
      const sensor = n % o.sensors;
      const unit = UNITS[sensor % UNITS.length] as string;
      const base = unit === 'C' ? 20 : unit === '%' ? 50 : 1000;
      const value = Math.round((base + (random() - 0.5) * 10) * 100) / 100;
      const late = random() < lateRatio;
      const reading: PlannedReading = {
        // Unique per run (its start) as well as per reading: a second `make stream` must not look like a resend.
        id: `reading-${o.startMs.toString(36)}-${o.seed}-${n}`,
        sensorId: sensorName(sensor),
        timeMs: o.startMs + offset,
        value,
        unit,
        sendAtMs: offset + (late ? lateBy : Math.floor(random() * jitter)),
        kind: late ? 'late' : 'on-time',
      };
      out.push(reading);
      if (random() < dupRatio) {
        out.push({ ...reading, sendAtMs: reading.sendAtMs + Math.floor(random() * 2000), kind: 'duplicate' });
      }
      n++;
    }
  }
  return out.sort((a, b) => a.sendAtMs - b.sendAtMs);
}
