import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DevPlatform } from '../../platform/local/src/platform.ts';
import { RecordingLogger } from '../../platform/local/src/testing/recording-logger.ts';
import {
  type SystemPlatform,
  startSystemPlatform,
} from '../../platform/local/src/testing/system-platform.ts';
import type { DocumentStore } from '../runtime/src/index.ts';
import { waitFor } from '../runtime/test/support.ts';

const run = `${process.pid}x${Date.now().toString(36)}`;
/** billing's bills and orders-api's accepted orders (lib/orders.ts `Collections`; a system test reads no lib). */
const Collections = { orders: 'orders', placedOrders: 'placed_orders' } as const;

interface OrderState {
  orderId: string;
  status: 'queued' | 'billed';
  totalAmountCents: number;
  invoice?: { number: string };
}

describe('orders end to end on the local platform (RabbitMQ + FerretDB)', () => {
  const log = new RecordingLogger();
  let sys: SystemPlatform | undefined;

  let platform: DevPlatform | undefined;

  let store: DocumentStore;

  beforeAll(async () => {
    sys = await startSystemPlatform({
      name: 'orders',
      rabbitmqUrl: inject('rabbitmqUrl'),
      mongodbUrl: inject('mongodbUrl'),
      log,
    });
    ({ platform, store } = sys);
    // Both APIs started from zero once (a cold start on a loaded machine may outlast a route's timeout: 504).
    for (const path of ['/api/movies', '/api/billing/00000000-0000-4000-8000-000000000000'])
      await waitFor(
        `${path} served`,
        async () => [200, 404].includes((await fetch(`${platform?.gateway?.url}${path}`)).status),
        90_000,
      );
  }, 180_000);

  afterAll(async () => {
    await sys?.stop();
  }, 120_000);

  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${platform?.gateway?.url}/api${path}`, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    api(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const billed = (orderId: string): Promise<OrderState> =>
    waitFor(
      `order ${orderId} billed`,
      async () => {
        const res = await api(`/billing/${orderId}`);
        const state = (await res.json()) as OrderState;
        return state.status === 'billed' ? state : undefined;
      },
      60_000,
    );

  it('keeps movies: create, read, filter by title, page, update, delete', async () => {
    const created = await post('/movies', { title: 'Amélie', description: 'Montmartre, 2001' });
    expect(created.status).toBe(201);
    const amelie = (await created.json()) as { id: string; title: string };
    expect(created.headers.get('location')).toBe(`movies/${amelie.id}`);
    await post('/movies', { title: 'The Third Man', description: 'Vienna, 1949' });
    await post('/movies', { title: 'American Graffiti', description: '' });
    expect(((await (await api(`/movies/${amelie.id}`)).json()) as { title: string }).title).toBe('Amélie');

    const third = (await (await api('/movies?title=third')).json()) as { movies: { title: string }[] };
    expect(third.movies.map((m) => m.title)).toEqual(['The Third Man']);
    const found = (await (await api('/movies?title=AME')).json()) as { movies: { title: string }[] };
    expect(new Set(found.movies.map((m) => m.title))).toEqual(new Set(['Amélie', 'American Graffiti']));
    const first = (await (await api('/movies?limit=2')).json()) as { movies: unknown[]; next: string };
    const rest = (await (await api(`/movies?limit=2&after=${first.next}`)).json()) as { movies: unknown[] };
    expect([first.movies.length, rest.movies.length]).toEqual([2, 1]);

    const put = await api(`/movies/${amelie.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Le Fabuleux Destin d’Amélie Poulain', description: 'Montmartre, 2001' }),
    });
    expect(put.status).toBe(200);
    expect(((await (await api('/movies?title=le fab')).json()) as { movies: unknown[] }).movies).toHaveLength(
      1,
    );
    expect((await api(`/movies/${amelie.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/movies/${amelie.id}`)).status).toBe(404);
  }, 120_000);

  it('refuses a movie that does not match its schema, naming the field (problem+json)', async () => {
    const res = await post('/movies', { title: '', description: 'x' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await res.json()) as { 'invalid-params': { name: string }[] })['invalid-params'][0]?.name).toBe(
      'title',
    );
    expect((await post('/movies', { title: 'x' })).status).toBe(400);
    expect((await post('/movies', '{"title":')).status).toBe(400);
  });

  it('bills the reference payload (numbers as strings) and the same with numbers, once each, in cents', async () => {
    const a = await post('/billing', { user_id: '22', number_of_items: '10', total_amount: '50' });
    const b = await post('/billing', { user_id: 22, number_of_items: 10, total_amount: 50.5 });
    expect([a.status, b.status]).toEqual([202, 202]);
    const [ida, idb] = [((await a.json()) as OrderState).orderId, ((await b.json()) as OrderState).orderId];
    const [sa, sb] = [await billed(ida), await billed(idb)];
    expect([sa.totalAmountCents, sb.totalAmountCents]).toEqual([5000, 5050]);
    expect(sa.invoice?.number).not.toBe(sb.invoice?.number);
    const bills = await store.collection(Collections.orders).find({ _id: { $in: [ida, idb] } });
    expect(bills.map((x) => x.totalAmountCents).sort()).toEqual([5000, 5050]);
    // billing's counter, in its own exposition (the orders dashboard reads it; observability's name check).
    const instance = platform?.serving.functions.get('billing')?.scaler.snapshot().instances[0];
    const exposition = await (await fetch(`${instance?.metricsUrl}/metrics`)).text();
    expect(exposition).toMatch(/^orders_billed_total\{/m);
  }, 120_000);

  it('answers a retried POST with the same Idempotency-Key with the same order, billed once; another body → 422', async () => {
    const key = `retry-${run}`;
    const body = { user_id: '7', number_of_items: '1', total_amount: '9.99' };
    const answers = await Promise.all(
      [1, 2, 3].map(() => post('/billing', body, { 'idempotency-key': key })),
    );
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202]);
    const ids = await Promise.all(answers.map(async (r) => ((await r.json()) as OrderState).orderId));
    expect(new Set(ids).size).toBe(1);
    const state = await billed(ids[0] as string);
    expect(state.totalAmountCents).toBe(999);
    expect(await store.collection(Collections.orders).countDocuments({ _id: ids[0] })).toBe(1);
    const other = await post('/billing', { ...body, total_amount: '10' }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
  }, 120_000);

  it('refuses bad orders with 400 problem+json naming each field, and queues nothing', async () => {
    const before = await store.collection(Collections.placedOrders).countDocuments({});
    const res = await post('/billing', { user_id: '', number_of_items: 'ten', total_amount: '-5' });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { 'invalid-params': { name: string }[] };
    expect(problem['invalid-params'].map((p) => p.name)).toEqual([
      'user_id',
      'number_of_items',
      'total_amount',
    ]);
    expect((await post('/billing', 'not json')).status).toBe(400);
    expect((await api('/billing', { method: 'POST', body: 'x' })).status).toBe(415);
    expect(await store.collection(Collections.placedOrders).countDocuments({})).toBe(before);
    expect((await api('/billing/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
