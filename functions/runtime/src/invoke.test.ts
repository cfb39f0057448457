import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from './adapters/memory/memory-document-store.ts';
import { toBinary } from './cloudevent/encode.ts';
import { receive } from './cloudevent/receive.ts';
import { PermanentError, TransientError } from './errors.ts';
import { IdempotencyGuard } from './idempotency/idempotency-store.ts';
import { type HttpAnswer, Invoker, replyId } from './invoke.ts';
import { JsonLogger } from './log.ts';
import type { InvocationRecord, Metrics } from './ports/metrics.ts';
import type { CloudEvent, Handler, SluiceFunction } from './types.ts';
import { compileSchemas } from './validate.ts';

const IN = 'dev.sluice.test.order.placed.v1';
const OUT = 'dev.sluice.test.order.accepted.v1';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

const schema = (properties: Record<string, unknown>, required: string[]) =>
  JSON.stringify({ type: 'object', additionalProperties: false, required, properties });

const SCHEMAS = compileSchemas([
  { type: IN, file: `${IN}.json`, text: schema({ orderId: { type: 'string' } }, ['orderId']) },
  { type: OUT, file: `${OUT}.json`, text: schema({ orderId: { type: 'string' } }, ['orderId']) },
]);

interface Harness {
  readonly invoker: Invoker;
  readonly store: MemoryDocumentStore;
  readonly calls: CloudEvent[];
  readonly logs: Record<string, unknown>[];
  readonly invocations: InvocationRecord[];
  post(headers?: Record<string, string>, data?: unknown): Promise<HttpAnswer>;
}

function harness(
  handle: Handler,
  options: { emits?: string[]; timeoutMs?: number; clock?: { now: number } } = {},
): Harness {
  const store = new MemoryDocumentStore();
  const calls: CloudEvent[] = [];
  const logs: Record<string, unknown>[] = [];
  const invocations: InvocationRecord[] = [];
  const sink = {
    write: (chunk: string) =>
      logs.push(
        ...chunk
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ),
  };
  const log = new JsonLogger({ serviceName: 'orders', sink });
  const metrics: Metrics = {
    invocation: (r) => invocations.push(r),
    httpRequest() {},
    coldStart() {},
    scrape: async () => undefined,
    shutdown: async () => {},
  };
  const fn: SluiceFunction = {
    accepts: [IN],
    emits: options.emits ?? [OUT],
    handle: (event, ctx) => {
      calls.push(event);
      return handle(event, ctx);
    },
  };
  const invoker = new Invoker({
    fn,
    schemas: SCHEMAS,
    store,
    guard: new IdempotencyGuard(store, 'orders', {
      lockSeconds: 30,
      ...(options.clock === undefined ? {} : { now: () => (options.clock as { now: number }).now }),
    }),
    log,
    metrics,
    serviceName: 'orders',
    eventSource: '/sluice/functions/orders',
    handlerTimeoutMs: options.timeoutMs ?? 5_000,
  });
  const post = (headers: Record<string, string> = {}, data: unknown = { orderId: 'o-1' }) => {
    const h: IncomingHttpHeaders = {
      'ce-specversion': '1.0',
      'ce-id': 'evt-1',
      'ce-source': '/shop',
      'ce-type': IN,
      'content-type': 'application/json',
      ...headers,
    };
    return invoker.invoke(h, Buffer.from(JSON.stringify(data)));
  };
  return { invoker, store, calls, logs, invocations, post };
}

const json = (answer: HttpAnswer): Record<string, unknown> => JSON.parse(answer.body.toString());

