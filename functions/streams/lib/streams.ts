/**
 * The streams domain shared by window-aggregator, window-closer, results-api and the reading generator:
 * CloudEvent types, event data shapes, collection names and the configuration both window functions
 * must agree on. The JSON Schemas in each function's `schemas/` are the contract; these types mirror them.
 */
import { ConfigError, durationSettings } from '../../runtime/src/index.ts';

export const StreamsEventType = {
  readingRecorded: 'dev.sluice.streams.reading.recorded.v1',
  readingLate: 'dev.sluice.streams.reading.late.v1',
  windowClosed: 'dev.sluice.streams.window.closed.v1',
  /** What a PingSource sends (knative.dev/eventing mtping): the window-closer's tick. */
  ping: 'dev.knative.sources.ping',
} as const;

/** Sensor ids: the CloudEvent `subject`; matched by `$eq` only, and this pattern keeps them out of operators. */
export const SENSOR_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Collections in the shared database; the window functions own `streams_*`, results-api `streams_view_*`. */
export const Collections = {
  sensors: 'streams_sensors',
  readings: 'streams_readings',
  open: 'streams_open',
  seals: 'streams_seals',
  windows: 'streams_windows',
  late: 'streams_late',
  watermark: 'streams_watermark',
  viewWindows: 'streams_view_windows',
  viewSensors: 'streams_view_sensors',
  viewLate: 'streams_view_late',
} as const;

/** `data` of `…reading.recorded.v1`; the sensor is the event's `subject`, the measurement time its `time`. */
export interface ReadingRecorded {
  readonly value: number;
  readonly unit: string;
}

/** `data` of `…reading.late.v1`: a reading whose window the watermark had passed; kept, replayable. */
export interface ReadingLate {
  readonly sensorId: string;
  readonly time: string;
  readonly value: number;
  readonly unit: string;
  readonly windowStart: string;
  readonly windowEnd: string;
  /** The watermark that had passed the window (ISO 8601). */
  readonly watermark: string;
  /** The original reading event, to replay it elsewhere. */
  readonly reading: { readonly id: string; readonly source: string };
}

/** `data` of `…window.closed.v1`: one sensor's tumbling window, final. */
export interface WindowClosed {
  readonly sensorId: string;
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly unit: string;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

export interface StreamsConfig {
  /** Tumbling window size. @default 60 000 (1m) */
  readonly windowMs: number;
  /** A reading is too late once max event time − this has passed its window's end. @default 10 000 (10s) */
  readonly allowedLatenessMs: number;
  /**
   * Processing time without the watermark advancing after which the closer lets event time follow the
   * clock, so the last windows of a stream that stopped are closed too. @default 30 000 (30s)
   */
  readonly idleAfterMs: number;
}

export const STREAMS_DEFAULTS: Readonly<StreamsConfig> = Object.freeze({
  windowMs: 60_000,
  allowedLatenessMs: 10_000,
  idleAfterMs: 30_000,
});

/** STREAMS_WINDOW, STREAMS_ALLOWED_LATENESS, STREAMS_IDLE_AFTER; every problem at once (ConfigError). */
export function streamsConfig(env: Readonly<Record<string, string | undefined>>): Readonly<StreamsConfig> {
  const problems: string[] = [];
  const read = durationSettings(env, problems, '1m, 10s or 500ms');
  const windowMs = read('STREAMS_WINDOW', STREAMS_DEFAULTS.windowMs, 1000);
  const allowedLatenessMs = read('STREAMS_ALLOWED_LATENESS', STREAMS_DEFAULTS.allowedLatenessMs, 0);
  const idleAfterMs = read('STREAMS_IDLE_AFTER', STREAMS_DEFAULTS.idleAfterMs, 1000);
  if (windowMs > 0 && 86_400_000 % windowMs !== 0) {
    problems.push(`STREAMS_WINDOW must divide a day, so windows align on midnight UTC (got ${windowMs} ms)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ windowMs, allowedLatenessMs, idleAfterMs });
}
