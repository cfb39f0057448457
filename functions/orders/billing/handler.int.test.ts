import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type FerretdbProcess, startFerretdb } from '../../../platform/test-servers/ferretdb.ts';
import type { CloudEvent, MongoDocumentStore } from '../../runtime/src/index.ts';
import { loadSchemas, receive } from '../../runtime/src/index.ts';
import {
  postBinary,
  readExample,
  type StartedFunction,
  startInProcess,
  waitFor,
} from '../../runtime/test/support.ts';
import { Collections, OrdersEventType } from '../lib/orders.ts';

const EXAMPLE = readExample(join(import.meta.dirname, `examples/${OrdersEventType.orderPlaced}.json`));

/** A placed order as orders-api publishes it: the event id is the order id. */
function placed(cents = 5000): CloudEvent {
  const orderId = randomUUID();
  return {
    ...EXAMPLE,
    id: orderId,
    subject: orderId,
    data: {
      orderId,
      userId: '22',
      numberOfItems: 10,
      totalAmountCents: cents,
      placedAt: new Date().toISOString(),
    },
  };
}

describe('billing on the runtime, with MongoDB (FerretDB unless MONGODB_URL)', () => {
  let fn: StartedFunction;
  let store: MongoDocumentStore;

  beforeAll(async () => {
    fn = await startInProcess(import.meta.dirname, {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: `billing_${process.pid}_${Date.now()}`,
      K_SERVICE: 'billing',
    });
    store = fn.running.store as MongoDocumentStore;
  });
  afterAll(async () => {
    await store?.db.dropDatabase();
    await fn?.running.stop();
  });

  it('bills an order: the billed reply in binary mode, and the same bytes on redelivery', async () => {
    const event = placed(4999);
    const first = await postBinary(fn.url, event);
    const body = await first.text();
    expect(first.status).toBe(200);
    expect(first.headers.get('ce-type')).toBe(OrdersEventType.orderBilled);
    const reply = receive(Object.fromEntries(first.headers), Buffer.from(body)).event;
    const schemas = await loadSchemas(join(import.meta.dirname, 'schemas'));
    expect(schemas.check(reply.type, reply.data)).toEqual([]);
    expect(reply.data).toMatchObject({ orderId: event.id, totalAmountCents: 4999 });

    const again = await postBinary(fn.url, event);
    expect(again.status).toBe(200);
    expect(await again.text()).toBe(body);
    expect(await store.collection(Collections.orders).countDocuments({ _id: event.id })).toBe(1);
  });

  it('gives 20 orders delivered at once 20 distinct invoice numbers, each order one bill', async () => {
    const events = Array.from({ length: 20 }, () => placed());
    // Each sender behaves like the broker: a 503 is retried until it is not.
    const answers = await Promise.all(
      events.map((e) =>
        waitFor('billed', async () => {
          const res = await postBinary(fn.url, e);
          return res.status === 200 ? ((await res.json()) as { invoiceNumber: string }) : undefined;
        }),
      ),
    );
    const numbers = answers.map((a) => a.invoiceNumber);
    expect(new Set(numbers).size).toBe(20);
    const bills = await store.collection(Collections.orders).find({ _id: { $in: events.map((e) => e.id) } });
    expect(bills).toHaveLength(20);
    expect(new Set(bills.map((b) => b.invoiceNumber))).toEqual(new Set(numbers));
  });
});

describe('billing with its store down', () => {
  let ferret: FerretdbProcess;
  let fn: StartedFunction;

  beforeAll(async () => {
    ferret = await startFerretdb();
    fn = await startInProcess(import.meta.dirname, {
      MONGODB_URL: ferret.url,
      MONGODB_DB: 'billing',
      K_SERVICE: 'billing',
      STORE_TIMEOUT_SECONDS: '2',
    });
  });
  afterAll(async () => {
    await fn?.running.stop();
    await ferret?.stop();
  });

  it('answers 503 with Retry-After while the store is down, and bills once when it is back', async () => {
    const event = placed();
    await ferret.kill('SIGKILL');
    const down = await postBinary(fn.url, event);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    await ferret.start();
    const billed = await waitFor('billed after the store came back', async () => {
      const res = await postBinary(fn.url, event);
      return res.status === 200 ? ((await res.json()) as { orderId: string }) : undefined;
    });
    expect(billed.orderId).toBe(event.id);
    const again = await postBinary(fn.url, event);
    expect(((await again.json()) as { invoiceNumber: string }).invoiceNumber).toBe('INV-00000001');
  });
});
