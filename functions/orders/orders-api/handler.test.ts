/**
 * orders-api's routes on a memory store that the tests can take down (503) or break (500), in front of a stand-in
 * broker ingress whose answer the tests set (accepted, down, refusing, silent); each answer checked against the
 * OpenAPI document (body, status, headers), every route of the router found in it, and every status it
 * documents answered at least once. handler.int.test.ts runs the same on the runtime with FerretDB.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  type CloudEvent,
  type Context,
  type EventOf,
  JsonLogger,
  receive,
  type SluiceFunction,
} from '../../runtime/src/index.ts';
import {
  answerRecorder,
  expectServedDocument,
  routeProblems,
  type Sent,
} from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { readExample } from '../../runtime/test/support.ts';
import { expectStoreFailuresAnswered, SwitchableStore } from '../../runtime/test/switchable-store.ts';
import { OrdersEventType } from '../lib/orders.ts';
import type { Events, Handle } from './events.gen.ts';
import { accepts, emits, handle, init, routes } from './handler.ts';
import { documentedPath, openApiDocument } from './openapi.ts';

type JsonObject = Record<string, unknown>;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const BILLED = readExample<EventOf<Events, typeof OrdersEventType.orderBilled>>(
  join(import.meta.dirname, 'examples', `${OrdersEventType.orderBilled}.json`),
);

/** The stand-in broker ingress: 202 (stored), 503 (down), 400 (refusing), or no answer at all (silent). */
let brokerAnswer: 202 | 503 | 400 | 'silent' = 202;
const published: CloudEvent[] = [];
const unanswered: ServerResponse[] = [];
let onUnanswered: (() => void) | undefined;

const silentLog = () => new JsonLogger({ serviceName: 'orders-api', sink: { write: () => true } });
const store = new SwitchableStore();
let broker: Server;
let served: RoutesServer;

beforeAll(async () => {
  broker = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (brokerAnswer === 'silent') {
        unanswered.push(res);
        onUnanswered?.();
        return;
      }
      if (brokerAnswer === 202)
        published.push(receive(req.headers as Record<string, string>, Buffer.concat(chunks)).event);
      res.writeHead(brokerAnswer).end();
    });
  });
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
  process.env.BROKER_URL = `http://127.0.0.1:${(broker.address() as AddressInfo).port}/`;
  await init?.({ store, log: silentLog(), functionName: 'orders-api' });
  served = await serveRoutes(routes, { store, log: silentLog(), functionName: 'orders-api' });
});

afterAll(async () => {
  for (const res of unanswered) res.destroy();
  broker.closeAllConnections();
  await Promise.all([served.close(), new Promise((r) => broker.close(r))]);
  delete process.env.BROKER_URL;
});

/** Every answer a test reads, checked against the document (body, status, headers) and counted. */
const answers = answerRecorder(openApiDocument(), { documentedPath });

/** One request to orders-api (its `/orders…` paths); its answer is checked against the document before a test reads it. */
async function call(method: string, path: string, sent?: Sent) {
  const answer = await answers.send(served.base, method, path, sent);
  return { ...answer, body: answer.body as JsonObject | undefined };
}

const ORDER = { user_id: '22', number_of_items: '10', total_amount: '50' };
const place = (json: unknown = ORDER, key?: string) =>
  call('POST', '/orders', { json, ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }) });

const context = (): Context => ({
  log: silentLog(),
  store,
  functionName: 'orders-api',
  signal: new AbortController().signal,
  traceId: '0'.repeat(32),
});

