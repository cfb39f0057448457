/**
 * The broker contract: the behaviour both backends must show, run by `memory-broker.test.ts` (unit)
 * and `rabbitmq-broker.int.test.ts` (real RabbitMQ). Subscribers and dead-letter sinks are small HTTP
 * servers on 127.0.0.1; events go in through the ingress as a producer's curl would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { type RunningBroker, startBroker } from './index.ts';
import { contractManifests, quietLog, type TriggerDef } from './testing/manifests.ts';
import { postEvent, settle, startTestSink, type TestSink, testEvent, waitFor } from './testing/test-sink.ts';

export interface ContractBackend {
  /** undefined = the in-process backend. */
  readonly rabbitmqUrl: string | undefined;
  /** Messages survive a broker restart (a new broker on the same queues delivers them). */
  readonly durable: boolean;
}

let counter = 0;

export function describeBrokerContract(name: string, factory: () => ContractBackend): void {
  describe(`broker contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.reverse()) await c();
      cleanups.length = 0;
    });

    async function setup(
      triggers: readonly TriggerDef[],
      sinks: Record<string, TestSink>,
      instance = `c${process.pid}x${Date.now().toString(36)}x${counter++}`,
    ): Promise<RunningBroker> {
      const dls = sinks['dead-letter-sink'] ?? (await startTestSink());
      const all: Record<string, TestSink> = { ...sinks, 'dead-letter-sink': dls };
      for (const s of Object.values(all)) cleanups.push(() => s.close());
      const broker = await startBroker({
        manifests: contractManifests(triggers),
        resolveSubscriber: (ref) => {
          const sink = all[ref.name];
          if (sink === undefined) throw new Error(`no test sink ${ref.name}`);
          return sink.url;
        },
        replyTypesOf: async () => undefined,
        port: 0,
        rabbitmqUrl: factory().rabbitmqUrl,
        instance,
        log: quietLog,
      });
      cleanups.push(() => broker.destroy());
      return broker;
    }

    it('delivers each event to the triggers whose filter attributes all match exactly', async () => {
      const sinks = {
        a: await startTestSink(),
        b: await startTestSink(),
        c: await startTestSink(),
        d: await startTestSink(),
      };
      const broker = await setup(
        [
          { name: 'a', filter: { type: 'dev.test.x' } },
          { name: 'b', filter: { type: 'dev.test.y', source: '/s1' } },
          { name: 'c' },
          { name: 'd', filter: { tenant: 'acme' } },
        ],
        sinks,
      );
      const e1 = testEvent({ type: 'dev.test.x', source: '/s1' });
      const e2 = testEvent({ type: 'dev.test.y', source: '/s1' });
      const e3 = testEvent({ type: 'dev.test.y', source: '/s2', extensions: { tenant: 'acme' } });
      const e4 = testEvent({ type: 'dev.test.x.v2', source: '/s1', extensions: { tenant: 'acme-corp' } });
      for (const e of [e1, e2, e3, e4]) expect(await postEvent(broker.url, e)).toBe(202);
      await waitFor('trigger c to get every event', () => sinks.c.received.length === 4);
      await waitFor('trigger d', () => sinks.d.received.length >= 1);
      await settle();
      expect(sinks.a.received.map((r) => r.event.id)).toEqual([e1.id]);
      expect(sinks.b.received.map((r) => r.event.id)).toEqual([e2.id]);
      expect(sinks.d.received.map((r) => r.event.id)).toEqual([e3.id]);
      expect(new Set(sinks.c.received.map((r) => r.event.id))).toEqual(new Set([e1.id, e2.id, e3.id, e4.id]));
    });

    it('retries a failing subscriber with growing backoff, then dead-letters with the error extensions', async () => {
      const failing = await startTestSink(() => ({ status: 503, body: 'store down\n' }));
      const dls = await startTestSink();
      const broker = await setup(
        [
          {
            name: 'failing',
            filter: { type: 'dev.test.retry' },
            delivery:
              'retry: 3\n    backoffPolicy: exponential\n    backoffDelay: PT0.02S\n    timeout: PT5S',
          },
        ],
        { failing, 'dead-letter-sink': dls },
      );
      const event = testEvent({ type: 'dev.test.retry' });
      expect(await postEvent(broker.url, event)).toBe(202);
      await waitFor('the dead letter', () => dls.received.length === 1);
      const attempts = failing.attemptsOf(event.id);
      expect(attempts).toHaveLength(4); // 1 + retry 3
      const gaps = attempts.slice(1).map((a, i) => a.at - (attempts[i] as { at: number }).at);
      for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1] as number);
      const dead = (dls.received[0] as { event: CloudEvent }).event;
      expect(dead.id).toBe(event.id);
      expect(dead.type).toBe(event.type);
      expect(dead.data).toEqual(event.data);
      expect(dead.extensions.knativeerrordest).toBe(failing.url);
      expect(String(dead.extensions.knativeerrorcode)).toBe('503');
      expect(Buffer.from(String(dead.extensions.knativeerrordata), 'base64').toString()).toBe('store down');
    });

    it('dead-letters a 400 answer at once, without retries', async () => {
      const refusing = await startTestSink(() => ({ status: 400, body: '{"title":"Invalid CloudEvent"}' }));
      const dls = await startTestSink();
      const broker = await setup([{ name: 'refusing', filter: { type: 'dev.test.bad' } }], {
        refusing,
        'dead-letter-sink': dls,
      });
      const event = testEvent({ type: 'dev.test.bad' });
      expect(await postEvent(broker.url, event)).toBe(202);
      await waitFor('the dead letter', () => dls.received.length === 1);
      await settle();
      expect(refusing.attemptsOf(event.id)).toHaveLength(1);
      expect(String(dls.received[0]?.event.extensions.knativeerrorcode)).toBe('400');
    });

    it('retries 500, 429, 404, 408 and 409 and stops at the first success', async () => {
      const statuses = [500, 429, 404, 408, 409, 204];
      const flaky = await startTestSink((_e, attempt) => ({ status: statuses[attempt - 1] ?? 204 }));
      const dls = await startTestSink();
      const broker = await setup(
        [
          {
            name: 'flaky',
            filter: { type: 'dev.test.flaky' },
            delivery: 'retry: 6\n    backoffPolicy: linear\n    backoffDelay: PT0.005S',
          },
        ],
        { flaky, 'dead-letter-sink': dls },
      );
      const event = testEvent({ type: 'dev.test.flaky' });
      expect(await postEvent(broker.url, event)).toBe(202);
      await waitFor('six attempts', () => flaky.attemptsOf(event.id).length === 6);
      await settle();
      expect(flaky.attemptsOf(event.id)).toHaveLength(6);
      expect(dls.received).toHaveLength(0);
    });

    it('publishes a reply back into the broker, where the next trigger picks it up', async () => {
      const first = await startTestSink((e) => ({
        status: 200,
        reply: testEvent({
          id: `reply-of-${e.id}`,
          type: 'dev.test.step2',
          source: '/sluice/functions/first',
          data: { from: e.id },
        }),
      }));
      const second = await startTestSink();
      const broker = await setup(
        [
          { name: 'first', filter: { type: 'dev.test.step1' } },
          { name: 'second', filter: { type: 'dev.test.step2' } },
        ],
        { first, second },
      );
      const event = testEvent({ type: 'dev.test.step1' });
      expect(await postEvent(broker.url, event)).toBe(202);
      await waitFor('the reply at the second trigger', () => second.received.length === 1);
      const reply = (second.received[0] as { event: CloudEvent }).event;
      expect(reply.id).toBe(`reply-of-${event.id}`);
      expect(reply.source).toBe('/sluice/functions/first');
      expect(reply.data).toEqual({ from: event.id });
    });

    it('keeps the order of events when parallelism is 1', async () => {
      const ordered = await startTestSink((e) => ({
        status: 202,
        delayMs: ((e.data as { n: number }).n * 7) % 11,
      }));
      const broker = await setup([{ name: 'ordered', filter: { type: 'dev.test.seq' }, parallelism: 1 }], {
        ordered,
      });
      const sent: string[] = [];
      for (let i = 0; i < 25; i++) {
        const e = testEvent({ type: 'dev.test.seq' });
        sent.push(e.id);
        expect(await postEvent(broker.url, e)).toBe(202);
      }
      await waitFor('every event', () => ordered.received.length === sent.length);
      expect(ordered.received.map((r) => r.event.id)).toEqual(sent);
    });

    it('answers 202 on the cluster path /<namespace>/<broker> too', async () => {
      const all = await startTestSink();
      const broker = await setup([{ name: 'all' }], { all });
      const event = testEvent();
      expect(await postEvent(new URL('/sluice/default', broker.url).href, event)).toBe(202);
      await waitFor('delivery', () => all.received.length === 1);
    });

    it('refuses invalid CloudEvents with problem+json and accepts nothing from them', async () => {
      const all = await startTestSink();
      const broker = await setup([{ name: 'all' }], { all });
      const noId = await fetch(broker.url, {
        method: 'POST',
        headers: {
          'ce-specversion': '1.0',
          'ce-type': 't',
          'ce-source': '/s',
          'content-type': 'application/json',
        },
        body: '{}',
      });
      expect(noId.status).toBe(400);
      expect(noId.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await noId.json()) as { status: number; 'invalid-params': { name: string }[] };
      expect(problem.status).toBe(400);
      expect(problem['invalid-params'].map((p) => p.name)).toContain('id');
      const batch = await fetch(broker.url, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents-batch+json' },
        body: '[]',
      });
      expect(batch.status).toBe(415);
      expect(batch.headers.get('content-type')).toBe('application/problem+json');
      const plain = await fetch(broker.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(plain.status).toBe(400);
      expect((await fetch(broker.url)).status).toBe(405);
      expect((await fetch(new URL('/elsewhere', broker.url), { method: 'POST' })).status).toBe(404);
      await settle();
      expect(all.received).toHaveLength(0);
    });

    it.runIf(factory().durable)(
      'redelivers an accepted event after a broker restart mid-delivery',
      async () => {
        const instance = `d${process.pid}x${Date.now().toString(36)}x${counter++}`;
        const trigger = [{ name: 'restart', filter: { type: 'dev.test.durable' } }];
        const holder = await startTestSink(() => ({ status: 202, delayMs: 10_000 }));
        const first = await setup(trigger, { restart: holder }, instance);
        const event = testEvent({ type: 'dev.test.durable' });
        expect(await postEvent(first.url, event)).toBe(202);
        await waitFor('the first delivery to start', () => holder.received.length === 1);
        await first.stop(); // the delivery is aborted before an answer: never acked
        const receiver = await startTestSink();
        await setup(trigger, { restart: receiver }, instance);
        await waitFor('the redelivered event', () => receiver.received.length >= 1);
        expect(receiver.received[0]?.event.id).toBe(event.id);
      },
    );
  });
}
