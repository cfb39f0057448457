/**
 * The broker contract: the behaviour both backends must show, run by `memory-broker.test.ts` (unit)
 * and `rabbitmq-broker.int.test.ts` (real RabbitMQ). Subscribers and dead-letter sinks are small HTTP
 * servers on 127.0.0.1; events go in through the ingress as a producer's curl would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { backoffMs } from './delivery.ts';
import { type DataPlane, type RunningBroker, startBroker } from './index.ts';
import { contractManifests, quietLog, type TriggerDef } from './testing/manifests.ts';
import { postEvent, settle, startTestSink, type TestSink, testEvent, waitFor } from './testing/test-sink.ts';

export interface ContractBackend {
  /** undefined = the in-process backend. */
  readonly rabbitmqUrl: string | undefined;
  /** Messages survive a broker restart (a new broker on the same queues delivers them). */
  readonly durable: boolean;
}

let counter = 0;

/** Polls an async check until it answers something (a generous bound against a hang, not a timing). */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

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
      options: { instance?: string; dataPlane?: DataPlane; replyUrl?: string } = {},
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
        instance: options.instance ?? `c${process.pid}x${Date.now().toString(36)}x${counter++}`,
        log: quietLog,
        ...(options.dataPlane === undefined ? {} : { dataPlane: options.dataPlane }),
        ...(options.replyUrl === undefined ? {} : { replyUrl: options.replyUrl }),
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

    it('pauses a trigger: its queue keeps every event and counts it, nothing is delivered until it resumes, then all once', async () => {
      const sinks = { billing: await startTestSink(), audit: await startTestSink() };
      const broker = await setup(
        [
          { name: 'billing', filter: { type: 'dev.test.paused' }, parallelism: 4 },
          { name: 'audit', filter: { type: 'dev.test.paused' } },
        ],
        sinks,
      );
      expect(await broker.pause('billing', true)).toBe(true);
      expect(await broker.pause('billing', true)).toBe(true); // idempotent
      expect(broker.paused('billing')).toBe(true);
      expect((await broker.triggers()).find((t) => t.name === 'billing')).toMatchObject({
        replicas: 0,
        depth: 0,
        subscriber: 'billing',
      });
      const events = Array.from({ length: 12 }, () => testEvent({ type: 'dev.test.paused' }));
      for (const e of events) expect(await postEvent(broker.url, e)).toBe(202);
      // The other trigger on the same events is not paused.
      await waitFor('the unpaused trigger to get every event', () => sinks.audit.received.length === 12);
      await until('the paused queue to hold all 12', async () => {
        const t = (await broker.triggers()).find((x) => x.name === 'billing');
        return t?.depth === 12 ? t : undefined;
      });
      expect(broker.paused('billing')).toBe(true);
      expect(broker.paused('audit')).toBe(false);
      expect(sinks.billing.received).toHaveLength(0);
      const metrics = await (await fetch(new URL('/metrics', broker.url))).text();
      expect(metrics).toMatch(/^sluice_trigger_queue_depth\{trigger="billing"\} 12$/m);
      expect(metrics).toMatch(/^sluice_trigger_paused\{trigger="billing"\} 1$/m);
      expect(metrics).toMatch(/^sluice_trigger_paused\{trigger="audit"\} 0$/m);

      expect(await broker.pause('billing', false)).toBe(true);
      expect(broker.paused('billing')).toBe(false);
      expect((await broker.triggers()).find((t) => t.name === 'billing')?.replicas).toBe(1);
      await waitFor('every held event delivered', () => sinks.billing.received.length >= 12);
      await settle();
      expect(sinks.billing.received.map((r) => r.event.id).sort()).toEqual(events.map((e) => e.id).sort());
      await until('an empty queue', async () =>
        (await broker.triggers()).find((x) => x.name === 'billing')?.depth === 0 ? true : undefined,
      );
      expect(await broker.pause('no-such-trigger', true)).toBe(false);
      expect(broker.paused('no-such-trigger')).toBeUndefined();
    });

    it('pausing lets the deliveries in progress finish and puts what a replica held unhandled back in the queue', async () => {
      const slow = await startTestSink(() => ({ status: 204, delayMs: 1000 }));
      const broker = await setup([{ name: 'slow', filter: { type: 'dev.test.slow' }, parallelism: 2 }], {
        slow,
      });
      const events = Array.from({ length: 6 }, () => testEvent({ type: 'dev.test.slow' }));
      for (const e of events) expect(await postEvent(broker.url, e)).toBe(202);
      await waitFor('two deliveries in progress', () => slow.received.length === 2);
      await broker.pause('slow', true);
      await settle();
      expect(slow.received).toHaveLength(2); // the two in progress finished; nothing new started
      await until('the other four back in the queue', async () =>
        (await broker.triggers())[0]?.depth === 4 ? true : undefined,
      );
      await broker.pause('slow', false);
      await waitFor('all six delivered', () => new Set(slow.received.map((r) => r.event.id)).size === 6);
    });

    it('retries a failing subscriber with growing backoff, then dead-letters with knativeerrordest and code only', async () => {
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
      // Timers never fire early, so each gap is at least its exponential backoff (20 ms · 2^n); a lower bound only:
      // how much later an attempt comes depends on the machine's load, not on the broker.
      for (const [i, gap] of gaps.entries())
        expect(gap).toBeGreaterThanOrEqual(backoffMs('exponential', 20, i + 1) - 2);
      const dead = (dls.received[0] as { event: CloudEvent }).event;
      expect(dead.id).toBe(event.id);
      expect(dead.type).toBe(event.type);
      expect(dead.data).toEqual(event.data);
      expect(dead.extensions.knativeerrordest).toBe(failing.url);
      expect(String(dead.extensions.knativeerrorcode)).toBe('503');
      // Upstream never sets knativeerrordata, and does not forward the error body.
      expect(dead.extensions.knativeerrordata).toBeUndefined();
    });

    it('acks a 400 as delivered (one attempt, no dead letter) and publishes a CloudEvent in its body as a reply', async () => {
      const refusing = await startTestSink((e) => ({
        status: 400,
        reply: testEvent({
          id: `refusal-of-${e.id}`,
          type: 'dev.test.refusal',
          source: '/sluice/functions/refusing',
        }),
      }));
      const next = await startTestSink();
      const dls = await startTestSink();
      const broker = await setup(
        [
          { name: 'refusing', filter: { type: 'dev.test.bad' } },
          { name: 'next', filter: { type: 'dev.test.refusal' } },
        ],
        { refusing, next, 'dead-letter-sink': dls },
      );
      const event = testEvent({ type: 'dev.test.bad' });
      expect(await postEvent(broker.url, event)).toBe(202);
      await waitFor('the reply carried by the 400', () => next.received.length === 1);
      await settle();
      expect(next.received[0]?.event.id).toBe(`refusal-of-${event.id}`);
      expect(refusing.attemptsOf(event.id)).toHaveLength(1);
      expect(dls.received).toHaveLength(0);
    });

    it('acks 3xx, 413 and 422 as delivered too: nothing reaches the dead-letter sink', async () => {
      const statuses = [302, 413, 422];
      const refusing = await startTestSink((e) => ({ status: (e.data as { status: number }).status }));
      const dls = await startTestSink();
      const broker = await setup([{ name: 'refusing', filter: { type: 'dev.test.refused' } }], {
        refusing,
        'dead-letter-sink': dls,
      });
      for (const status of statuses)
        expect(await postEvent(broker.url, testEvent({ type: 'dev.test.refused', data: { status } }))).toBe(
          202,
        );
      await waitFor('every refusal', () => refusing.received.length === statuses.length);
      await settle();
      expect(refusing.received).toHaveLength(statuses.length);
      expect(dls.received).toHaveLength(0);
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

    it('retries a 2xx whose body breaks off, instead of counting it delivered with its reply lost', async () => {
      const cut = await startTestSink((_e, attempt) =>
        attempt === 1 ? { status: 200, cutBody: true } : { status: 204 },
      );
      const broker = await setup([{ name: 'cut', filter: { type: 'dev.test.cut' } }], { cut });
      const event = testEvent({ type: 'dev.test.cut' });
      expect(await postEvent(broker.url, event)).toBe(202);
      await waitFor('the retry after the broken answer', () => cut.attemptsOf(event.id).length === 2);
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

    it('dead-letters the original with the subscriber status when its reply cannot be sent to the ingress', async () => {
      const ingressDown = await startTestSink(() => ({ status: 503 }));
      const replying = await startTestSink((e) => ({
        status: 200,
        reply: testEvent({
          id: `reply-of-${e.id}`,
          type: 'dev.test.lost-reply',
          source: '/sluice/functions/replying',
        }),
      }));
      const dls = await startTestSink();
      const broker = await setup(
        [
          {
            name: 'replying',
            filter: { type: 'dev.test.reply-fails' },
            delivery: 'retry: 2\n    backoffPolicy: linear\n    backoffDelay: PT0.005S',
          },
        ],
        { replying, 'dead-letter-sink': dls, 'ingress-down': ingressDown },
        { replyUrl: ingressDown.url },
      );
      const event = testEvent({ type: 'dev.test.reply-fails' });
      expect(await postEvent(broker.url, event)).toBe(202);
      await waitFor('the dead letter', () => dls.received.length === 1);
      expect(ingressDown.attemptsOf(`reply-of-${event.id}`)).toHaveLength(3); // the trigger's retry policy
      const dead = (dls.received[0] as { event: CloudEvent }).event;
      expect(dead.id).toBe(event.id);
      expect(String(dead.extensions.knativeerrorcode)).toBe('200');
      expect(dead.extensions.knativeerrordest).toBe(replying.url);
      expect(dead.extensions.knativeerrordata).toBeUndefined();
    });

    it('stamps a missing time with the send time, and sends binary mode without Prefer or K- headers', async () => {
      const all = await startTestSink();
      const broker = await setup([{ name: 'all' }], { all });
      const { time: _none, ...untimed } = testEvent({ datacontenttype: undefined, data: undefined });
      const before = Date.now();
      expect(await postEvent(broker.url, untimed as CloudEvent)).toBe(202);
      await waitFor('delivery', () => all.received.length === 1);
      const got = all.received[0] as { event: CloudEvent; headers: Record<string, unknown> };
      expect(Date.parse(got.event.time as string)).toBeGreaterThanOrEqual(before - 1000);
      expect(got.headers['ce-id']).toBe(untimed.id);
      expect(got.headers['content-type']).toBeUndefined();
      expect(Object.keys(got.headers).filter((h) => h === 'prefer' || /^kn?-/.test(h))).toEqual([]);
    });

    it('drops a ce-traceparent extension alone and forwards an HTTP traceparent unchanged', async () => {
      const all = await startTestSink();
      const broker = await setup([{ name: 'all' }], { all });
      const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const alone = testEvent({ extensions: { traceparent: tp } });
      expect(await postEvent(broker.url, alone)).toBe(202);
      const withHeader = testEvent();
      expect(await postEvent(broker.url, withHeader, 0, { traceparent: tp })).toBe(202);
      await waitFor('both deliveries', () => all.received.length === 2);
      const a = all.attemptsOf(alone.id)[0];
      const h = all.attemptsOf(withHeader.id)[0];
      expect(a?.headers['ce-traceparent']).toBeUndefined();
      expect(a?.headers.traceparent).toBeUndefined();
      expect(h?.headers.traceparent).toBe(tp);
      expect(h?.headers['ce-traceparent']).toBeUndefined();
    });

    it('accepts with 202 and drops an event no trigger matches', async () => {
      const a = await startTestSink();
      const broker = await setup([{ name: 'a', filter: { type: 'dev.test.matched' } }], { a });
      expect(await postEvent(broker.url, testEvent({ type: 'dev.test.unmatched' }))).toBe(202);
      const matched = testEvent({ type: 'dev.test.matched' });
      expect(await postEvent(broker.url, matched)).toBe(202);
      await waitFor('the matched event', () => a.received.length === 1);
      expect(a.received.map((r) => r.event.id)).toEqual([matched.id]);
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

    it('runs at most parallelism deliveries at once, a retrying one holding its worker', async () => {
      let running = 0;
      let most = 0;
      const slow = await startTestSink((_e, attempt) => {
        running++;
        most = Math.max(most, running);
        setTimeout(() => running--, 30);
        return { status: attempt === 1 ? 503 : 204, delayMs: 30 };
      });
      const broker = await setup(
        [
          {
            name: 'slow',
            filter: { type: 'dev.test.parallel' },
            parallelism: 2,
            delivery: 'retry: 1\n    backoffPolicy: linear\n    backoffDelay: PT0.01S',
          },
        ],
        { slow },
      );
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const e = testEvent({ type: 'dev.test.parallel' });
        ids.push(e.id);
        expect(await postEvent(broker.url, e)).toBe(202);
      }
      await waitFor('every event twice', () => ids.every((id) => slow.attemptsOf(id).length === 2));
      expect(most).toBeLessThanOrEqual(2);
    });

    it('refuses invalid CloudEvents with a bare 400 and accepts nothing from them; only / is served', async () => {
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
      expect(await noId.text()).toBe('');
      expect((await fetch(broker.url)).status).toBe(405);
      expect(await postEvent(new URL('/sluice/default', broker.url).href, testEvent())).toBe(404);
      await settle();
      expect(all.received).toHaveLength(0);
    });

    describe('sluice data plane', () => {
      it('dead-letters a 400 at once with knativeerrordata, unless the subscriber kept it itself', async () => {
        const refusing = await startTestSink((e) => ({
          status: 400,
          body: '{"title":"Invalid CloudEvent"}',
          headers: (e.data as { kept?: boolean }).kept ? { 'sluice-dead-lettered': 'true' } : {},
        }));
        const dls = await startTestSink();
        const broker = await setup(
          [{ name: 'refusing', filter: { type: 'dev.test.bad' } }],
          { refusing, 'dead-letter-sink': dls },
          { dataPlane: 'sluice' },
        );
        const kept = testEvent({ type: 'dev.test.bad', data: { kept: true } });
        const event = testEvent({ type: 'dev.test.bad' });
        expect(await postEvent(broker.url, kept)).toBe(202);
        expect(await postEvent(broker.url, event)).toBe(202);
        await waitFor('the dead letter', () => dls.received.length === 1);
        await settle();
        expect(refusing.attemptsOf(event.id)).toHaveLength(1);
        expect(dls.received.map((r) => r.event.id)).toEqual([event.id]);
        const dead = dls.received[0]?.event;
        expect(String(dead?.extensions.knativeerrorcode)).toBe('400');
        expect(Buffer.from(String(dead?.extensions.knativeerrordata), 'base64').toString()).toBe(
          '{"title":"Invalid CloudEvent"}',
        );
      });

      it('keeps time and trace extensions as they are', async () => {
        const all = await startTestSink();
        const broker = await setup([{ name: 'all' }], { all }, { dataPlane: 'sluice' });
        const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        const { time: _none, ...untimed } = testEvent({ extensions: { traceparent: tp } });
        expect(await postEvent(broker.url, untimed as CloudEvent)).toBe(202);
        await waitFor('delivery', () => all.received.length === 1);
        expect(all.received[0]?.event.time).toBeUndefined();
        expect(all.received[0]?.event.extensions.traceparent).toBe(tp);
      });

      it('refuses invalid CloudEvents with problem+json, and serves the /<namespace>/<broker> path', async () => {
        const all = await startTestSink();
        const broker = await setup([{ name: 'all' }], { all }, { dataPlane: 'sluice' });
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
        expect(problem['invalid-params'].map((p) => p.name)).toContain('id');
        const batch = await fetch(broker.url, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents-batch+json' },
          body: '[]',
        });
        expect(batch.status).toBe(415);
        const event = testEvent();
        expect(await postEvent(new URL('/sluice/default', broker.url).href, event)).toBe(202);
        await waitFor('delivery', () => all.received.length === 1);
        expect(all.received.map((r) => r.event.id)).toEqual([event.id]);
      });
    });

    it.runIf(factory().durable)(
      'redelivers an accepted event after a broker restart mid-delivery',
      async () => {
        const instance = `d${process.pid}x${Date.now().toString(36)}x${counter++}`;
        const trigger = [{ name: 'restart', filter: { type: 'dev.test.durable' } }];
        const holder = await startTestSink(() => ({ status: 202, delayMs: 10_000 }));
        const first = await setup(trigger, { restart: holder }, { instance });
        const event = testEvent({ type: 'dev.test.durable' });
        expect(await postEvent(first.url, event)).toBe(202);
        await waitFor('the first delivery to start', () => holder.received.length === 1);
        await first.stop(); // the delivery is aborted before an answer: never acked
        const receiver = await startTestSink();
        await setup(trigger, { restart: receiver }, { instance });
        await waitFor('the redelivered event', () => receiver.received.length >= 1);
        expect(receiver.received[0]?.event.id).toBe(event.id);
      },
    );
  });
}
