/**
 * Event fidelity through the broker (issue 12), run by `memory-fidelity.test.ts` (unit) and
 * `rabbitmq-fidelity.int.test.ts` (real RabbitMQ): every case of `testing/fidelity-cases.ts`, sent in
 * binary mode (raw UTF-8 and percent-encoded values) and in structured mode, arrives at a Trigger's
 * subscriber exactly as sent — `ce-*` header bytes, Content-Type present or absent, body bytes — and so does
 * every case a subscriber sends back as a reply, in each of the three forms. In both data planes: the
 * upstream one only adds a send `time` to an event without one, as eventing-rabbitmq's dispatcher does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_PLANES, type DataPlane, type RunningBroker, startBroker } from './index.ts';
import {
  asText,
  eventHeadersOf,
  expectedAtSubscriber,
  FIDELITY_CASES,
  type FidelityCase,
  PRODUCER_MODES,
  type ProducerMode,
  producerMessage,
  withoutStampedTime,
} from './testing/fidelity-cases.ts';
import { contractManifests, quietLog } from './testing/manifests.ts';
import { type Received, startTestSink, type TestSink, waitFor } from './testing/test-sink.ts';

const TYPE = {
  direct: 'dev.sluice.fidelity.direct',
  ask: 'dev.sluice.fidelity.ask',
  reply: 'dev.sluice.fidelity.reply',
} as const;

export interface FidelityBackend {
  /** undefined = the in-process backend. */
  readonly rabbitmqUrl: string | undefined;
  /** The data plane profile (eventing/src/data-plane.ts); upstream stamps a missing `time`. */
  readonly dataPlane: DataPlane;
}

function received(sink: TestSink, id: string): Received | undefined {
  return sink.received.find((r) => eventHeadersOf(r.rawHeaders)['ce-id'] === id);
}

function expectExactly(
  got: Received,
  c: FidelityCase,
  mode: ProducerMode,
  id: string,
  type: string,
  dataPlane: DataPlane,
): void {
  const expected = expectedAtSubscriber(c, mode, id, type);
  const headers = withoutStampedTime(
    eventHeadersOf(got.rawHeaders),
    c.time,
    DATA_PLANES[dataPlane].stampTime,
  );
  expect(asText(headers)).toEqual(asText(expected.headers)); // readable diff first
  expect(headers).toEqual(expected.headers); // then byte for byte
  expect(got.body.toString('hex')).toBe(expected.body.toString('hex'));
}

export function describeFidelityContract(name: string, factory: () => FidelityBackend): void {
  const { dataPlane } = factory();
  describe(`event fidelity: ${name}, ${dataPlane} data plane`, () => {
    const run = `${process.pid}x${Date.now().toString(36)}`;
    const replies = new Map<string, { c: FidelityCase; mode: ProducerMode; id: string }>();
    let broker: RunningBroker;
    let direct: TestSink;
    let replier: TestSink;
    let replied: TestSink;
    let deadLetters: TestSink;

    beforeAll(async () => {
      direct = await startTestSink();
      replied = await startTestSink();
      deadLetters = await startTestSink();
      replier = await startTestSink((event) => {
        const r = replies.get(event.id);
        if (r === undefined) return { status: 204 };
        const m = producerMessage(r.c, r.mode, r.id, TYPE.reply);
        return { status: 200, headers: m.headers, body: m.body };
      });
      const sinks: Record<string, TestSink> = {
        direct,
        replier,
        replied,
        'dead-letter-sink': deadLetters,
      };
      broker = await startBroker({
        manifests: contractManifests([
          { name: 'direct', filter: { type: TYPE.direct } },
          { name: 'replier', filter: { type: TYPE.ask } },
          { name: 'replied', filter: { type: TYPE.reply } },
        ]),
        resolveSubscriber: (ref) => (sinks[ref.name] as TestSink).url,
        replyTypesOf: async () => undefined,
        port: 0,
        rabbitmqUrl: factory().rabbitmqUrl,
        dataPlane,
        instance: `fid${dataPlane}${run}`,
        log: quietLog,
      });
    });

    afterAll(async () => {
      await broker?.destroy();
      for (const s of [direct, replier, replied, deadLetters]) await s?.close();
    });

    const table = FIDELITY_CASES.flatMap((c) => PRODUCER_MODES.map((mode) => [c.name, mode, c] as const));

    it.each(table)('%s sent in %s mode arrives exactly as sent', async (_name, mode, c) => {
      const id = `${c.name}-${mode}-${run}`;
      const m = producerMessage(c, mode, id, TYPE.direct);
      const res = await fetch(broker.url, { method: 'POST', headers: m.headers, body: m.body });
      expect(res.status, await res.text()).toBe(202);
      await waitFor(`${id} at the subscriber`, () => received(direct, id) !== undefined);
      expectExactly(received(direct, id) as Received, c, mode, id, TYPE.direct, dataPlane);
    });

    it.each(table)('%s replied in %s mode arrives exactly as replied', async (_name, mode, c) => {
      const ask = `ask-${c.name}-${mode}-${run}`;
      const id = `reply-${c.name}-${mode}-${run}`;
      replies.set(ask, { c, mode, id });
      const res = await fetch(broker.url, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': ask, 'ce-source': '/fidelity', 'ce-type': TYPE.ask },
      });
      expect(res.status).toBe(202);
      await waitFor(`reply ${id}`, () => received(replied, id) !== undefined);
      expectExactly(received(replied, id) as Received, c, mode, id, TYPE.reply, dataPlane);
    });

    it('dead-lettered nothing: every event and reply was accepted by its subscriber', () => {
      expect(deadLetters.received.map((r) => r.event.id)).toEqual([]);
    });
  });
}
