import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../../runtime/src/index.ts';
import { checkPartition, closeOnTick, jitteryStore, type SentReading } from './test-support.ts';
import { UnitMismatchError, WindowStore } from './window-store.ts';
import { readingKey, summarize, windowKey, windowStartOf } from './windows.ts';

const config = { windowMs: 60_000, allowedLatenessMs: 10_000, idleAfterMs: 30_000 };
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** Readings of 3 sensors over 5 minutes of event time, unique ids. */
const readings = fc.uniqueArray(
  fc.record({
    id: fc.string({ minLength: 1, maxLength: 6 }),
    sensorId: fc.constantFrom('s-a', 's-b', 's-c'),
    offsetMs: fc.integer({ min: 0, max: 300_000 }),
    value: fc.double({ min: -500, max: 500, noNaN: true, noDefaultInfinity: true }),
  }),
  { selector: (r) => r.id, minLength: 1, maxLength: 60 },
);

const toSent = (r: { id: string; sensorId: string; offsetMs: number; value: number }): SentReading => ({
  id: r.id,
  source: '/gen',
  sensorId: r.sensorId,
  timeMs: T0 + r.offsetMs,
  value: r.value,
  unit: 'C',
});

describe('WindowStore', () => {
  it('any permutation and duplication within the allowed lateness yields identical windows and nothing late', async () => {
    await fc.assert(
      fc.asyncProperty(
        readings,
        fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
        fc.array(fc.nat({ max: 59 }), { maxLength: 20 }),
        async (rs, noise, dupes) => {
          const sent = rs.map(toSent);
          // Disorder bounded by the allowed lateness: sort by event time + up to 9.999 s of jitter.
          const delivered = [...sent, ...dupes.flatMap((i) => (sent[i] === undefined ? [] : [sent[i]]))]
            .map((r, i) => ({ r, at: r.timeMs + ((noise[i % noise.length] ?? 0) % 9_999) }))
            .sort((a, b) => a.at - b.at)
            .map((x) => x.r);
          const store = new MemoryDocumentStore();
          const windows = new WindowStore(store, { config, now: () => T0 });
          for (const r of delivered) {
            const fate = await windows.accept(reading(r), r);
            expect(fate.kind).toBe('on-time');
          }
          await closeOnTick(windows, T0 + 3_600_000);
          const stored = await windows.windows.find({});
          const expected = new Map<string, ReturnType<typeof summarize>>();
          for (const r of sent) {
            const key = windowKey(r.sensorId, windowStartOf(r.timeMs, config.windowMs));
            expected.set(key, undefined);
          }
          for (const key of expected.keys()) {
            const ofWindow = sent.filter(
              (r) => windowKey(r.sensorId, windowStartOf(r.timeMs, config.windowMs)) === key,
            );
            expected.set(key, summarize(ofWindow.map(reading)));
          }
          expect(stored.map((w) => w._id).sort()).toEqual([...expected.keys()].sort());
          for (const w of stored) {
            const e = expected.get(w._id);
            expect({ count: w.count, sum: w.sum, min: w.min, max: w.max, mean: w.mean }).toStrictEqual(e);
          }
          expect(await windows.late.countDocuments({})).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('any order, duplicates and racing closes: each reading counted once or late once, never both, never lost', async () => {
    await fc.assert(
      fc.asyncProperty(
        readings,
        fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
        fc.array(fc.nat({ max: 59 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 50 }),
        fc.boolean(),
        async (rs, order, dupes, ticks, yields, roughlyInOrder) => {
          const sent = rs.map(toSent);
          // Any order, or event-time order with up to 60 s of disorder (windows then close while readings arrive).
          const delivered = [...sent, ...dupes.flatMap((i) => (sent[i] === undefined ? [] : [sent[i]]))]
            .map((r, i) => ({
              r,
              rank: roughlyInOrder
                ? r.timeMs + ((order[i % order.length] ?? 0) % 60_000)
                : (order[i % order.length] ?? 0),
            }))
            .sort((a, b) => a.rank - b.rank)
            .map((x) => x.r);
          const store = jitteryStore(new MemoryDocumentStore(), yields);
          // Two aggregator processes and a closer on one store, all interleaved: promises run concurrently.
          const a = new WindowStore(store, { config, now: () => T0, watermarkCacheMs: 0 });
          const b = new WindowStore(store, { config, now: () => T0, watermarkCacheMs: 0 });
          const closer = new WindowStore(store, { config });
          const runs: Promise<unknown>[] = [];
          // Deliveries start a turn apart and overlap; closer ticks start among them.
          for (const [i, r] of delivered.entries()) {
            runs.push((i % 2 === 0 ? a : b).accept(reading(r), r));
            const tick = ticks[Math.floor(i / 5) % ticks.length] ?? 0;
            if (i % 5 === 2) runs.push(closeOnTick(closer, T0 + tick));
            await new Promise((done) => setImmediate(done));
          }
          await Promise.all(runs);
          await closeOnTick(a, T0 + 3_600_000);
          await checkPartition(a, sent, config.windowMs);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a closer ticking while an in-order stream arrives: every reading counted once or late once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 40_000, max: 200_000 }),
        async (yields, tickAt) => {
          const store = jitteryStore(new MemoryDocumentStore(), yields);
          const a = new WindowStore(store, { config, now: () => T0, watermarkCacheMs: 0 });
          const closer = new WindowStore(store, { config });
          const sent = Array.from({ length: 40 }, (_, i) =>
            toSent({ id: `r${i}`, sensorId: 's-a', offsetMs: i * 1000, value: i }),
          );
          const runs: Promise<unknown>[] = [];
          for (const [i, r] of sent.entries()) {
            runs.push(a.accept(reading(r), r));
            if (i % 7 === 3) runs.push(closeOnTick(closer, T0 + tickAt));
            await new Promise((done) => setImmediate(done));
          }
          await Promise.all(runs);
          await closeOnTick(a, T0 + 3_600_000);
          await checkPartition(a, sent, config.windowMs);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a reading whose window the watermark passed is late, kept once, and counted nowhere', async () => {
    const windows = new WindowStore(new MemoryDocumentStore(), { config, now: () => T0 });
    const early = toSent({ id: 'e', sensorId: 's-a', offsetMs: 5_000, value: 1 });
    const later = toSent({ id: 'l', sensorId: 's-a', offsetMs: 200_000, value: 2 });
    expect((await windows.accept(reading(early), early)).kind).toBe('on-time');
    expect((await windows.accept(reading(later), later)).kind).toBe('on-time');
    const tooLate = toSent({ id: 't', sensorId: 's-a', offsetMs: 6_000, value: 100 });
    const fate = await windows.accept(reading(tooLate), tooLate);
    expect(fate).toMatchObject({
      kind: 'late',
      late: {
        sensorId: 's-a',
        windowStart: '2026-03-01T12:00:00.000Z',
        watermark: '2026-03-01T12:03:10.000Z',
      },
    });
    expect(await windows.accept(reading(tooLate), tooLate)).toEqual(fate);
    const w = await windows.windows.findOne({ _id: 's-a|2026-03-01T12:00:00.000Z' });
    expect(w).toMatchObject({ count: 1, sum: 1 });
    expect(await windows.late.countDocuments({})).toBe(1);
  });

  it('a stream still delivering is not idle, even when its readings do not move the watermark; once they stop, it closes', async () => {
    // A slow backlog near the window's end: a reading every 5 s of processing time, each 50 ms later in event time, so the max event
    // time moves less than a second in the minute. The window is not final while its readings still arrive.
    let now = T0 + 600_000;
    const windows = new WindowStore(new MemoryDocumentStore(), { config, now: () => now });
    for (let i = 0; i < 13; i++) {
      const r = toSent({ id: `b-${i}`, sensorId: 's-a', offsetMs: 45_000 + i * 50, value: i });
      expect((await windows.accept(reading(r), r)).kind).toBe('on-time');
      expect(await closeOnTick(windows, now), `tick at reading ${i}`).toBe(0);
      now += 5_000;
    }
    expect(await windows.seals.countDocuments({})).toBe(0);
    // The stream stopped: idle for idleAfterMs since its last reading, the watermark follows the clock.
    now += config.idleAfterMs;
    expect(await closeOnTick(windows, now)).toBe(1);
    expect(await windows.windows.findOne({ _id: 's-a|2026-03-01T12:00:00.000Z' })).toMatchObject({
      count: 13,
    });
  });

  it("reads a window's readings with its sensor as a field beside the _id range (FerretDB pushes that equality down)", async () => {
    // FerretDB 1.24 on PostgreSQL reads the whole of streams_readings for an `_id` range and filters it in Go: a
    // close then costs a scan of every reading ever stored (9.5 s at 26,000 readings under load, against 0.4 s
    // with the sensor's equality), and the closer falls behind the windows a stream opens. Same documents.
    const filters: unknown[] = [];
    /** `target` with its methods bound (the memory store keeps private fields), the method `name` wrapped. */
    const spy = <T extends object>(
      target: T,
      name: string,
      wrap: (f: (...args: unknown[]) => unknown) => (...args: never[]) => unknown,
    ): T =>
      new Proxy(target, {
        get(t, k) {
          const v = Reflect.get(t, k, t);
          if (typeof v !== 'function') return v;
          return k === name ? wrap(v.bind(t)) : v.bind(t);
        },
      });
    const store = spy(
      new MemoryDocumentStore(),
      'collection',
      (collection) =>
        (name: string, ...rest: unknown[]) => {
          const c = collection(name, ...rest) as object;
          return name !== 'streams_readings'
            ? c
            : spy(c, 'find', (find) => (filter: unknown, ...opts: unknown[]) => {
                filters.push(filter);
                return find(filter, ...opts);
              });
        },
    );
    const windows = new WindowStore(store, { config, now: () => T0 });
    for (const [id, sensorId, value] of [
      ['a', 's-a', 1],
      ['b', 's-a', 2],
      ['c', 's-b', 40],
    ] as const) {
      const r = toSent({ id, sensorId, offsetMs: 1_000, value });
      await windows.accept(reading(r), r);
    }
    const start = windowStartOf(T0, config.windowMs);
    const w = await windows.closeWindow(windowKey('s-a', start), {
      sensorId: 's-a',
      startMs: start,
      endMs: start + config.windowMs,
    });
    expect(w).toMatchObject({ count: 2, sum: 3 });
    expect(filters.length).toBeGreaterThan(0);
    for (const f of filters) expect(f).toMatchObject({ sensorId: { $eq: 's-a' } });
  });

  it('refuses a reading in another unit than the sensor first reported', async () => {
    const windows = new WindowStore(new MemoryDocumentStore(), { config, now: () => T0 });
    const r = toSent({ id: 'x', sensorId: 's-a', offsetMs: 0, value: 1 });
    await windows.accept(reading(r), r);
    await expect(windows.accept({ ...reading(r), key: 'other', unit: 'F' }, r)).rejects.toBeInstanceOf(
      UnitMismatchError,
    );
  });
});

function reading(r: SentReading) {
  return {
    key: readingKey(r.source, r.id),
    sensorId: r.sensorId,
    timeMs: r.timeMs,
    value: r.value,
    unit: r.unit,
  };
}
