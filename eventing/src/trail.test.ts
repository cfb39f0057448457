/**
 * The trail (trail.ts): what the dispatcher reached for each delivery, handed to `onTrail`, on the in-process
 * backend and the upstream data plane (what `make dev` runs).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../functions/runtime/test/support.ts';
import { eventLogFields } from './broker.ts';
import {
  type AcceptedRecord,
  type RunningBroker,
  startBroker,
  TRAIL_MAX_DATA_BYTES,
  type TrailRecord,
} from './index.ts';
import { contractManifests, quietLog, type TriggerDef } from './testing/manifests.ts';
import { postEvent, startTestSink, type TestSink, testEvent } from './testing/test-sink.ts';

const FAST = 'retry: 1\n    backoffPolicy: linear\n    backoffDelay: PT0.01S\n    timeout: PT5S';

describe('the delivery trail', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function setup(
    triggers: readonly TriggerDef[],
    sinks: Record<string, TestSink>,
  ): Promise<{ broker: RunningBroker; records: TrailRecord[] }> {
    const records: TrailRecord[] = [];
    for (const s of Object.values(sinks)) cleanups.push(() => s.close());
    const broker = await startBroker({
      manifests: contractManifests(triggers),
      resolveSubscriber: (ref) => sinks[ref.name]?.url ?? 'http://127.0.0.1:9/',
      replyTypesOf: async () => undefined,
      port: 0,
      log: quietLog,
      onTrail: (r) => records.push(r),
    });
    cleanups.push(() => broker.destroy());
    return { broker, records };
  }

  it('records a delivery with its status, attempts and the reply it published, data included', async () => {
    const replier = await startTestSink((event) => ({
      status: 200,
      reply: testEvent({ id: `re-${event.id}`, type: 'dev.sluice.test.done.v1', data: { ok: true } }),
    }));
    const { broker, records } = await setup(
      [{ name: 'replier', filter: { type: 'dev.sluice.test.asked.v1' } }],
      {
        replier,
        'dead-letter-sink': await startTestSink(),
      },
    );
    const event = testEvent({ type: 'dev.sluice.test.asked.v1' });
    expect(await postEvent(broker.url, event)).toBe(202);
    const record = await waitFor('the trail record', () => records.find((r) => r.eventId === event.id));
    expect(record).toMatchObject({
      trigger: 'replier',
      subscriber: 'replier',
      eventType: 'dev.sluice.test.asked.v1',
      correlationId: event.id,
      outcome: 'delivered',
      status: 200,
      attempts: 1,
      reply: { id: `re-${event.id}`, type: 'dev.sluice.test.done.v1', published: true, data: { ok: true } },
    });
  });

  it('records a refusal as acked, and one the subscriber kept as kept', async () => {
    const refuser = await startTestSink((event) =>
      event.data !== null && typeof event.data === 'object' && 'keep' in event.data
        ? { status: 422, headers: { 'sluice-dead-lettered': 'true' } }
        : { status: 400 },
    );
    const { broker, records } = await setup([{ name: 'refuser', delivery: FAST }], {
      refuser,
      'dead-letter-sink': await startTestSink(),
    });
    const acked = testEvent();
    const kept = testEvent({ data: { keep: true } });
    for (const e of [acked, kept]) expect(await postEvent(broker.url, e)).toBe(202);
    await waitFor('both records', () => records.length === 2);
    expect(records.find((r) => r.eventId === acked.id)).toMatchObject({
      outcome: 'refused-acked',
      status: 400,
    });
    expect(records.find((r) => r.eventId === kept.id)).toMatchObject({
      outcome: 'refused-kept',
      status: 422,
    });
  });

  it('records a dead letter after the retries, with the sink it went to', async () => {
    const failing = await startTestSink(() => ({ status: 503 }));
    const dls = await startTestSink();
    const { broker, records } = await setup([{ name: 'failing', delivery: FAST }], {
      failing,
      'dead-letter-sink': dls,
    });
    const event = testEvent();
    expect(await postEvent(broker.url, event)).toBe(202);
    const record = await waitFor('the trail record', () => records.find((r) => r.eventId === event.id));
    expect(record).toMatchObject({
      kind: 'delivery',
      outcome: 'dead-lettered',
      status: 503,
      attempts: 2,
      deadLetterSink: dls.url,
      knativeErrorCode: 503,
    });
    // retry 1, linear 10 ms: the second attempt after 10 ms; each with its latency.
    expect(record.attemptLog.map((a) => [a.status, a.waitedMs])).toEqual([
      [503, 0],
      [503, 10],
    ]);
    expect(record.attemptLog.every((a) => a.durationMs >= 0)).toBe(true);
  });

  it('records every accepted event, a reply with its causation id and an event with its trace id', async () => {
    const replier = await startTestSink((event) => ({
      status: 200,
      reply: testEvent({
        id: `re-${event.id}`,
        type: 'dev.sluice.test.done.v1',
        extensions: { causationid: event.id },
      }),
    }));
    const accepted: AcceptedRecord[] = [];
    for (const s of [replier]) cleanups.push(() => s.close());
    const dls = await startTestSink();
    cleanups.push(() => dls.close());
    const broker = await startBroker({
      manifests: contractManifests([{ name: 'replier', filter: { type: 'dev.sluice.test.asked.v1' } }]),
      resolveSubscriber: (ref) => (ref.name === 'replier' ? replier.url : dls.url),
      replyTypesOf: async () => undefined,
      port: 0,
      log: quietLog,
      onAccepted: (r) => accepted.push(r),
    });
    cleanups.push(() => broker.destroy());
    const event = testEvent({
      type: 'dev.sluice.test.asked.v1',
      subject: 's-1',
      extensions: { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` },
    });
    expect(await postEvent(broker.url, event)).toBe(202);
    const reply = await waitFor('the reply accepted', () =>
      accepted.find((r) => r.eventId === `re-${event.id}`),
    );
    expect(accepted.find((r) => r.eventId === event.id)).toMatchObject({
      kind: 'accepted',
      via: 'ingress',
      subject: 's-1',
      eventType: 'dev.sluice.test.asked.v1',
      correlationId: event.id,
      traceId: 'ab'.repeat(16),
    });
    expect(reply).toMatchObject({
      kind: 'accepted',
      causationId: event.id,
      eventType: 'dev.sluice.test.done.v1',
    });
  });

  it('keeps a large reply without its data', async () => {
    const big = 'x'.repeat(TRAIL_MAX_DATA_BYTES);
    const replier = await startTestSink((event) => ({
      status: 200,
      reply: testEvent({ id: `re-${event.id}`, type: 'dev.sluice.test.big.v1', data: { big } }),
    }));
    const { broker, records } = await setup(
      [{ name: 'replier', filter: { type: 'dev.sluice.test.asked.v1' } }],
      {
        replier,
        'dead-letter-sink': await startTestSink(),
      },
    );
    const event = testEvent({ type: 'dev.sluice.test.asked.v1' });
    expect(await postEvent(broker.url, event)).toBe(202);
    const record = await waitFor('the trail record', () => records.find((r) => r.eventId === event.id));
    expect(record.reply).toEqual({ id: `re-${event.id}`, type: 'dev.sluice.test.big.v1', published: true });
  });
});

describe('eventLogFields', () => {
  it("gives every broker line about an event its id, flow, cause and trace (an event's tree from the logs)", () => {
    const event = testEvent({
      id: 'reply-1',
      extensions: {
        correlationid: 'root-1',
        causationid: 'root-1',
        traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`,
      },
    });
    expect(eventLogFields(event)).toMatchObject({
      'event.id': 'reply-1',
      'cloudevents.event_id': 'reply-1',
      'sluice.correlation_id': 'root-1',
      'sluice.causation_id': 'root-1',
      'trace.id': 'ab'.repeat(16),
    });
    expect(eventLogFields(testEvent({ id: 'first' }))).not.toHaveProperty('sluice.causation_id');
  });
});
