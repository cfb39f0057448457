/**
 * billing's two failure scenarios through a real broker on RabbitMQ, with billing and the dead-letter sink started
 * as their containers would (`node functions/runtime/src/main.ts`) on FerretDB (docs/orders.md, "Failures"):
 * - its store down: every delivery answers 503, the broker retries with exponential backoff, nothing is
 *   dead-lettered; the store comes back and the order is billed, once;
 * - its Service missing: the data path answers 404 (as Kourier does for a host it has no route for), the broker
 *   retries and then dead-letters the order into the dead-letter sink; once billing is there, `make replay`
 *   (eventing/src/cli/dlq.ts) bills it, once.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningBroker, startBroker } from '../../eventing/src/index.ts';
import { contractManifests, quietLog } from '../../eventing/src/testing/manifests.ts';
import { type FerretdbProcess, startFerretdb } from '../../platform/test-servers/ferretdb.ts';
import { freePorts } from '../../platform/test-servers/ports.ts';
import { type CloudEvent, type DocumentStore, openStore, toBinary } from '../runtime/src/index.ts';
import {
  type SpawnedFunction,
  spawnFunction,
  spawnFunctionOnFreePort,
  waitFor,
} from '../runtime/test/support.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const run = `${process.pid}x${Date.now().toString(36)}`;
const PLACED = 'dev.sluice.orders.order.placed.v1';

function placedOrder(n: number): CloudEvent {
  const orderId = `00000000-0000-5000-8000-${String(n).padStart(12, '0')}`;
  return {
    specversion: '1.0',
    id: orderId,
    source: '/sluice/functions/orders-api',
    type: PLACED,
    subject: orderId,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: {
      orderId,
      userId: '22',
      numberOfItems: 10,
      totalAmountCents: 5000,
      placedAt: new Date().toISOString(),
    },
    extensions: {},
  };
}

async function publish(brokerUrl: string, event: CloudEvent): Promise<number> {
  const m = toBinary(event);
  const res = await fetch(brokerUrl, { method: 'POST', headers: m.headers, body: m.body });
  await res.arrayBuffer();
  return res.status;
}

async function ready(f: SpawnedFunction): Promise<void> {
  await waitFor(
    'a function to be ready',
    async () => (await fetch(`${f.url}/health/readiness`)).status === 200,
    30_000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${f.output()}`);
  });
}

async function stop(f: SpawnedFunction | undefined): Promise<void> {
  if (f?.child.exitCode === null) {
    f.child.kill('SIGTERM');
    await f.exited;
  }
}

describe("billing's store down: 503, retried with backoff, billed once when it returns", () => {
  let ferret: FerretdbProcess;
  let billing: SpawnedFunction;
  let sink: SpawnedFunction;
  let broker: RunningBroker;
  let store: DocumentStore;
  const sinkDb = `dls_${run}`;

  beforeAll(async () => {
    ferret = await startFerretdb();
    const [billingPort, sinkPort] = await freePorts(2);
    billing = spawnFunction(join(ROOT, 'functions/orders/billing'), billingPort, {
      MONGODB_URL: ferret.url,
      MONGODB_DB: 'billing',
      K_SERVICE: 'billing',
      STORE_TIMEOUT_SECONDS: '1',
      LOG_LEVEL: 'info',
    });
    sink = spawnFunction(join(ROOT, 'functions/platform/dead-letter-sink'), sinkPort, {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: sinkDb,
      K_SERVICE: 'dead-letter-sink',
    });
    await Promise.all([ready(billing), ready(sink)]);
    broker = await startBroker({
      // 8 retries, exponential from 0.25 s: about a minute of backoff before anything is dead-lettered.
      manifests: contractManifests([
        {
          name: 'billing',
          filter: { type: PLACED },
          delivery: 'retry: 8\n    backoffPolicy: exponential\n    backoffDelay: PT0.25S\n    timeout: PT10S',
        },
      ]),
      resolveSubscriber: (ref) => `${ref.name === 'billing' ? billing.url : sink.url}/`,
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: inject('rabbitmqUrl'),
      instance: `faults-store-${run}`,
      log: quietLog,
    });
    store = (await openStore({ mongodbUrl: ferret.url, mongodbDb: 'billing' })) as DocumentStore;
  }, 90_000);

  afterAll(async () => {
    await broker?.destroy();
    await store?.close();
    await Promise.all([stop(billing), stop(sink)]);
    await ferret?.stop();
  }, 60_000);

  it('answers 503 while the store is down, nothing is dead-lettered, and bills the order once after it returns', async () => {
    await ferret.kill('SIGKILL');
    const order = placedOrder(1);
    expect(await publish(broker.url, order)).toBe(202);
    // The broker keeps retrying: billing has answered 503 (transient) at least three times, with growing gaps.
    await waitFor(
      'three 503 answers',
      async () => (billing.output().match(/"sluice\.outcome":"transient"/g) ?? []).length >= 3,
      60_000,
    );
    await ferret.start();
    await waitFor(
      'the order billed',
      async () => (await store.collection('orders').countDocuments({ _id: order.id })) === 1,
      90_000,
    );
    expect(await store.collection('invoices').countDocuments({ orderId: order.id })).toBe(1);
    const dead = (await openStore({ mongodbUrl: inject('mongodbUrl'), mongodbDb: sinkDb })) as DocumentStore;
    try {
      expect(await dead.collection('dead_letters').countDocuments({})).toBe(0);
    } finally {
      await dead.close();
    }
  }, 180_000);
});

describe("billing's Service missing: 404, retried, dead-lettered; make replay bills it once", () => {
  let billing: SpawnedFunction | undefined;
  let sink: SpawnedFunction;
  let broker: RunningBroker;
  let kourier: Server;
  let billingStore: DocumentStore;
  const db = `orders_faults_${run}`;
  const hits: number[] = [];

  beforeAll(async () => {
    sink = await spawnFunctionOnFreePort(join(ROOT, 'functions/platform/dead-letter-sink'), {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: db,
      K_SERVICE: 'dead-letter-sink',
    });
    await ready(sink);
    // The data path's stand-in: 404 while billing has no Service (Kourier's answer for an unknown host), else proxied.
    kourier = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (billing === undefined) {
          hits.push(404);
          res.writeHead(404).end();
          return;
        }
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter((e): e is [string, string] => typeof e[1] === 'string'),
        );
        fetch(`${billing.url}/`, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(
          async (up) => {
            const body = Buffer.from(await up.arrayBuffer());
            res.writeHead(up.status, Object.fromEntries(up.headers)).end(body);
          },
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((r) => kourier.listen(0, '127.0.0.1', r));
    const kourierUrl = `http://127.0.0.1:${(kourier.address() as AddressInfo).port}/`;
    broker = await startBroker({
      manifests: contractManifests([
        {
          name: 'billing',
          filter: { type: PLACED },
          delivery: 'retry: 3\n    backoffPolicy: exponential\n    backoffDelay: PT0.05S\n    timeout: PT10S',
        },
      ]),
      resolveSubscriber: (ref) => (ref.name === 'billing' ? kourierUrl : `${sink.url}/`),
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: inject('rabbitmqUrl'),
      instance: `faults-404-${run}`,
      log: quietLog,
    });
    billingStore = (await openStore({ mongodbUrl: inject('mongodbUrl'), mongodbDb: db })) as DocumentStore;
  }, 90_000);

  afterAll(async () => {
    await broker?.destroy();
    await new Promise((r) => kourier?.close(r));
    await Promise.all([stop(billing), stop(sink)]);
    await (
      billingStore as unknown as { db?: { dropDatabase(): Promise<unknown> } } | undefined
    )?.db?.dropDatabase();
    await billingStore?.close();
  }, 60_000);

  it('dead-letters the order after 1 + 3 answers of 404, and bills it once when replayed', async () => {
    const order = placedOrder(2);
    expect(await publish(broker.url, order)).toBe(202);
    const dead = await waitFor(
      'the dead letter',
      async () => (await billingStore.collection('dead_letters').find({ eventId: order.id }))[0],
      30_000,
    );
    expect(dead).toMatchObject({ type: PLACED, status: 'dead-lettered', code: 404 });
    expect(hits).toEqual([404, 404, 404, 404]);

    billing = await spawnFunctionOnFreePort(join(ROOT, 'functions/orders/billing'), {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: db,
      K_SERVICE: 'billing',
    });
    await ready(billing);
    const replay = (): Promise<{ stdout: string }> =>
      promisify(execFile)(process.execPath, ['eventing/src/cli/dlq.ts', 'replay', '--all'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          MONGODB_URL: inject('mongodbUrl'),
          MONGODB_DB: db,
          BROKER_URL: broker.url,
        },
      });
    await replay();
    await waitFor(
      'billed after the replay',
      async () => (await billingStore.collection('orders').countDocuments({ _id: order.id })) === 1,
      30_000,
    );
    // A second replay of the same event (say, an operator's retry) bills nothing more: same id, same bill.
    await billingStore
      .collection('dead_letters')
      .updateOne({ eventId: order.id }, { $set: { status: 'dead-lettered' } });
    await replay();
    await waitFor(
      'the second replay handled',
      async () => billing?.output().includes('"sluice.outcome":"replayed"') === true,
      30_000,
    );
    expect(await billingStore.collection('orders').countDocuments({ _id: order.id })).toBe(1);
    expect(await billingStore.collection('invoices').countDocuments({ orderId: order.id })).toBe(1);
  }, 120_000);
});
