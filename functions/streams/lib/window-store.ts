/**
 * The windows on a store without transactions and with non-atomic conditional updates (FerretDB 1.24,
 * docs/ferretdb.md). Every fact that decides a result is a **unique `_id` insert** (atomic on MongoDB,
 * FerretDB and the memory stores), and a window's result is computed once from the set of its readings:
 *
 *   streams_readings  `<sensor>|<window>|<reading key>`  one per reading (a redelivery collides: counted once)
 *   streams_open      `<sensor>|<window>`                a window with readings that is not final yet
 *   streams_seals     `<sensor>|<window>`                the window is closing: the watermark passed it
 *   streams_windows   `<sensor>|<window>`                its summary and the keys it counted: final, never changed
 *   streams_late      `<reading key>`                    a reading that came after its window was final
 *
 * A reading's fate is decided by one immutable document, the window's summary:
 * - on time: the reading is inserted, then the seal is read. No seal means the insert came before the seal,
 *   and so before the query the summary is computed from: it will be counted.
 * - seal found (the window was closing meanwhile): close the window (or read its summary) and look: in
 *   `readingKeys` → counted; not → late.
 * - the watermark already passed the window: close it, and the reading is late unless a copy was counted.
 * Closing (`closeWindow`, by window-closer or by the aggregator that found the window passed) is: insert the
 * seal, read the readings of the window (one `_id` range), insert the summary; when two close at once, the
 * first insert wins and both answer with it. So a reading is counted once or late once, never both, never
 * neither — through redelivery, crashes between any two steps, and racing processes.
 *
 * The watermark (max event time) is the one value kept by a conditional update: on FerretDB two racing updates
 * can leave the lower one. That only delays closing (a lower watermark is a more patient one) until the next
 * reading moves it again; no result depends on it, only on the seals and summaries. Beside it, when a reading
 * last arrived (`seenAtMs`, to the second), which decides when the stream is idle (windows.ts `watermarkAt`).
 */
import type { Collection, DocumentStore } from '../../runtime/src/index.ts';
import { DuplicateKeyError, PermanentError } from '../../runtime/src/index.ts';
import { Collections, type ReadingLate, type StreamsConfig, type WindowClosed } from './streams.ts';
import {
  isPassed,
  type Reading,
  readingId,
  readingRange,
  summarize,
  type WatermarkState,
  watermarkAt,
  windowKey,
  windowStartOf,
} from './windows.ts';

export interface SensorDoc extends Record<string, unknown> {
  _id: string;
  unit: string;
  firstSeenAt: string;
}

export interface ReadingDoc extends Record<string, unknown> {
  _id: string;
  key: string;
  sensorId: string;
  timeMs: number;
  value: number;
  unit: string;
}

export interface OpenDoc extends Record<string, unknown> {
  _id: string;
  sensorId: string;
  windowStartMs: number;
  windowEndMs: number;
}

export interface WindowDoc extends Record<string, unknown> {
  _id: string;
  sensorId: string;
  windowStartMs: number;
  windowEndMs: number;
  unit: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  /** The reading keys counted: what decides, for a reading that raced the close, whether it was counted. */
  readingKeys: string[];
  closedAt: string;
}

export interface LateDoc extends Record<string, unknown> {
  _id: string;
  sensorId: string;
  timeMs: number;
  value: number;
  unit: string;
  windowStartMs: number;
  watermarkMs: number;
  event: { id: string; source: string };
  at: string;
}

export interface WatermarkDoc extends Record<string, unknown> {
  _id: string;
  maxEventTimeMs: number;
  advancedAtMs: number;
  /** When a reading last arrived at any aggregator (written at most once a second per process). */
  seenAtMs?: number;
}

const WATERMARK_ID = 'watermark';

