import { connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Submission } from './plan.ts';
import { amqpSender, SendResult } from './send.ts';

describe('amqpSender', () => {
  const exchange = `injector.test.${process.pid}.${Date.now().toString(36)}`;
  afterEach(async () => {
    const model = await connect(inject('rabbitmqUrl'));
    const ch = await model.createChannel();
    await ch.deleteExchange(exchange).catch(() => {});
    await model.close();
  });

  const submission = (id: string) =>
    ({
      id,
      headers: { 'ce-specversion': '1.0', 'ce-id': id, 'content-type': 'application/json' },
      body: Buffer.from('{}'),
    }) as unknown as Submission;

  it('reports a message no queue takes as failed (mandatory publish, returned), and sends it once one is bound', async () => {
    const sender = await amqpSender(inject('rabbitmqUrl'), exchange, 2);
    const model = await connect(inject('rabbitmqUrl'));
    try {
      expect(await sender.send(submission('unroutable-1'))).toBe(SendResult.failed);
      const ch = await model.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, exchange, '', {});
      expect(await sender.send(submission('routed-1'))).toBe(SendResult.accepted);
      const got = await ch.get(queue, { noAck: true });
      expect(got === false ? undefined : got.properties.messageId).toBe('routed-1');
    } finally {
      await sender.close();
      await model.close();
    }
  });
});
