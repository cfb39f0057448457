import { describe, expect, it } from 'vitest';
import { buildLineage, describeAttempt, renderLineage, rootOf } from './lineage.ts';
import type { AcceptedRecord, ConsoleRecord, TrailRecord } from './records.ts';

let seq = 0;
const accepted = (id: string, extra: Partial<AcceptedRecord> = {}): ConsoleRecord => ({
  kind: 'accepted',
  seq: ++seq,
  time: '2026-11-29T12:00:00.000Z',
  via: 'ingress',
  eventId: id,
  eventType: 'dev.sluice.hello.requested.v1',
  eventSource: '/curl',
  correlationId: 'hello-1',
  ...extra,
});
const delivery = (id: string, extra: Partial<TrailRecord>): ConsoleRecord => ({
  kind: 'delivery',
  seq: ++seq,
  time: '2026-11-29T12:00:01.000Z',
  trigger: 'hello',
  subscriber: 'hello',
  eventId: id,
  eventType: 'dev.sluice.hello.requested.v1',
  eventSource: '/curl',
  correlationId: 'hello-1',
  outcome: 'delivered',
  status: 200,
  attempts: 1,
  attemptLog: [{ status: 200, waitedMs: 0, durationMs: 12 }],
  ...extra,
});

const records: ConsoleRecord[] = [
  accepted('hello-1', { subject: 'ada', traceId: 'a'.repeat(32) }),
  delivery('hello-1', { reply: { id: 'greet-1', type: 'dev.sluice.hello.greeted.v1', published: true } }),
  delivery('hello-1', {
    trigger: 'audit',
    subscriber: 'audit',
    outcome: 'dead-lettered',
    status: 500,
    attempts: 3,
    attemptLog: [
      { status: 500, waitedMs: 0, durationMs: 4 },
      { status: 500, waitedMs: 100, durationMs: 5 },
      { status: -1, waitedMs: 200, durationMs: 5000 },
    ],
    deadLetterSink: 'http://127.0.0.1:9/dls',
    knativeErrorCode: 500,
    knativeErrorData: 'Ym9vbQ==',
  }),
  accepted('greet-1', {
    via: 'ingress',
    eventType: 'dev.sluice.hello.greeted.v1',
    eventSource: '/sluice/functions/hello',
    causationId: 'hello-1',
  }),
  accepted('side-1', { eventType: 'dev.sluice.side.v1', causationId: 'greet-1' }),
  accepted('hello-1', { time: '2026-11-29T12:05:00.000Z' }),
];

describe('buildLineage', () => {
  it('rebuilds the path: arrivals, each delivery with its attempts, the dead letter, the reply recursively', () => {
    const root = buildLineage(records, 'hello-1');
    expect(root).toMatchObject({
      eventId: 'hello-1',
      subject: 'ada',
      traceId: 'a'.repeat(32),
      arrivals: [
        { time: '2026-11-29T12:00:00.000Z', via: 'ingress' },
        { time: '2026-11-29T12:05:00.000Z', via: 'ingress' },
      ],
    });
    expect(root?.deliveries).toHaveLength(2);
    const [hello, audit] = root?.deliveries ?? [];
    expect(hello?.replyPath).toMatchObject({
      eventId: 'greet-1',
      causationId: 'hello-1',
      deliveries: [],
      caused: [{ eventId: 'side-1', type: 'dev.sluice.side.v1' }],
    });
    expect(audit).toMatchObject({
      outcome: 'dead-lettered',
      deadLetter: { sink: 'http://127.0.0.1:9/dls', code: 500, data: 'Ym9vbQ==' },
    });
    expect(audit?.attempts.map((a) => a.waitedMs)).toEqual([0, 100, 200]);
    expect(root?.caused).toEqual([]);
  });

  it('knows nothing of an id it never recorded, and stops at a loop', () => {
    expect(buildLineage(records, 'nope')).toBeUndefined();
    const loop: ConsoleRecord[] = [accepted('x', { causationId: 'y' }), accepted('y', { causationId: 'x' })];
    const root = buildLineage(loop, 'x');
    expect(root?.caused[0]?.eventId).toBe('y');
    expect(root?.caused[0]?.caused[0]).toMatchObject({ eventId: 'x', truncated: true });
  });

  it('finds the first event of a flow from any of its events', () => {
    expect(rootOf(records, 'side-1')).toBe('hello-1');
    expect(rootOf(records, 'hello-1')).toBe('hello-1');
  });
});

describe('renderLineage', () => {
  it('prints the tree make lineage shows', () => {
    const root = buildLineage(records, 'hello-1');
    if (root === undefined) throw new Error('no lineage');
    expect(renderLineage(root)).toBe(
      [
        `dev.sluice.hello.requested.v1 hello-1 (source /curl subject ada; accepted 12:00:00.000 via ingress, accepted 12:05:00.000 via ingress trace ${'a'.repeat(32)})`,
        '├─ trigger hello → hello: delivered: 200 after 1 attempt',
        '│  attempt 1: 200 in 12 ms',
        '│  └─ reply dev.sluice.hello.greeted.v1 greet-1 (source /sluice/functions/hello; accepted 12:00:00.000 via ingress)',
        '│     └─ caused dev.sluice.side.v1 side-1 (source /curl; accepted 12:00:00.000 via ingress)',
        '│        └─ no Trigger delivered it (yet)',
        '└─ trigger audit → audit: dead-lettered: 500 after 3 attempts',
        '   attempt 1: 500 in 4 ms',
        '   attempt 2: 500 in 5 ms after waiting 100 ms',
        '   attempt 3: no answer in 5.0 s after waiting 200 ms',
        '   dead letter → http://127.0.0.1:9/dls (knativeerrorcode 500, knativeerrordata Ym9vbQ==)',
        '',
      ].join('\n'),
    );
  });

  it('describes one attempt', () => {
    expect(describeAttempt({ status: 503, waitedMs: 1500, durationMs: 2.5 })).toBe(
      '503 in 3 ms after waiting 1.5 s',
    );
  });
});
