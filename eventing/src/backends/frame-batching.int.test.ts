/**
 * writeFramesTogether on real RabbitMQ: a burst of publishes made in one turn leaves in a few socket writes
 * instead of one per publish, every one is confirmed, and they arrive in the order they were published. The
 * same burst on a connection left as amqplib makes it is the contrast (one write per publish), which also
 * shows the count is of the writes that reach the socket. Fails when amqplib's mux changes shape.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import amqp, { type ChannelModel } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFramesTogether } from './frame-batching.ts';

const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const BURST = 100;

/** Counts the chunks the socket hands to the kernel as separate writes (`_write`, or one `_writev` for many). */
function countSocketWrites(model: ChannelModel): () => number {
  const socket = (model.connection as unknown as { stream: Writable }).stream;
  let writes = 0;
  const write = socket._write.bind(socket);
  socket._write = (chunk, encoding, callback) => {
    writes++;
    write(chunk, encoding, callback);
  };
  const writev = socket._writev?.bind(socket);
  if (writev !== undefined) {
    socket._writev = (chunks, callback) => {
      writes++;
      writev(chunks, callback);
    };
  }
  return () => writes;
}

async function publishBurst(model: ChannelModel): Promise<{ writes: number; received: number[] }> {
  const queue = `sluice-frame-batching-${randomUUID()}`;
  const channel = await model.createConfirmChannel();
  await channel.assertQueue(queue, { exclusive: true, autoDelete: true });
  const writes = countSocketWrites(model);
  const before = writes();
  for (let i = 0; i < BURST; i++) channel.publish('', queue, Buffer.from(String(i)), { persistent: true });
  await channel.waitForConfirms();
  const published = writes() - before;
  const received: number[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) break;
    received.push(Number(message.content.toString()));
  }
  await channel.close();
  return { writes: published, received };
}

describe('writeFramesTogether (RabbitMQ)', () => {
  const models: ChannelModel[] = [];
  afterEach(async () => {
    await Promise.all(models.splice(0).map((m) => m.close().catch(() => {})));
  });
  const open = async (): Promise<ChannelModel> => {
    const model = await amqp.connect(RABBITMQ_URL);
    models.push(model);
    return model;
  };

  it('sends a burst of publishes in a few writes, confirmed and in order', async () => {
    const model = await open();
    expect(writeFramesTogether(model)).toBe(true);
    const { writes, received } = await publishBurst(model);
    expect(received).toEqual(Array.from({ length: BURST }, (_, i) => i));
    expect(writes).toBeLessThanOrEqual(5);
  });

  it('is what makes the difference: the same burst unbatched is one write per publish', async () => {
    const { writes, received } = await publishBurst(await open());
    expect(received).toHaveLength(BURST);
    expect(writes).toBeGreaterThanOrEqual(BURST);
  });

  it('leaves a connection whose internals it does not recognise as it is', () => {
    const model = { connection: { muxer: { _readIncoming: () => {}, out: {} } } } as unknown as ChannelModel;
    expect(writeFramesTogether(model)).toBe(false);
    expect(writeFramesTogether({ connection: {} } as unknown as ChannelModel)).toBe(false);
  });
});
