/**
 * Event-time tumbling windows, pure: which window a reading falls in, the watermark, and a window's
 * summary as a function of the *set* of its readings. The summary sorts the readings by their key
 * before adding, so floating-point sums do not depend on arrival order, and a duplicate (same key)
 * counts once: any permutation and duplication of the same readings gives the same summary, bit for bit.
 */
import { createHash } from 'node:crypto';
import type { StreamsConfig } from './streams.ts';

export interface Reading {
  /** Identity of the reading: hash of its CloudEvent source and id (a redelivery or resend has the same). */
  readonly key: string;
  readonly sensorId: string;
  readonly timeMs: number;
  readonly value: number;
  readonly unit: string;
}

export interface Summary {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/** CloudEvents: source + id identify an event; 22 base64url characters of SHA-256 keep ids short. */
export function readingKey(source: string, id: string): string {
  // Length-prefixed, so no (source, id) pair can be spelt as another.
  return createHash('sha256').update(`${source.length}:${source}${id}`).digest('base64url').slice(0, 22);
}

export function windowStartOf(timeMs: number, windowMs: number): number {
  return Math.floor(timeMs / windowMs) * windowMs;
}

/** `<sensor>|<window start ISO>`: the `_id` of a window's documents; its readings sort under it. */
export function windowKey(sensorId: string, windowStartMs: number): string {
  return `${sensorId}|${new Date(windowStartMs).toISOString()}`;
}

/** The `_id` of a reading: its window's key, then its own, so a window's readings are one `_id` range. */
export function readingId(window: string, key: string): string {
  return `${window}|${key}`;
}

/** The end of the `_id` range of a window's readings ('~' sorts after every base64url character). */
export const readingRange = (window: string): { $gte: string; $lt: string } => ({
  $gte: `${window}|`,
  $lt: `${window}|~`,
});

/** The summary of a window's readings, independent of their order and of duplicates. */
export function summarize(readings: Iterable<Pick<Reading, 'key' | 'value'>>): Summary | undefined {
  const byKey = new Map<string, number>();
  for (const r of readings) if (!byKey.has(r.key)) byKey.set(r.key, r.value);
  if (byKey.size === 0) return undefined;
  const keys = [...byKey.keys()].sort();
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const k of keys) {
    const v = byKey.get(k) as number;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { count: keys.length, sum, min, max, mean: sum / keys.length };
}

/**
 * What the stores keep of the watermark: the highest event time seen, when (processing time) it moved, and when
 * a reading last arrived (to the second; absent in documents written before it was kept).
 */
export interface WatermarkState {
  readonly maxEventTimeMs: number;
  readonly advancedAtMs: number;
  readonly seenAtMs?: number;
}

/**
 * The watermark at processing time `nowMs`: max event time seen − allowed lateness. When no reading has arrived
 * for `idleAfterMs` (the stream stopped), event time is taken to follow the clock from the last one, so the last
 * windows close too. Idle is Flink's "no records arrive", not "the watermark did not move": readings that arrive
 * without raising the max (a slow or out-of-order backlog) still belong to windows that are open, and closing them
 * under it would make those readings late. Undefined before the first reading.
 */
export function watermarkAt(
  state: WatermarkState | undefined,
  nowMs: number,
  config: Pick<StreamsConfig, 'allowedLatenessMs' | 'idleAfterMs'>,
): number | undefined {
  if (state === undefined) return undefined;
  const base = state.maxEventTimeMs - config.allowedLatenessMs;
  const idle = nowMs - Math.max(state.advancedAtMs, state.seenAtMs ?? state.advancedAtMs);
  return idle >= config.idleAfterMs ? base + idle : base;
}

/** A window is passed (final) once the watermark reached its end. */
export const isPassed = (windowEndMs: number, watermarkMs: number | undefined): boolean =>
  watermarkMs !== undefined && windowEndMs <= watermarkMs;
