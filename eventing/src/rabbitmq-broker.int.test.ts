import { connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { describeBrokerContract } from './broker.contract.ts';
import { startBroker } from './index.ts';
import { contractManifests, quietLog } from './testing/manifests.ts';
import { postEvent, startTestSink, type TestSink, testEvent, waitFor } from './testing/test-sink.ts';

describeBrokerContract('RabbitMQ backend', () => ({ rabbitmqUrl: inject('rabbitmqUrl'), durable: true }));

describe('RabbitMQ backend', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function sinks(...list: TestSink[]): Promise<void> {
    for (const s of list) cleanups.push(() => s.close());
  }

  it('declares the upstream topology: quorum trigger queue bound to the headers exchange by its filter', async () => {
    const sub = await startTestSink();
    await sinks(sub);
    const instance = `topo${process.pid}x${Date.now().toString(36)}`;
    const broker = await startBroker({
      manifests: contractManifests([{ name: 'hello', filter: { type: 'dev.test.topology' } }]),
      resolveSubscriber: () => sub.url,
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: inject('rabbitmqUrl'),
      instance,
      log: quietLog,
    });
    cleanups.push(() => broker.destroy());
    const model = await connect(inject('rabbitmqUrl'));
    try {
      model.on('error', () => {});
      const ch = await model.createChannel();
      ch.on('error', () => {});
      // A quorum queue re-declared as classic is refused: proves the type without the management API.
      const refused = await ch
        .assertQueue(`sluice.hello.${instance}`, {
          durable: true,
          arguments: {
            'x-queue-type': 'classic',
            'x-dead-letter-exchange': `t.sluice.hello.dlx.${instance}`,
          },
        })
        .then(
          () => false,
          () => true,
        );
      expect(refused).toBe(true);
      const ch2 = await model.createChannel();
      const q = await ch2.checkQueue(`sluice.hello.${instance}`);
      expect(q.queue).toBe(`sluice.hello.${instance}`);
      await ch2.checkExchange(`b.sluice.default.${instance}`);
      await ch2.checkExchange(`t.sluice.hello.dlx.${instance}`);
      await ch2.checkQueue(`t.sluice.hello.dlq.${instance}`);
      await ch2.close();
    } finally {
      await model.close();
    }
  });

  it('loses and duplicates nothing when the connection drops mid-stream, and reconnects', async () => {
    const processed = new Set<string>();
    let duplicates = 0;
    // The subscriber dedupes by id as the functions' idempotency guard does (source + id).
    const sub = await startTestSink((e) => {
      if (processed.has(e.id)) duplicates++;
      processed.add(e.id);
      return { status: 202, delayMs: 2 };
    });
    await sinks(sub);
    const instance = `drop${process.pid}x${Date.now().toString(36)}`;
    const actions: unknown[] = [];
    const log = { ...quietLog, info: record, warn: record };
    function record(_m: string, fields?: Readonly<Record<string, unknown>>): void {
      actions.push(fields?.['event.action']);
    }
    const broker = await startBroker({
      manifests: contractManifests([{ name: 'steady', filter: { type: 'dev.test.drop' }, parallelism: 5 }]),
      resolveSubscriber: () => sub.url,
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: inject('rabbitmqUrl'),
      instance,
      log,
    });
    cleanups.push(() => broker.destroy());
    const sent: string[] = [];
    const total = 300;
    let dropped = false;
    const producer = (async () => {
      for (let i = 0; i < total; i++) {
        const e = testEvent({ type: 'dev.test.drop' });
        // A producer retries until 202: only a confirmed event counts as sent.
        const status = await postEvent(broker.url, e, 50);
        expect(status).toBe(202);
        sent.push(e.id);
      }
    })();
    await waitFor('deliveries to be under way', () => processed.size >= 60);
    broker.dropConnection();
    dropped = true;
    await producer;
    await waitFor(
      'every confirmed event to be processed',
      () => sent.every((id) => processed.has(id)),
      30_000,
    );
    expect(dropped).toBe(true);
    expect(actions).toContain('broker-connection-lost');
    expect(actions).toContain('broker-connection-restored');
    expect([...processed].sort()).toEqual([...sent].sort());
    // Redelivered messages whose ack was lost show up as duplicates the guard absorbed; never more
    // than the messages that were unacked at the drop (prefetch 5).
    expect(duplicates).toBeLessThanOrEqual(5);
    // After the reconnect, new events still flow.
    const after = testEvent({ type: 'dev.test.drop' });
    expect(await postEvent(broker.url, after, 20)).toBe(202);
    await waitFor('an event after the reconnect', () => processed.has(after.id));
  });
});