describe('orders-api', () => {
  it('is typed by its schemas: takes order.billed, publishes order.placed', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts, typeof emits>>();
    expectTypeOf(routes).toEqualTypeOf<SluiceFunction['routes']>();
    expect(accepts).toEqual([OrdersEventType.orderBilled]);
    expect(emits).toEqual([OrdersEventType.orderPlaced]);
  });

  it('serves its OpenAPI 3.1 document at GET /orders/openapi.json (public /api/billing/openapi.json)', async () => {
    const served = await call('GET', '/orders/openapi.json');
    expectServedDocument(served, openApiDocument());
    expect(served.body?.servers).toEqual([{ url: '/api', description: 'api-gateway' }]);
    expect((await call('HEAD', '/orders/openapi.json')).status).toBe(200);
  });

  it('documents every route its router has, and no other', () => {
    expect(routeProblems(served.router, openApiDocument(), { documentedPath })).toEqual([]);
  });

  it('answers 202 + Location once the broker has the order, in cents; GET says queued; a retry is the same order', async () => {
    const accepted = await place(ORDER, 'k-accepted');
    expect(accepted.status).toBe(202);
    const orderId = accepted.body?.orderId as string;
    expect(accepted.body).toEqual({ orderId, status: 'queued' });
    expect(accepted.headers.get('location')).toBe(`billing/${orderId}`);
    expect(published.find((e) => e.id === orderId)?.data).toMatchObject({
      orderId,
      userId: '22',
      numberOfItems: 10,
      totalAmountCents: 5000,
    });
    expect((await call('GET', `/orders/${orderId}`)).body).toMatchObject({
      status: 'queued',
      totalAmountCents: 5000,
    });
    expect((await call('HEAD', `/orders/${orderId}`)).status).toBe(200);
    expect((await place({ user_id: 22, number_of_items: 10, total_amount: 50 }, 'k-accepted')).body).toEqual({
      orderId,
      status: 'queued',
    });
    expect(published.filter((e) => e.id === orderId)).toHaveLength(1);
    const another = await place({ ...ORDER, total_amount: '49.99' }, 'k-accepted');
    expect(another.status).toBe(422);
  });

  it('shows a billed order with its invoice, also when only billing’s word is known', async () => {
    const { orderId } = (await place(ORDER, 'k-billed')).body as { orderId: string };
    await handle({ ...BILLED, data: { ...BILLED.data, orderId } }, context());
    expect((await call('GET', `/orders/${orderId}`)).body).toMatchObject({
      status: 'billed',
      userId: '22',
      invoice: { number: BILLED.data.invoiceNumber },
    });
    await handle(BILLED, context());
    expect((await call('GET', `/orders/${BILLED.data.orderId}`)).body).toEqual({
      orderId: BILLED.data.orderId,
      status: 'billed',
      totalAmountCents: BILLED.data.totalAmountCents,
      invoice: { number: BILLED.data.invoiceNumber, billedAt: BILLED.data.billedAt },
    });
  });

  it('answers 404 for an order it never accepted or an id that is not a UUID, 400 for one that is not even percent-encoding', async () => {
    expect((await call('GET', `/orders/${UNKNOWN_ID}`)).body).toMatchObject({
      detail: `no order ${UNKNOWN_ID}`,
    });
    expect((await call('GET', '/orders/%24where')).status).toBe(404);
    expect((await call('HEAD', `/orders/${UNKNOWN_ID}`)).status).toBe(404);
    // Not even percent-encoding: express cannot decode the id.
    expect((await call('GET', '/orders/%E0')).status).toBe(400);
    expect((await call('HEAD', '/orders/%E0')).status).toBe(400);
  });

  it('refuses bad orders with problem+json naming each field, before anything is queued', async () => {
    const before = published.length;
    const bad = await place({ user_id: '', number_of_items: 'ten', total_amount: '-5', coupon: 'x' });
    expect(bad.status).toBe(400);
    expect((bad.body?.['invalid-params'] as { name: string }[] | undefined)?.map((p) => p.name)).toEqual([
      'coupon',
      'user_id',
      'number_of_items',
      'total_amount',
    ]);
    expect((await place(ORDER, 'has space')).body?.['invalid-params']).toEqual([
      { name: 'Idempotency-Key', reason: expect.any(String) },
    ]);
    expect((await call('POST', '/orders', { body: '{"user_id":' })).status).toBe(400);
    const text = { body: 'user_id=22', contentType: 'text/plain' };
    expect((await call('POST', '/orders', text)).status).toBe(415);
    expect((await place({ ...ORDER, note: 'x'.repeat(17_000) })).status).toBe(413);
    expect(published.length).toBe(before);
  });

  it('answers 503 + Retry-After when the broker is down, 502 when it refuses; the retry with the key is one order', async () => {
    try {
      brokerAnswer = 503;
      const down = await place(ORDER, 'k-retry');
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('1');
      brokerAnswer = 400;
      const refused = await place(ORDER, 'k-refused');
      expect(refused.status).toBe(502);
    } finally {
      brokerAnswer = 202;
    }
    const retried = await place(ORDER, 'k-retry');
    expect(retried.status).toBe(202);
    expect(published.filter((e) => e.id === retried.body?.orderId)).toHaveLength(1);
  });

  it('answers 504 when the broker does not answer within 10 s', async () => {
    // Only the timers: the 10 s of the publisher's deadline pass at once, sockets and promises run as they do.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    brokerAnswer = 'silent';
    try {
      const arrived = new Promise<void>((r) => {
        onUnanswered = r;
      });
      const pending = place(ORDER, 'k-silent');
      await arrived;
      await vi.advanceTimersByTimeAsync(10_000);
      const timedOut = await pending;
      expect(timedOut.status).toBe(504);
      expect(timedOut.body?.detail).toMatch(/retry with the same Idempotency-Key/);
    } finally {
      vi.useRealTimers();
      brokerAnswer = 202;
      onUnanswered = undefined;
    }
  });

  it('answers 503 + Retry-After while its store is unavailable, and 500 for a bug', async () => {
    const { orderId } = (await place(ORDER, 'k-store')).body as { orderId: string };
    await expectStoreFailuresAnswered(store, {
      'POST /orders': (state) => place(ORDER, `k-store-${state}`),
      'GET /orders/{id}': () => call('GET', `/orders/${orderId}`),
      'HEAD /orders/{id}': () => call('HEAD', `/orders/${orderId}`),
    });
    expect((await call('GET', `/orders/${orderId}`)).body).toMatchObject({ status: 'queued' });
  });

  it('has answered every status its document gives, for every operation', () => {
    expect(answers.unanswered()).toEqual([]);
  });
});
