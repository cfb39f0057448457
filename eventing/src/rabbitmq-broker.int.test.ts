import { connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { describeBrokerContract } from './broker.contract.ts';
import { parseEventingManifests, startBroker } from './index.ts';
import { brokerYaml, contractManifests, quietLog } from './testing/manifests.ts';
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

  /**
   * A broker on RabbitMQ with one Trigger, `steady`, for `type`, delivering to `sink`; its info and warn lines
   * kept as `<event.action> <message>`.
   */
  async function brokerWithLog(prefix: string, type: string, parallelism: number, sink: TestSink) {
    const instance = `${prefix}${process.pid}x${Date.now().toString(36)}`;
    const lines: string[] = [];
    const record = (message: string, fields?: Readonly<Record<string, unknown>>): void => {
      lines.push(`${String(fields?.['event.action'])} ${message}`);
    };
    const broker = await startBroker({
      manifests: contractManifests([{ name: 'steady', filter: { type }, parallelism }]),
      resolveSubscriber: () => sink.url,
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: inject('rabbitmqUrl'),
      instance,
      log: { ...quietLog, info: record, warn: record },
    });
    cleanups.push(() => broker.destroy());
    const actions = (): string[] => lines.map((l) => l.slice(0, l.indexOf(' ')));
    return { broker, instance, lines, actions };
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
    const { broker, actions } = await brokerWithLog('drop', 'dev.test.drop', 5, sub);
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
    expect(actions()).toContain('broker-connection-lost');
    expect(actions()).toContain('broker-connection-restored');
    expect([...processed].sort()).toEqual([...sent].sort());
    // Redelivered messages whose ack was lost show up as duplicates the guard absorbed; never more
    // than the messages that were unacked at the drop (prefetch 5).
    expect(duplicates).toBeLessThanOrEqual(5);
    // After the reconnect, new events still flow.
    const after = testEvent({ type: 'dev.test.drop' });
    expect(await postEvent(broker.url, after, 20)).toBe(202);
    await waitFor('an event after the reconnect', () => processed.has(after.id));
  });

  it('keeps delivering when only its publishing connection drops, and answers 202 only for confirmed events', async () => {
    const processed = new Map<string, number>();
    const sub = await startTestSink((e) => {
      processed.set(e.id, (processed.get(e.id) ?? 0) + 1);
      return { status: 202, delayMs: 2 };
    });
    await sinks(sub);
    const { broker, lines } = await brokerWithLog('pubdrop', 'dev.test.pubdrop', 5, sub);
    const sent: string[] = [];
    const producer = (async () => {
      for (let i = 0; i < 200; i++) {
        const e = testEvent({ type: 'dev.test.pubdrop' });
        // A producer retries a 500 (not confirmed) until 202: only a confirmed event counts as sent.
        for (;;) {
          const status = await postEvent(broker.url, e);
          if (status === 202) break;
          expect(status).toBe(500);
          await new Promise((r) => setTimeout(r, 20));
        }
        sent.push(e.id);
      }
    })();
    await waitFor('deliveries to be under way', () => processed.size >= 40);
    broker.dropConnection('publishing');
    await producer;
    await waitFor(
      'every confirmed event to be processed',
      () => sent.every((id) => processed.has(id)),
      30_000,
    );
    expect(lines.some((l) => l.startsWith('broker-connection-lost RabbitMQ publishing'))).toBe(true);
    expect(lines.some((l) => l.startsWith('broker-connection-restored RabbitMQ publishing'))).toBe(true);
    // The dispatchers' connection stayed up: nothing was redelivered. An event can arrive twice only if
    // its publish reached RabbitMQ but its confirm did not reach the ingress (500, sent again): the
    // producer has one POST in flight, so at most one.
    expect(lines.filter((l) => l.includes('consuming connection'))).toEqual([]);
    const twice = [...processed.values()].filter((n) => n > 1).length;
    expect(twice).toBeLessThanOrEqual(1);
    expect([...processed.keys()].sort()).toEqual([...sent].sort());
  });

  it('recovers a consumer channel and the publisher channel that RabbitMQ closed, and keeps delivering', async () => {
    const sub = await startTestSink();
    await sinks(sub);
    const { broker, instance, actions } = await brokerWithLog('chan', 'dev.test.chan', 3, sub);
    const sent: string[] = [];
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const e = testEvent({ type: 'dev.test.chan' });
        expect(await postEvent(broker.url, e, 50)).toBe(202); // 500 while the publisher is re-opened
        sent.push(e.id);
      }
    };
    await send(10);
    broker.breakChannel({ queue: `sluice.steady.${instance}` });
    await waitFor('the consumer channel closed', () => actions().includes('broker-channel-closed'));
    await send(10);
    broker.breakChannel('publisher');
    await send(10);
    await waitFor('every event delivered', () => sent.every((id) => sub.attemptsOf(id).length > 0), 20_000);
    expect(actions().filter((a) => a === 'broker-channel-restored').length).toBeGreaterThanOrEqual(2);
    expect(actions()).not.toContain('broker-connection-lost');
  });

  describe('RabbitmqSource', () => {
    const exchange = `src.x.${process.pid}.${Date.now().toString(36)}`;
    const queue = `src.q.${process.pid}.${Date.now().toString(36)}`;
    const manifests = (sinkName: string) =>
      parseEventingManifests([
        { file: 'broker.yaml', text: brokerYaml({ queueType: 'classic' }) },
        {
          file: 'sources/test.yaml',
          text: `
apiVersion: sources.knative.dev/v1alpha1
kind: RabbitmqSource
metadata: { name: test, namespace: sluice }
spec:
  rabbitmqClusterReference: { name: rabbitmq, namespace: sluice }
  rabbitmqResourcesConfig: { predeclared: false, exchangeName: ${exchange}, queueName: ${queue}, parallelism: 2 }
  delivery: { retry: 50, backoffPolicy: linear, backoffDelay: PT0.02S }
  sink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${sinkName} } }
`,
        },
      ]);

    async function produce(ids: readonly string[]): Promise<void> {
      const model = await connect(inject('rabbitmqUrl'));
      try {
        const ch = await model.createConfirmChannel();
        for (const id of ids)
          ch.publish(exchange, '', Buffer.from('{}'), {
            headers: {
              'ce-specversion': '1.0',
              'ce-id': id,
              'ce-source': '/producer',
              'ce-type': 'dev.test.src',
            },
            contentType: 'application/json',
            persistent: true,
          });
        await ch.waitForConfirms();
      } finally {
        await model.close();
      }
    }

    afterEach(async () => {
      const model = await connect(inject('rabbitmqUrl'));
      const ch = await model.createChannel();
      await ch.deleteQueue(queue).catch(() => {});
      await ch.deleteExchange(exchange).catch(() => {});
      await model.close().catch(() => {});
    });

    it('puts a message back on the queue when stopped while the sink refuses it, and the next consumer delivers it', async () => {
      const refusing = await startTestSink(() => ({ status: 503 }));
      const accepting = await startTestSink();
      await sinks(refusing, accepting);
      const start = (sink: TestSink) =>
        startBroker({
          manifests: manifests('sink'),
          resolveSubscriber: () => sink.url,
          replyTypesOf: async () => undefined,
          port: 0,
          rabbitmqUrl: inject('rabbitmqUrl'),
          instance: `srcstop${process.pid}`,
          log: quietLog,
        });
      const first = await start(refusing);
      const id = `src-${Date.now().toString(36)}`;
      await produce([id]);
      await waitFor('the sink to refuse it twice', () => refusing.attemptsOf(id).length >= 2);
      await first.destroy();
      const second = await start(accepting);
      cleanups.push(() => second.destroy());
      await waitFor('the requeued message', () => accepting.attemptsOf(id).length === 1);
    });

    it('recovers its channel after RabbitMQ closed it, and keeps forwarding', async () => {
      const accepting = await startTestSink();
      await sinks(accepting);
      const actions: unknown[] = [];
      const record = (_m: string, fields?: Readonly<Record<string, unknown>>): void => {
        actions.push(fields?.['event.action']);
      };
      const broker = await startBroker({
        manifests: manifests('sink'),
        resolveSubscriber: () => accepting.url,
        replyTypesOf: async () => undefined,
        port: 0,
        rabbitmqUrl: inject('rabbitmqUrl'),
        instance: `srcchan${process.pid}`,
        log: { ...quietLog, info: record, warn: record },
      });
      cleanups.push(() => broker.destroy());
      const before = [`a-${Date.now()}`, `b-${Date.now()}`];
      await produce(before);
      await waitFor('the first messages', () => before.every((id) => accepting.attemptsOf(id).length > 0));
      broker.breakChannel({ source: 'test' });
      await waitFor('the channel re-opened', () => actions.includes('source-channel-restored'));
      expect(actions).toContain('source-channel-closed');
      const after = [`c-${Date.now()}`, `d-${Date.now()}`];
      await produce(after);
      await waitFor('messages after the channel was re-opened', () =>
        after.every((id) => accepting.attemptsOf(id).length > 0),
      );
    });
  });
});
