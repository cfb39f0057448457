/**
 * Test helpers shared by the streams tests (unit, integration, bench): readings as the generator sends them, drive
 * the closer's work list the way window-closer does on a tick, and check that a set of sent readings was
 * partitioned exactly into closed windows and late records.
 */
import { expect } from 'vitest';
import type { CloudEvent, Collection, Doc, DocumentStore } from '../../runtime/src/index.ts';
import { StreamsEventType } from './streams.ts';
import type { WindowStore } from './window-store.ts';
import { readingKey, summarize, windowKey, windowStartOf } from './windows.ts';

/** `…reading.recorded.v1` as the generator sends it: the sensor as subject, the measurement time as time. */
export function readingEvent(
  id: string,
  sensorId: string,
  time: string,
  value: number,
  unit = 'C',
): CloudEvent<{ value: number; unit: string }, typeof StreamsEventType.readingRecorded> {
  return {
    specversion: '1.0',
    id,
    source: '/tests/streams',
    type: StreamsEventType.readingRecorded,
    subject: sensorId,
    time,
    datacontenttype: 'application/json',
    data: { value, unit },
    extensions: {},
  };
}

export interface SentReading {
  readonly id: string;
  readonly source: string;
  readonly sensorId: string;
  readonly timeMs: number;
  readonly value: number;
  readonly unit: string;
}

/** What window-closer does on one tick at `nowMs`: close every open window the watermark passed. */
export async function closeOnTick(windows: WindowStore, nowMs: number): Promise<number> {
  const { windows: passed } = await windows.passedWindows(nowMs, 10_000);
  for (const w of passed) {
    await windows.closeWindow(w._id, {
      sensorId: w.sensorId,
      startMs: w.windowStartMs,
      endMs: w.windowEndMs,
    });
    await windows.forget(w._id);
  }
  return passed.length;
}

/**
 * Every distinct reading is counted in exactly one closed window or is late exactly once; each window's
 * figures are the summary of exactly the readings it counted.
 */
export async function checkPartition(
  windows: WindowStore,
  sent: readonly SentReading[],
  windowMs: number,
): Promise<void> {
  const closed = await windows.windows.find({});
  const late = await windows.late.find({});
  const counted = new Map<string, string>();
  for (const w of closed) for (const k of w.readingKeys) counted.set(k, w._id);
  const lateKeys = new Set(late.map((l) => l._id));
  const byKey = new Map(sent.map((r) => [readingKey(r.source, r.id), r]));
  for (const [key, r] of byKey) {
    const inWindow = counted.get(key);
    const where = `reading ${r.id} (${r.sensorId} @ ${new Date(r.timeMs).toISOString()})`;
    expect(inWindow !== undefined || lateKeys.has(key), `${where} is neither counted nor late`).toBe(true);
    expect(inWindow !== undefined && lateKeys.has(key), `${where} is counted and late`).toBe(false);
    if (inWindow !== undefined)
      expect(inWindow).toBe(windowKey(r.sensorId, windowStartOf(r.timeMs, windowMs)));
  }
  expect(counted.size + lateKeys.size).toBe(byKey.size);
  for (const w of closed) {
    if (w.count === 0) continue;
    const members = w.readingKeys.map((k) => ({ key: k, value: byKey.get(k)?.value ?? Number.NaN }));
    const s = summarize(members);
    expect({ count: w.count, sum: w.sum, min: w.min, max: w.max, mean: w.mean }).toStrictEqual(s);
  }
}

/**
 * A store whose every call first yields 0–3 turns of the event loop, chosen by `yields` in turn: concurrent
 * callers then interleave between their reads and writes the way processes on one MongoDB do.
 */
export function jitteryStore(store: DocumentStore, yields: readonly number[]): DocumentStore {
  let i = 0;
  const pause = async (): Promise<void> => {
    const n = yields.length === 0 ? 0 : (yields[i++ % yields.length] ?? 0) % 4;
    for (let k = 0; k < n; k++) await new Promise((r) => setImmediate(r));
  };
  return {
    kind: store.kind,
    ping: (o) => store.ping(o),
    close: () => store.close(),
    collection<T extends Doc = Doc>(name: string): Collection<T> {
      const c = store.collection<T>(name);
      const wrap =
        <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          await pause();
          const result = await fn(...args);
          await pause();
          return result;
        };
      return {
        findOne: wrap((f) => c.findOne(f)),
        find: wrap((f, o) => c.find(f, o)),
        insertOne: wrap((d) => c.insertOne(d)),
        updateOne: wrap((f, u, o) => c.updateOne(f, u, o)),
        findOneAndUpdate: wrap((f, u, o) => c.findOneAndUpdate(f, u, o)),
        deleteOne: wrap((f) => c.deleteOne(f)),
        deleteMany: wrap((f) => c.deleteMany(f)),
        countDocuments: wrap((f) => c.countDocuments(f)),
        createIndex: wrap((s) => c.createIndex(s)),
        bulkWrite: wrap((ops, o) => c.bulkWrite(ops, o)),
      };
    },
  };
}