/** A promise and its resolve, to hold a handler mid-flight. */
function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('Invoker', () => {
  describe('invoke', () => {
    it('answers 204 with no body when the handler returns nothing', async () => {
      const h = harness(async () => undefined);
      const answer = await h.post();
      expect(answer.status).toBe(204);
      expect(answer.body.length).toBe(0);
      expect(h.calls).toHaveLength(1);
      expect(h.calls[0]?.data).toEqual({ orderId: 'o-1' });
    });

    it('answers 200 with a binary-mode reply: deterministic id, own source, causation, correlation, trace', async () => {
      const h = harness(async (event) => ({
        type: OUT,
        subject: 'o-1',
        data: { orderId: (event.data as { orderId: string }).orderId },
        extensions: { priority: 'high' },
      }));
      const answer = await h.post({ traceparent: TRACEPARENT, tracestate: 'vendor=1' });
      expect(answer.status).toBe(200);
      const reply = receive(answer.headers, answer.body).event;
      expect(reply).toMatchObject({
        id: replyId('orders', '/shop', 'evt-1', OUT),
        source: '/sluice/functions/orders',
        type: OUT,
        subject: 'o-1',
        datacontenttype: 'application/json',
        data: { orderId: 'o-1' },
      });
      expect(reply.time).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(reply.extensions).toMatchObject({
        priority: 'high',
        causationid: 'evt-1',
        correlationid: 'evt-1',
        tracestate: 'vendor=1',
      });
      const traceparent = String(reply.extensions.traceparent);
      expect(traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
      expect(traceparent).not.toBe(TRACEPARENT); // a new span of the same trace
    });

    it('keeps the correlation id of the chain and takes the trace from ce-traceparent', async () => {
      const h = harness(async () => ({ type: OUT, data: { orderId: 'x' } }));
      const answer = await h.post({ 'ce-correlationid': 'root-7', 'ce-traceparent': TRACEPARENT });
      const reply = receive(answer.headers, answer.body).event;
      expect(reply.extensions.correlationid).toBe('root-7');
      expect(String(reply.extensions.traceparent).slice(3, 35)).toBe(TRACE_ID);
    });

    it('writes the correlation and causation ids on its log lines, so a flow joins across steps', async () => {
      const h = harness(async () => ({ type: OUT, data: { orderId: 'x' } }));
      await h.post({ 'ce-correlationid': 'root-7', 'ce-causationid': 'step-1' });
      await h.post({ 'ce-id': 'first-of-a-chain' });
      await new Promise((r) => setImmediate(r)); // lines are flushed once per event-loop turn
      const lines = h.logs.filter((l) => l['event.outcome'] === 'success');
      expect(lines.map((l) => [l['sluice.correlation_id'], l['sluice.causation_id']])).toEqual([
        ['root-7', 'step-1'],
        ['first-of-a-chain', undefined],
      ]);
    });

    it("names the reply on the event's line: the edge from the event to its reply in the tree Kibana rebuilds", async () => {
      const h = harness(async () => ({ type: OUT, data: { orderId: 'x' } }));
      const answer = await h.post();
      const reply = receive(answer.headers, answer.body).event;
      await new Promise((r) => setImmediate(r));
      const line = h.logs.find((l) => l['event.outcome'] === 'success');
      expect(line).toMatchObject({ 'sluice.reply.id': reply.id, 'sluice.reply.type': OUT });
    });

    it('computes the same reply id for the same event and a different one for another event', () => {
      expect(replyId('f', '/s', '1', OUT)).toBe(replyId('f', '/s', '1', OUT));
      expect(replyId('f', '/s', '1', OUT)).not.toBe(replyId('f', '/s', '2', OUT));
      expect(replyId('f', '/s', '1', OUT)).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    });

    it('replays a redelivered event from its record without calling the handler again', async () => {
      const h = harness(async () => ({ type: OUT, data: { orderId: 'o-1' } }));
      const first = await h.post();
      const second = await h.post();
      expect(h.calls).toHaveLength(1);
      expect(second.status).toBe(200);
      expect(second.headers).toEqual(first.headers);
      expect(second.body.equals(first.body)).toBe(true);
      expect(h.invocations.map((i) => i.outcome)).toEqual(['success', 'replayed']);
    });

    it('treats the same id from another source as another event', async () => {
      const h = harness(async () => undefined);
      await h.post();
      await h.post({ 'ce-source': '/other-shop' });
      expect(h.calls).toHaveLength(2);
    });

    it('answers 503 to a concurrent duplicate while the first is in progress', async () => {
      const hold = gate();
      const h = harness(async () => {
        await hold.promise;
        return undefined;
      });
      const first = h.post();
      await new Promise((r) => setImmediate(r)); // let the first claim its key
      const duplicate = await h.post();
      expect(duplicate.status).toBe(503);
      expect(duplicate.headers['retry-after']).toBe('1');
      hold.open();
      expect((await first).status).toBe(204);
      expect(h.calls).toHaveLength(1);
      expect((await h.post()).status).toBe(204); // now a replay
      expect(h.calls).toHaveLength(1);
    });

    it('answers 503 when a slow run was taken over, and replays the newer run’s answer to the retry', async () => {
      const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
      const slow = gate();
      let run = 0;
      const h = harness(
        async () => {
          run++;
          if (run === 1) await slow.promise; // the first run stalls past its lock
          return { type: OUT, data: { orderId: `run-${run}` } };
        },
        { clock },
      );
      const first = h.post();
      await new Promise((r) => setImmediate(r));
      clock.now += 31_000; // the lock (30 s) has passed: the redelivery takes over
      const second = await h.post();
      expect(second.status).toBe(200);
      slow.open();
      const late = await first;
      expect(late.status).toBe(503);
      expect(json(late).detail).toMatch(/taken over/);
      const retry = await h.post();
      expect(retry.body.equals(second.body)).toBe(true);
      expect(h.calls).toHaveLength(2);
    });

    it('does not record a slow run’s rejection over the newer run', async () => {
      const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
      const slow = gate();
      let run = 0;
      const h = harness(
        async () => {
          run++;
          if (run === 1) {
            await slow.promise;
            throw new PermanentError('too-late', 'the slow run rejects');
          }
          return undefined;
        },
        { clock },
      );
      const first = h.post();
      await new Promise((r) => setImmediate(r));
      clock.now += 31_000;
      expect((await h.post()).status).toBe(204);
      slow.open();
      expect((await first).status).toBe(503);
      expect((await h.post()).status).toBe(204); // the newer run's outcome stands
    });

    it('answers 422 to a PermanentError, records it, and replays it without running again', async () => {
      const h = harness(async () => {
        throw new PermanentError('out-of-stock', 'order o-1 cannot be filled');
      });
      const first = await h.post();
      expect(first.status).toBe(422);
      expect(first.headers['content-type']).toBe('application/problem+json');
      expect(json(first)).toMatchObject({
        type: 'https://sluice.dev/problems/out-of-stock',
        status: 422,
        detail: 'order o-1 cannot be filled',
      });
      const again = await h.post();
      expect(again.status).toBe(422);
      expect(again.body.equals(first.body)).toBe(true);
      expect(h.calls).toHaveLength(1);
    });

    it('answers 503 + Retry-After to a TransientError and releases the key so a retry runs', async () => {
      let attempt = 0;
      const h = harness(async () => {
        attempt++;
        if (attempt === 1) throw new TransientError('inventory is down', { retryAfterSeconds: 4 });
        return undefined;
      });
      const first = await h.post();
      expect(first.status).toBe(503);
      expect(first.headers['retry-after']).toBe('4');
      expect(json(first).detail).toBe('inventory is down');
      const retry = await h.post();
      expect(retry.status).toBe(204);
      expect(h.calls).toHaveLength(2);
    });

    it('answers 500 to an unexpected error without leaking its message, and releases the key', async () => {
      let attempt = 0;
      const h = harness(async () => {
        attempt++;
        if (attempt === 1) throw new Error('secret connection string mongodb://admin:pw@db');
        return undefined;
      });
      const answer = await h.post();
      expect(answer.status).toBe(500);
      expect(answer.body.toString()).not.toContain('secret');
      expect(json(answer).detail).toBe('the function failed; see its log');
      await new Promise((r) => setImmediate(r));
      expect(h.logs.some((l) => String(l['error.message']).includes('secret'))).toBe(true);
      expect((await h.post()).status).toBe(204);
    });

    it('answers 400 to a type the function does not accept, naming the type', async () => {
      const h = harness(async () => undefined);
      const answer = await h.post({ 'ce-type': 'dev.sluice.test.other.v1' });
      expect(answer.status).toBe(400);
      expect(json(answer)).toMatchObject({
        type: 'https://sluice.dev/problems/unaccepted-type',
        'invalid-params': [{ name: 'type', reason: expect.stringContaining('Trigger') }],
      });
      expect(h.calls).toHaveLength(0);
    });

    it('answers 400 with the schema path when data fails the schema, without claiming the key', async () => {
      const h = harness(async () => undefined);
      const answer = await h.post({}, { orderId: 7 });
      expect(answer.status).toBe(400);
      expect(json(answer)['invalid-params']).toEqual([
        { name: 'data/orderId', reason: expect.stringContaining('#/properties/orderId/type') },
      ]);
      expect(await h.store.collection('sluice_idempotency').countDocuments({})).toBe(0);
    });

    it('answers 400 to an invalid CloudEvent', async () => {
      const h = harness(async () => undefined);
      const answer = await h.post({ 'ce-time': 'not a time' });
      expect(answer.status).toBe(400);
      expect(json(answer)['invalid-params']).toEqual([
        { name: 'time', reason: 'must be an RFC 3339 timestamp' },
      ]);
    });

    it('answers 500 when the reply type is not in emits', async () => {
      const h = harness(async () => ({ type: 'dev.sluice.test.undeclared.v1', data: {} }));
      const answer = await h.post();
      expect(answer.status).toBe(500);
      expect(h.invocations[0]).toMatchObject({ outcome: 'error', reason: 'InvalidReplyError' });
    });

    it('answers 500 when the reply data fails its schema', async () => {
      const h = harness(async () => ({ type: OUT, data: { orderId: 1 } }));
      expect((await h.post()).status).toBe(500);
    });

    it('answers 500 when the handler returns something that is not a reply', async () => {
      const h = harness(async () => ({ data: {} }) as never);
      expect((await h.post()).status).toBe(500);
    });

    it('answers 503 when the handler exceeds its timeout, and keeps the claim until the lock passes', async () => {
      const h = harness(() => new Promise<undefined>(() => {}), { timeoutMs: 20 });
      const answer = await h.post();
      expect(answer.status).toBe(503);
      expect(json(answer).detail).toMatch(/did not finish within 20 ms/);
      expect((await h.post()).status).toBe(503); // the first may still be running
      expect(h.calls).toHaveLength(1);
    });

    it('runs a synchronous handler', async () => {
      const h = harness(() => ({ type: OUT, data: { orderId: 'sync' } }));
      expect((await h.post()).status).toBe(200);
    });

    it("hands every handler a context whose lazy members live on one shared prototype, not on each event's object", async () => {
      // Accessors defined per object (an object literal with `get log()`) cost V8 a runtime call and a map per
      // event, and those maps kept each event's objects alive past the young generation (docs/performance.md).
      const contexts: Parameters<Handler>[1][] = [];
      const h = harness((_event, ctx) => {
        contexts.push(ctx);
        return undefined;
      });
      await h.post({ 'ce-id': 'context-1' });
      await h.post({ 'ce-id': 'context-2' });
      const [first, second] = contexts;
      expect(contexts).toHaveLength(2);
      expect(Object.getPrototypeOf(first)).toBe(Object.getPrototypeOf(second));
      for (const name of ['log', 'signal'] as const) {
        expect(Object.getOwnPropertyDescriptor(first, name)).toBeUndefined();
        expect(typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(first), name)?.get).toBe(
          'function',
        );
      }
      expect(first?.functionName).toBe('orders');
      expect(first?.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(first?.signal.aborted).toBe(false);
    });

    it('aborts context.signal with a TimeoutError when the handler exceeds its timeout', async () => {
      let reason: unknown;
      const h = harness(
        (_event, ctx) =>
          new Promise<undefined>((resolve) => {
            ctx.signal.addEventListener('abort', () => {
              reason = ctx.signal.reason;
              resolve(undefined);
            });
          }),
        { timeoutMs: 20 },
      );
      expect((await h.post()).status).toBe(503);
      expect((reason as Error | undefined)?.name).toBe('TimeoutError');
    });

    it('aborts context.signal and answers 503 when the shutdown signal fires', async () => {
      const started = gate();
      let aborted = false;
      const h = harness((_event, ctx) => {
        started.open();
        return new Promise<undefined>(() => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
          });
        });
      });
      const pending = h.post();
      await started.promise;
      h.invoker.shutdownSignal.abort();
      expect((await pending).status).toBe(503);
      expect(aborted).toBe(true);
    });

    it('hands a handler that finished in time a signal that has not aborted', async () => {
      let signal: AbortSignal | undefined;
      const h = harness(async (_event, ctx) => {
        signal = ctx.signal;
        return undefined;
      });
      expect((await h.post()).status).toBe(204);
      expect(signal?.aborted).toBe(false);
    });

    it('writes one log line per outcome with the fields an operator needs', async () => {
      const h = harness(async () => undefined);
      await h.post({ traceparent: TRACEPARENT });
      await new Promise((r) => setImmediate(r));
      const line = h.logs.find((l) => l.message === 'event processed');
      expect(line).toMatchObject({
        'log.level': 'info',
        'event.id': 'evt-1',
        'cloudevents.event_type': IN,
        'cloudevents.event_source': '/shop',
        'sluice.outcome': 'success',
        'http.response.status_code': 204,
        'trace.id': TRACE_ID,
        service: { name: 'orders' },
      });
      expect(typeof line?.['event.duration']).toBe('number');
    });

    it("adds the event's ids and trace to the lines a handler writes, letting the handler's fields win", async () => {
      const h = harness(async (_event, ctx) => {
        ctx.log.info('audit', { 'event.action': 'transfer', amount: 5 });
        return undefined;
      });
      await h.post({ traceparent: TRACEPARENT });
      await new Promise((r) => setImmediate(r));
      const line = h.logs.find((l) => l.message === 'audit');
      expect(line).toMatchObject({
        'event.id': 'evt-1',
        'trace.id': TRACE_ID,
        'cloudevents.event_source': '/shop',
        'event.action': 'transfer',
        amount: 5,
      });
      expect(typeof line?.['span.id']).toBe('string');
    });
  });
});

describe('toBinary of a reply', () => {
  it('is what the broker receives: a valid event in binary mode', async () => {
    const h = harness(async () => ({ type: OUT, data: { orderId: 'o' } }));
    const answer = await h.post();
    const event = receive(answer.headers, answer.body).event;
    const again = toBinary(event);
    expect(receive(again.headers, again.body).event).toEqual(event);
  });
});
