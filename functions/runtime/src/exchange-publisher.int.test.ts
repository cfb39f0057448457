/**
 * The dev tools' publisher (exchange-publisher.ts) against the real RabbitMQ, its connection through a TCP proxy
 * the test cuts (platform/test-servers/tcp-proxy.ts): confirmed means in the queue, unroutable is retried until a
 * queue is bound, and a cut connection costs nothing that was published — only, at most, a duplicate of what
 * was in flight (same id, for the guard to absorb).
 */
import { type Channel, type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../../platform/test-servers/tcp-proxy.ts';
import { connectExchangePublisher, type ExchangeMessage, UnroutableError } from './index.ts';

const run = `${process.pid}x${Date.now().toString(36)}`;
let admin: ChannelModel;
let channel: Channel;
let proxy: TcpProxy;
let proxiedUrl: string;
/** What this run declared, deleted at the end (RabbitMQ is shared with every other test and make dev). */
const declared = { exchanges: new Set<string>(), queues: new Set<string>() };

beforeAll(async () => {
  const url = new URL(inject('rabbitmqUrl'));
  admin = await connect(url.href);
  channel = await admin.createChannel();
  proxy = await startTcpProxy(url.hostname, Number(url.port || 5672));
  url.hostname = proxy.host;
  url.port = String(proxy.port);
  proxiedUrl = url.href;
});
afterAll(async () => {
  for (const q of declared.queues) await channel.deleteQueue(q).catch(() => {});
  for (const x of declared.exchanges) await channel.deleteExchange(x).catch(() => {});
  await admin?.close();
  await proxy?.close();
});

/** An exchange of this run with a queue bound to it (headers, no arguments: every message, as the source binds). */
async function boundExchange(name: string): Promise<{ exchange: string; queue: string }> {
  const exchange = `sluice.test.${name}.${run}`;
  const queue = `${exchange}.q`;
  declared.exchanges.add(exchange);
  declared.queues.add(queue);
  await channel.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
  await channel.assertQueue(queue, { durable: false, autoDelete: false });
  await channel.bindQueue(queue, exchange, '');
  return { exchange, queue };
}

async function drain(queue: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (;;) {
    const msg = await channel.get(queue, { noAck: true });
    if (msg === false) return seen;
    const id = String(msg.properties.messageId);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
}

const message = (id: string): ExchangeMessage => ({
  id,
  body: Buffer.from(JSON.stringify({ n: id })),
  headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': 'dev.test.v1' },
  contentType: 'application/json',
});

describe('connectExchangePublisher', () => {
  it('resolves a publish once the message is in a queue, with its id, headers and body', async () => {
    const { exchange, queue } = await boundExchange('routed');
    const publisher = await connectExchangePublisher(proxiedUrl, exchange);
    await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.publish(message(`m${i}`))));
    await publisher.close();
    const msg = await channel.get(queue, { noAck: false });
    if (msg === false) throw new Error('the queue is empty');
    expect(msg.properties.headers?.['ce-type']).toBe('dev.test.v1');
    expect(msg.properties.contentType).toBe('application/json');
    expect(msg.properties.deliveryMode).toBe(2);
    channel.nack(msg, false, true);
    expect([...(await drain(queue)).keys()].sort()).toEqual(
      Array.from({ length: 50 }, (_, i) => `m${i}`).sort(),
    );
  });

  it('publishes an unroutable message again until a queue is bound, and fails with UnroutableError when none is', async () => {
    const exchange = `sluice.test.unbound.${run}`;
    declared.exchanges.add(exchange);
    const publisher = await connectExchangePublisher(proxiedUrl, exchange, { unroutableAttempts: 2 });
    await expect(publisher.publish(message('lost'))).rejects.toBeInstanceOf(UnroutableError);
    await publisher.close();

    const patient = await connectExchangePublisher(proxiedUrl, exchange, { unroutableAttempts: 20 });
    const pending = patient.publish(message('late-bound'));
    await new Promise((r) => setTimeout(r, 300)); // returned at least once
    const queue = `${exchange}.q`;
    declared.queues.add(queue);
    await channel.assertQueue(queue, { durable: false });
    await channel.bindQueue(queue, exchange, '');
    await pending;
    await patient.close();
    expect([...(await drain(queue)).keys()]).toEqual(['late-bound']);
  });

  it('loses nothing when its connection is cut mid-run: it reconnects and publishes again what was not confirmed', async () => {
    const { exchange, queue } = await boundExchange('cut');
    const reasons: string[] = [];
    const publisher = await connectExchangePublisher(proxiedUrl, exchange, {
      onRetry: (r) => reasons.push(r),
    });
    const before = proxy.accepted();
    const ids = Array.from({ length: 2000 }, (_, i) => `c${i}`);
    // Cut twice, each time while a batch of 50 is in flight (published, not yet confirmed).
    const cutAt = new Set([6, 24]);
    for (let batch = 0; batch * 50 < ids.length; batch++) {
      const sent = Promise.all(
        ids.slice(batch * 50, batch * 50 + 50).map((id) => publisher.publish(message(id))),
      );
      if (cutAt.has(batch)) {
        await new Promise((r) => setTimeout(r, 2)); // the batch written, its confirms not all back
        proxy.cut();
      }
      await sent;
    }
    await publisher.close();
    expect(proxy.accepted() - before).toBeGreaterThanOrEqual(2); // a reconnection per cut
    expect(reasons.length).toBeGreaterThanOrEqual(2);
    const seen = await drain(queue);
    expect([...seen.keys()].sort()).toEqual([...ids].sort());
    // Only what was in flight at a cut can arrive twice: at most one batch per cut.
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    expect(duplicates).toBeLessThanOrEqual(100);
  });

  it('opens a channel again when the server closes it with the connection up (its exchange deleted), and re-declares the exchange', async () => {
    const { exchange, queue } = await boundExchange('deleted');
    const publisher = await connectExchangePublisher(proxiedUrl, exchange, { unroutableAttempts: 30 });
    await publisher.publish(message('before'));
    await channel.deleteExchange(exchange); // the binding goes with it
    const pending = publisher.publish(message('after')); // 404 closes the channel; then unroutable until bound
    await new Promise((r) => setTimeout(r, 500));
    await channel.bindQueue(queue, exchange, ''); // the exchange is there again: the publisher declared it
    await pending;
    await publisher.close();
    expect([...(await drain(queue)).keys()].sort()).toEqual(['after', 'before']);
  });

  it('fails a publish once RabbitMQ stays unreachable for longer than retryForMs', async () => {
    const { exchange } = await boundExchange('gone');
    const publisher = await connectExchangePublisher(proxiedUrl, exchange, { retryForMs: 800 });
    proxy.refuse(true);
    proxy.cut();
    try {
      await expect(publisher.publish(message('never'))).rejects.toThrow();
    } finally {
      proxy.refuse(false);
      await publisher.close();
    }
  });

  it('refuses at once when the first connection fails (a wrong URL is told, not retried)', async () => {
    proxy.refuse(true);
    try {
      await expect(connectExchangePublisher(proxiedUrl, 'sluice.test.nowhere')).rejects.toThrow();
    } finally {
      proxy.refuse(false);
    }
  });
});
