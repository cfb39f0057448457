import { describe, expect, it } from 'vitest';
import { EventRecorder, LISTENER_BATCH_MS } from './recorder.ts';
import type { AcceptedRecord, TrailRecord } from './records.ts';

const accepted = (id: string, extra: Partial<AcceptedRecord> = {}): AcceptedRecord => ({
  kind: 'accepted',
  time: '2026-11-29T12:00:00.000Z',
  via: 'ingress',
  eventId: id,
  eventType: 'dev.sluice.test.v1',
  eventSource: '/test',
  correlationId: id,
  ...extra,
});

const delivery = (id: string, extra: Partial<TrailRecord> = {}): TrailRecord => ({
  kind: 'delivery',
  time: '2026-11-29T12:00:01.000Z',
  trigger: 't',
  eventId: id,
  eventType: 'dev.sluice.test.v1',
  eventSource: '/test',
  correlationId: id,
  outcome: 'delivered',
  status: 200,
  attempts: 1,
  attemptLog: [{ status: 200, waitedMs: 0, durationMs: 3 }],
  ...extra,
});

describe('EventRecorder', () => {
  it('numbers records and keeps them oldest first', () => {
    const recorder = new EventRecorder({ capacity: 10 });
    recorder.add(accepted('a'));
    recorder.add(delivery('a'));
    expect(recorder.records().map((r) => [r.seq, r.kind])).toEqual([
      [1, 'accepted'],
      [2, 'delivery'],
    ]);
    expect(recorder.records(1).map((r) => r.seq)).toEqual([2]);
  });

  it('keeps the last `capacity` records and counts what the cap evicted', () => {
    const recorder = new EventRecorder({ capacity: 3 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) recorder.add(accepted(id));
    expect(recorder.records().map((r) => (r as AcceptedRecord).eventId)).toEqual(['c', 'd', 'e']);
    expect(recorder.stats()).toMatchObject({ capacity: 3, size: 3, total: 5, dropped: 2, store: 'memory' });
    expect(recorder.records(4).map((r) => r.seq)).toEqual([5]);
  });

  it('answers make try’s query: the deliveries of one event, or of one flow', () => {
    const recorder = new EventRecorder();
    recorder.add(accepted('a'));
    recorder.add(delivery('a'));
    recorder.add(delivery('r', { correlationId: 'a', causationId: 'a' }));
    recorder.add(delivery('b'));
    expect(recorder.trail({ event: 'a' }).map((r) => r.eventId)).toEqual(['a']);
    expect(recorder.trail({ correlation: 'a' }).map((r) => r.eventId)).toEqual(['a', 'r']);
  });

  it('tells listeners of the records in batches, off the recording call, until they unsubscribe', async () => {
    const recorder = new EventRecorder();
    const batches: number[][] = [];
    recorder.subscribe(() => {
      throw new Error('a broken page');
    });
    const stop = recorder.subscribe((records) => batches.push(records.map((r) => r.seq)));
    recorder.add(accepted('a'));
    recorder.add(delivery('a'));
    // add() tells no one: the batch goes out later (or on flush).
    expect(batches).toEqual([]);
    await recorder.flush();
    expect(batches).toEqual([[1, 2]]);
    recorder.add(accepted('b'));
    await new Promise((r) => setTimeout(r, LISTENER_BATCH_MS * 3));
    expect(batches).toEqual([[1, 2], [3]]);
    stop();
    recorder.add(accepted('c'));
    await recorder.flush();
    expect(batches).toEqual([[1, 2], [3]]);
    expect(recorder.records()).toHaveLength(4);
  });
});