/** A reading of one sensor with another unit than its first one: refused (422, kept in the dead-letter sink). */
export class UnitMismatchError extends PermanentError {
  override name = 'UnitMismatchError';
  constructor(sensorId: string, expected: string, got: string) {
    super('unit-mismatch', `sensor ${sensorId} reports in ${expected}, this reading is in ${got}`);
  }
}

export type Fate = { readonly kind: 'on-time' } | { readonly kind: 'late'; readonly late: ReadingLate };

export interface WindowStoreOptions {
  readonly config: Readonly<StreamsConfig>;
  /** Processing time. @default Date.now */
  readonly now?: () => number;
  /** How long a stored watermark read is reused. @default 1000 */
  readonly watermarkCacheMs?: number;
}

async function insertIfAbsent<T extends Record<string, unknown>>(
  collection: Collection<T>,
  doc: T,
): Promise<boolean> {
  try {
    await collection.insertOne(doc);
    return true;
  } catch (err) {
    if (err instanceof DuplicateKeyError) return false;
    throw err;
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function toWindowClosed(w: WindowDoc): WindowClosed {
  return {
    sensorId: w.sensorId,
    windowStart: iso(w.windowStartMs),
    windowEnd: iso(w.windowEndMs),
    unit: w.unit,
    count: w.count,
    sum: w.sum,
    min: w.min,
    max: w.max,
    mean: w.mean,
  };
}

/**
 * One process's view of the window collections. Keeps, per process, what cannot change: sensors' units,
 * windows known to be open, and the highest event time it has seen (so its own readings move its watermark
 * at once).
 */
export class WindowStore {
  readonly sensors: Collection<SensorDoc>;
  readonly readings: Collection<ReadingDoc>;
  readonly open: Collection<OpenDoc>;
  readonly seals: Collection<Record<string, unknown> & { _id: string; at: string }>;
  readonly windows: Collection<WindowDoc>;
  readonly late: Collection<LateDoc>;
  readonly watermarks: Collection<WatermarkDoc>;
  readonly config: Readonly<StreamsConfig>;
  readonly #now: () => number;
  readonly #cacheMs: number;
  readonly #units = new Map<string, string>();
  readonly #opened = new Set<string>();
  #localMax = Number.NEGATIVE_INFINITY;
  #persistedMax = Number.NEGATIVE_INFINITY;
  #seenWrittenAt = Number.NEGATIVE_INFINITY;
  #stored: { state: WatermarkState | undefined; readAt: number } | undefined;

  constructor(store: DocumentStore, options: WindowStoreOptions) {
    this.sensors = store.collection<SensorDoc>(Collections.sensors);
    this.readings = store.collection<ReadingDoc>(Collections.readings);
    this.open = store.collection<OpenDoc>(Collections.open);
    this.seals = store.collection(Collections.seals);
    this.windows = store.collection<WindowDoc>(Collections.windows);
    this.late = store.collection<LateDoc>(Collections.late);
    this.watermarks = store.collection<WatermarkDoc>(Collections.watermark);
    this.config = options.config;
    this.#now = options.now ?? Date.now;
    this.#cacheMs = options.watermarkCacheMs ?? 1000;
  }

  /** The index the closer's query uses (open windows by end). */
  async createIndexes(): Promise<void> {
    await this.open.createIndex({ keys: { windowEndMs: 1 }, name: 'windowEndMs' });
  }

  /** The stored watermark state (the closer reads it fresh; the aggregator through a short cache). */
  async watermarkState(fresh = false): Promise<WatermarkState | undefined> {
    const now = this.#now();
    if (!fresh && this.#stored !== undefined && now - this.#stored.readAt < this.#cacheMs) {
      return this.#stored.state;
    }
    const doc = await this.watermarks.findOne({ _id: WATERMARK_ID });
    const state =
      doc === null
        ? undefined
        : {
            maxEventTimeMs: doc.maxEventTimeMs,
            advancedAtMs: doc.advancedAtMs,
            ...(doc.seenAtMs === undefined ? {} : { seenAtMs: doc.seenAtMs }),
          };
    this.#stored = { state, readAt: now };
    return state;
  }

  /** The aggregator's watermark: the stored one, raised by what this process saw itself. No idle rule. */
  async #watermark(): Promise<number | undefined> {
    const stored = await this.watermarkState();
    const max = Math.max(stored?.maxEventTimeMs ?? Number.NEGATIVE_INFINITY, this.#localMax);
    return Number.isFinite(max) ? max - this.config.allowedLatenessMs : undefined;
  }

  /**
   * Raises the max event time seen, written when it moved by a second or more, and notes that a reading arrived,
   * written when a second has passed since this process last did: about one write a second, not one a reading.
   */
  async #observe(timeMs: number): Promise<void> {
    if (timeMs > this.#localMax) this.#localMax = timeMs;
    const now = this.#now();
    if (this.#localMax - this.#persistedMax >= 1000 || !Number.isFinite(this.#persistedMax)) {
      const max = this.#localMax;
      try {
        // Atomic on MongoDB; on FerretDB a racing lower write can win, which only delays closing (see above).
        await this.watermarks.updateOne(
          { _id: WATERMARK_ID, maxEventTimeMs: { $lt: max } },
          { $set: { maxEventTimeMs: max, advancedAtMs: now, seenAtMs: now } },
          { upsert: true },
        );
        this.#persistedMax = max;
        this.#seenWrittenAt = now;
        return;
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err; // the stored max is already higher
      }
      this.#persistedMax = max;
    }
    if (now - this.#seenWrittenAt < 1000) return;
    // Last writer wins: every writer writes its own now, so the stored time is at most a second or so old.
    await this.watermarks.updateOne({ _id: WATERMARK_ID }, { $set: { seenAtMs: now } });
    this.#seenWrittenAt = now;
  }

  async #checkUnit(sensorId: string, unit: string): Promise<void> {
    let known = this.#units.get(sensorId);
    if (known === undefined) {
      const doc: SensorDoc = { _id: sensorId, unit, firstSeenAt: iso(this.#now()) };
      if (!(await insertIfAbsent(this.sensors, doc))) {
        known = (await this.sensors.findOne({ _id: sensorId }))?.unit ?? unit;
      } else known = unit;
      this.#units.set(sensorId, known);
    }
    if (known !== unit) throw new UnitMismatchError(sensorId, known, unit);
  }

  /** Decides one reading: counted in its window (on time) or late. Safe to repeat and to race. */
  async accept(
    reading: Reading,
    event: { readonly id: string; readonly source: string },
    signal?: AbortSignal,
  ): Promise<Fate> {
    const { windowMs } = this.config;
    await this.#checkUnit(reading.sensorId, reading.unit);
    const startMs = windowStartOf(reading.timeMs, windowMs);
    const endMs = startMs + windowMs;
    const key = windowKey(reading.sensorId, startMs);
    const watermark = await this.#watermark();
    signal?.throwIfAborted();
    if (isPassed(endMs, watermark)) {
      const summary = await this.closeWindow(key, {
        sensorId: reading.sensorId,
        startMs,
        endMs,
        unit: reading.unit,
      });
      return this.#fate(summary, reading, event, startMs, watermark as number);
    }
    if (!this.#opened.has(key)) {
      await insertIfAbsent(this.open, {
        _id: key,
        sensorId: reading.sensorId,
        windowStartMs: startMs,
        windowEndMs: endMs,
      });
      if (this.#opened.size > 100_000) this.#opened.clear();
      this.#opened.add(key);
    }
    signal?.throwIfAborted();
    await insertIfAbsent(this.readings, {
      _id: readingId(key, reading.key),
      key: reading.key,
      sensorId: reading.sensorId,
      timeMs: reading.timeMs,
      value: reading.value,
      unit: reading.unit,
    });
    await this.#observe(reading.timeMs);
    if ((await this.seals.findOne({ _id: key })) === null) return { kind: 'on-time' };
    // The window was sealed between our insert and now: its summary says whether we were counted.
    const summary = await this.closeWindow(key, {
      sensorId: reading.sensorId,
      startMs,
      endMs,
      unit: reading.unit,
    });
    return this.#fate(summary, reading, event, startMs, watermark ?? endMs);
  }

  async #fate(
    summary: WindowDoc,
    reading: Reading,
    event: { readonly id: string; readonly source: string },
    startMs: number,
    watermarkMs: number,
  ): Promise<Fate> {
    if (summary.readingKeys.includes(reading.key)) return { kind: 'on-time' };
    const doc: LateDoc = {
      _id: reading.key,
      sensorId: reading.sensorId,
      timeMs: reading.timeMs,
      value: reading.value,
      unit: reading.unit,
      windowStartMs: startMs,
      watermarkMs,
      event: { id: event.id, source: event.source },
      at: iso(this.#now()),
    };
    // A repeat keeps the first record (same reading, same decision); the reply is rebuilt from it.
    const kept = (await insertIfAbsent(this.late, doc))
      ? doc
      : ((await this.late.findOne({ _id: reading.key })) ?? doc);
    return {
      kind: 'late',
      late: {
        sensorId: kept.sensorId,
        time: iso(kept.timeMs),
        value: kept.value,
        unit: kept.unit,
        windowStart: iso(kept.windowStartMs),
        windowEnd: iso(kept.windowStartMs + this.config.windowMs),
        watermark: iso(kept.watermarkMs),
        reading: kept.event,
      },
    };
  }

  /**
   * Makes a window final: seal, read its readings, insert the summary (the first insert wins; every caller
   * answers with the winner). A window whose only reading never got inserted (a crash after `open`) ends
   * with count 0: the closer does not publish it.
   */
  async closeWindow(
    key: string,
    window: { sensorId: string; startMs: number; endMs: number; unit?: string },
  ): Promise<WindowDoc> {
    await insertIfAbsent(this.seals, { _id: key, at: iso(this.#now()) });
    const existing = await this.windows.findOne({ _id: key });
    if (existing !== null) return existing;
    // The sensor beside the `_id` range (the same documents): FerretDB 1.24 pushes a field's equality down to
    // PostgreSQL, but reads and filters the whole collection for an `_id` range (as fleet's `ofVehicle`).
    const readings = await this.readings.find({ sensorId: { $eq: window.sensorId }, _id: readingRange(key) });
    const summary = summarize(readings);
    const unit = readings[0]?.unit ?? window.unit ?? '';
    const doc: WindowDoc = {
      _id: key,
      sensorId: window.sensorId,
      windowStartMs: window.startMs,
      windowEndMs: window.endMs,
      unit,
      count: summary?.count ?? 0,
      sum: summary?.sum ?? 0,
      min: summary?.min ?? 0,
      max: summary?.max ?? 0,
      mean: summary?.mean ?? 0,
      readingKeys: [...new Set(readings.map((r) => r.key))].sort(),
      closedAt: iso(this.#now()),
    };
    if (await insertIfAbsent(this.windows, doc)) return doc;
    return (await this.windows.findOne({ _id: key })) ?? doc;
  }

  /** Open windows the watermark at `nowMs` has passed (the closer's work list), oldest first. */
  async passedWindows(
    nowMs: number,
    limit: number,
  ): Promise<{ watermarkMs: number | undefined; windows: OpenDoc[] }> {
    const watermarkMs = watermarkAt(await this.watermarkState(true), nowMs, this.config);
    if (watermarkMs === undefined) return { watermarkMs, windows: [] };
    const windows = await this.open.find(
      { windowEndMs: { $lte: watermarkMs } },
      { sort: { windowEndMs: 1 }, limit },
    );
    return { watermarkMs, windows };
  }

  /** After window.closed was published: the window leaves the work list. */
  async forget(key: string): Promise<void> {
    await this.open.deleteOne({ _id: key });
  }
}
