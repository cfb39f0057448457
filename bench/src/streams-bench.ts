/**
 * Pure parts of the streams benchmark (streams-host.ts): the manifests it runs (a RabbitmqSource → the broker →
 * one Trigger → window-aggregator, classic queues like the amqplib floor's), the readings it sends, the windows
 * they must give and the comparison with the ones window-closer published. Unit-tested without RabbitMQ.
 */
import type { EventingManifests } from '../../eventing/src/index.ts';
import { type SourceBenchRun, sourceBenchManifests } from './source-bench.ts';

export const STREAMS_FUNCTION = 'window-aggregator';
export const STREAMS_DEAD_LETTER = 'dead-letter-sink';
export const READING_TYPE = 'dev.sluice.streams.reading.recorded.v1';
export const READING_SOURCE = '/bench/streams';
export const WINDOW_MS = 60_000;

export interface StreamsBenchArgs {
  readonly url: string;
  /** Readings measured (distinct; 1 % more are resent duplicates). */
  readonly readings: number;
  /** Readings sent first, not measured (cold start, queues declared, caches). */
  readonly warmup: number;
  readonly sensors: number;
  /** The source's and the trigger's parallelism (= the floor's publishes in flight and prefetch). */
  readonly inFlight: number;
  readonly serverCpu: string;
}

export function parseStreamsBenchArgs(text: string | undefined): StreamsBenchArgs {
  const raw = JSON.parse(text ?? '{}') as Partial<Record<keyof StreamsBenchArgs, unknown>>;
  const num = (k: 'readings' | 'warmup' | 'sensors' | 'inFlight'): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (k === 'warmup' ? 0 : 1))
      throw new Error(`streams-host: bad ${k}`);
    return v;
  };
  if (typeof raw.url !== 'string') throw new Error('streams-host: url missing');
  return {
    url: raw.url,
    readings: num('readings'),
    warmup: num('warmup'),
    sensors: num('sensors'),
    inFlight: num('inFlight'),
    serverCpu: typeof raw.serverCpu === 'string' ? raw.serverCpu : '0',
  };
}

/** Broker + its dead-letter sink, the source on `exchange`/`queue` (predeclared classic), one trigger. */
export function streamsBenchManifests(o: SourceBenchRun): EventingManifests {
  return sourceBenchManifests({
    ...o,
    source: 'bench-readings',
    eventType: READING_TYPE,
    subscriber: STREAMS_FUNCTION,
    deadLetterSink: STREAMS_DEAD_LETTER,
  });
}

export interface BenchReading {
  readonly id: string;
  readonly sensorId: string;
  readonly timeMs: number;
  readonly value: number;
  readonly unit: string;
}

/** Reading `n` of a run: round-robin sensors, a value from n alone, the event time given (when it is sent). */
export function benchReading(run: string, n: number, sensors: number, timeMs: number): BenchReading {
  return {
    id: `${run}-${n}`,
    sensorId: `bench-${String(n % sensors).padStart(3, '0')}`,
    timeMs,
    value: ((n * 7919) % 10_007) / 100,
    unit: 'C',
  };
}

export interface WindowFigures {
  readonly sensorId: string;
  readonly windowStart: string;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/** The windows `readings` make (a resent id counts once), keyed `<sensor>|<window start>`. */
export function expectedWindows(readings: Iterable<BenchReading>): Map<string, WindowFigures> {
  const byId = new Map<string, BenchReading>();
  for (const r of readings) if (!byId.has(r.id)) byId.set(r.id, r);
  const acc = new Map<string, { sensorId: string; windowStart: string; values: number[] }>();
  for (const r of byId.values()) {
    const windowStart = new Date(Math.floor(r.timeMs / WINDOW_MS) * WINDOW_MS).toISOString();
    const key = `${r.sensorId}|${windowStart}`;
    const a = acc.get(key) ?? { sensorId: r.sensorId, windowStart, values: [] };
    a.values.push(r.value);
    acc.set(key, a);
  }
  const out = new Map<string, WindowFigures>();
  for (const [key, a] of acc) {
    const sum = a.values.reduce((s, v) => s + v, 0);
    out.set(key, {
      sensorId: a.sensorId,
      windowStart: a.windowStart,
      count: a.values.length,
      sum,
      min: Math.min(...a.values),
      max: Math.max(...a.values),
      mean: sum / a.values.length,
    });
  }
  return out;
}

const close = (a: number, b: number): boolean =>
  Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * What differs between the expected windows and the published ones (window.closed data): missing, extra, or
 * other figures (count, min, max exactly; sum and mean up to float rounding, whose order the system fixes
 * differently). Empty = exact.
 */
export function compareWindows(
  expected: ReadonlyMap<string, WindowFigures>,
  published: readonly WindowFigures[],
): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const w of published) {
    const key = `${w.sensorId}|${w.windowStart}`;
    if (seen.has(key)) problems.push(`${key}: published twice`);
    seen.add(key);
    const e = expected.get(key);
    if (e === undefined) {
      problems.push(`${key}: not expected`);
      continue;
    }
    if (
      w.count !== e.count ||
      w.min !== e.min ||
      w.max !== e.max ||
      !close(w.sum, e.sum) ||
      !close(w.mean, e.mean)
    )
      problems.push(`${key}: ${JSON.stringify(w)} instead of ${JSON.stringify(e)}`);
  }
  for (const key of expected.keys()) if (!seen.has(key)) problems.push(`${key}: missing`);
  return problems;
}
