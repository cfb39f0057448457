import { beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { MemoryDocumentStore, PermanentError, type SluiceFunction } from '../../runtime/src/index.ts';
import { exampleEvent, stubContext } from '../../runtime/test/support.ts';
import { Collections, StreamsEventType } from '../lib/streams.ts';
import { readingEvent } from '../lib/test-support.ts';
import { UnitMismatchError } from '../lib/window-store.ts';
import type { Events, Handle } from './events.gen.ts';
import { accepts, emits, handle, init } from './handler.ts';

let store: MemoryDocumentStore;

beforeEach(async () => {
  // init keeps the store's WindowStore for the process: a fresh one per test.
  store = new MemoryDocumentStore();
  await init?.({ store, log: stubContext(store).log, functionName: 'window-aggregator' });
});

const at = (offsetMs: number) => new Date(Date.parse('2026-03-01T12:00:00.000Z') + offsetMs).toISOString();

describe('window-aggregator', () => {
  it('is a SluiceFunction that takes readings and answers late ones', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts, typeof emits>>();
    expectTypeOf(init).toEqualTypeOf<SluiceFunction['init']>();
    expect(accepts).toEqual([StreamsEventType.readingRecorded]);
    expect(emits).toEqual([StreamsEventType.readingLate]);
  });

  describe('handle', () => {
    it('counts its example reading in its window and answers nothing', async () => {
      const event = exampleEvent<Events, typeof StreamsEventType.readingRecorded>(
        import.meta.dirname,
        StreamsEventType.readingRecorded,
      );
      expect(await handle(event, stubContext(store))).toBeUndefined();
      const stored = await store.collection(Collections.readings).find({});
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ sensorId: 's-001', value: 21.5, unit: 'C' });
      expect(String(stored[0]?._id)).toMatch(/^s-001\|2026-03-01T12:00:00\.000Z\|/);
    });

    it('stores a redelivered reading once', async () => {
      const event = readingEvent('r-1', 's-1', at(1_000), 20);
      await handle(event, stubContext(store));
      await handle(event, stubContext(store));
      expect(await store.collection(Collections.readings).countDocuments({})).toBe(1);
    });

    it('answers reading.late, kept, for a reading whose window the watermark passed; the same on a repeat', async () => {
      await handle(readingEvent('r-1', 's-1', at(1_000), 20), stubContext(store));
      // Event time moves on by 3 minutes: the 12:00 window is past the watermark (max − 10 s).
      await handle(readingEvent('r-2', 's-1', at(180_000), 21), stubContext(store));
      const late = readingEvent('r-3', 's-1', at(2_000), 99);
      const reply = await handle(late, stubContext(store));
      expect(reply).toMatchObject({
        type: StreamsEventType.readingLate,
        subject: 's-1',
        data: {
          sensorId: 's-1',
          time: at(2_000),
          value: 99,
          unit: 'C',
          windowStart: at(0),
          windowEnd: at(60_000),
          watermark: at(170_000),
          reading: { id: 'r-3', source: '/tests/streams' },
        },
      });
      expect(await handle(late, stubContext(store))).toEqual(reply);
      expect(await store.collection(Collections.late).countDocuments({})).toBe(1);
      // The window was made final without it: r-1 only.
      const window = await store.collection(Collections.windows).findOne({ _id: `s-1|${at(0)}` });
      expect(window).toMatchObject({ count: 1, sum: 20 });
    });

    it('refuses a reading without a usable sensor id or time (PermanentError: kept in the dead-letter sink)', async () => {
      const base = readingEvent('r-1', 's-1', at(0), 1);
      const { subject: _subject, ...noSubject } = base;
      const { time: _time, ...noTime } = base;
      await expect(handle(noSubject, stubContext(store))).rejects.toMatchObject({ reason: 'invalid-sensor' });
      await expect(handle({ ...base, subject: '$where' }, stubContext(store))).rejects.toBeInstanceOf(
        PermanentError,
      );
      await expect(handle(noTime, stubContext(store))).rejects.toMatchObject({ reason: 'no-event-time' });
    });

    it('refuses a reading in another unit than the sensor’s first', async () => {
      await handle(readingEvent('r-1', 's-1', at(0), 20, 'C'), stubContext(store));
      await expect(
        handle(readingEvent('r-2', 's-1', at(1), 68, 'F'), stubContext(store)),
      ).rejects.toBeInstanceOf(UnitMismatchError);
    });
  });
});
