/**
 * RabbitMQ broker backend (amqplib), with the topology eventing-rabbitmq's reconcilers create:
 * durable headers exchanges, durable queues (quorum or classic as the RabbitmqBrokerConfig says) bound
 * with `x-match: all` + the trigger's filter attributes, persistent messages, publisher confirms, manual
 * acks, `prefetch` = the trigger's parallelism (one channel per consumer, so each has its own QoS).
 *
 * Connection loss: every channel dies with the connection; unacknowledged messages go back to their
 * queues (RabbitMQ redelivers them, `redelivered` set). This adapter reconnects with a capped backoff,
 * re-declares the topology, and resumes every consumer. A handler still running on a dead channel
 * finishes, but its ack is lost, so that message is delivered again: at-least-once, never lost;
 * the functions' idempotency guard (source + id) absorbs the duplicate. Publishing waits for the
 * connection to come back (up to `publishWaitMs`), then fails, so the ingress never answers 202
 * without a confirm.
 */
import { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, connect } from 'amqplib';
import type { CloudEvent, Logger } from '../../../functions/runtime/src/index.ts';
import { fromAmqp, toAmqp } from '../wire.ts';
import { BackendError, type BrokerBackend, type MessageHandler, type Topology } from './backend.ts';

export interface RabbitmqBackendOptions {
  readonly url: string;
  readonly log: Logger;
  /** Shown in the RabbitMQ management UI / `rabbitmqctl list_connections`. @default 'sluice-broker' */
  readonly connectionName?: string;
  /** How long a publish waits for a lost connection to come back. @default 5000 */
  readonly publishWaitMs?: number;
  /** Reconnect backoff bounds. @default 100 / 2000 */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

interface Consumer {
  readonly queue: string;
  readonly prefetch: number;
  readonly handler: MessageHandler;
  channel?: Channel;
  tag?: string;
}

export class RabbitmqBackend implements BrokerBackend {
  readonly kind = 'rabbitmq' as const;
  readonly #options: Required<RabbitmqBackendOptions>;
  readonly #topologies: Topology[] = [];
  readonly #consumers: Consumer[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #model: ChannelModel | undefined;
  #publisher: ConfirmChannel | undefined;
  #ready: Promise<void>;
  #markReady: () => void = () => {};
  #closed = false;
  #reconnects = 0;

  private constructor(options: RabbitmqBackendOptions) {
    this.#options = {
      connectionName: 'sluice-broker',
      publishWaitMs: 5000,
      reconnectMinMs: 100,
      reconnectMaxMs: 2000,
      ...options,
    };
    this.#ready = new Promise((resolve) => {
      this.#markReady = resolve;
    });
  }

  /** Connects once (failing fast with a clear error); later losses are recovered in the background. */
  static async connect(options: RabbitmqBackendOptions): Promise<RabbitmqBackend> {
    const backend = new RabbitmqBackend(options);
    try {
      await backend.#open();
    } catch (err) {
      await backend.close();
      throw new BackendError(
        `cannot connect to RabbitMQ at ${redact(options.url)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return backend;
  }

  /** Times the connection was re-established after a loss. */
  get reconnects(): number {
    return this.#reconnects;
  }

  async #open(): Promise<void> {
    const model = await connect(this.#options.url, {
      clientProperties: { connection_name: this.#options.connectionName },
    });
    model.on('error', (err: Error) => this.#options.log.warn(`RabbitMQ connection error: ${err.message}`));
    model.on('close', () => this.#lost(model));
    const publisher = await model.createConfirmChannel();
    publisher.on('error', (err: Error) => this.#options.log.warn(`RabbitMQ channel error: ${err.message}`));
    this.#model = model;
    for (const t of this.#topologies) await this.#declareOn(model, t);
    for (const c of this.#consumers) await this.#startConsumer(model, c);
    this.#publisher = publisher;
    this.#markReady();
  }

  #lost(model: ChannelModel): void {
    if (this.#model !== model) return;
    this.#model = undefined;
    this.#publisher = undefined;
    for (const c of this.#consumers) {
      delete c.channel;
      delete c.tag;
    }
    if (this.#closed) return;
    this.#ready = new Promise((resolve) => {
      this.#markReady = resolve;
    });
    this.#options.log.warn('RabbitMQ connection lost; reconnecting (unacked messages will be redelivered)', {
      'event.action': 'broker-connection-lost',
    });
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    let delay = this.#options.reconnectMinMs;
    while (!this.#closed) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.#closed) return;
      try {
        await this.#open();
        this.#reconnects++;
        this.#options.log.info('RabbitMQ connection re-established', {
          'event.action': 'broker-connection-restored',
        });
        return;
      } catch (err) {
        this.#options.log.warn(`RabbitMQ reconnect failed: ${(err as Error).message}`);
        const stale = this.#model;
        this.#model = undefined;
        await stale?.close().catch(() => {});
        delay = Math.min(delay * 2, this.#options.reconnectMaxMs);
      }
    }
  }

  async declare(topology: Topology): Promise<void> {
    const model = this.#model;
    if (model === undefined) throw new BackendError('RabbitMQ is not connected');
    await this.#declareOn(model, topology);
    this.#topologies.push(topology);
  }

  async #declareOn(model: ChannelModel, topology: Topology): Promise<void> {
    // A failed declaration closes its channel: use one that nothing else depends on.
    const ch = await model.createChannel();
    ch.on('error', () => {});
    try {
      for (const name of topology.exchanges) {
        await ch.assertExchange(name, 'headers', { durable: true, autoDelete: false });
      }
      for (const q of topology.queues) {
        const args: Record<string, string> = { 'x-queue-type': topology.queueType };
        if (q.deadLetterExchange !== undefined) args['x-dead-letter-exchange'] = q.deadLetterExchange;
        await ch.assertQueue(q.name, { durable: true, autoDelete: false, exclusive: false, arguments: args });
        for (const b of q.bindings)
          await ch.bindQueue(q.name, b.exchange, '', { ...b.args, 'x-match': 'all' });
      }
    } catch (err) {
      const message = (err as Error).message;
      throw new BackendError(
        message.includes('PRECONDITION_FAILED')
          ? `RabbitMQ refused the broker topology (${message}): a queue or exchange of the same name exists with other arguments (e.g. classic vs quorum); delete it or change the broker's instance name`
          : `RabbitMQ refused the broker topology: ${message}`,
        { cause: err },
      );
    } finally {
      await ch.close().catch(() => {});
    }
  }

  async publish(exchange: string, event: CloudEvent): Promise<void> {
    if (this.#closed) throw new BackendError('broker is stopped');
    let publisher = this.#publisher;
    if (publisher === undefined) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new BackendError('RabbitMQ is unavailable (reconnecting)')),
          this.#options.publishWaitMs,
        );
      });
      try {
        await Promise.race([this.#ready, timeout]);
      } finally {
        clearTimeout(timer);
      }
      publisher = this.#publisher;
      if (publisher === undefined) throw new BackendError('RabbitMQ is unavailable (reconnecting)');
    }
    const message = toAmqp(event);
    const channel = publisher;
    await new Promise<void>((resolve, reject) => {
      try {
        channel.publish(
          exchange,
          '',
          message.content,
          {
            persistent: true,
            headers: message.headers,
            messageId: message.messageId,
            ...(message.contentType === undefined ? {} : { contentType: message.contentType }),
          },
          (err: unknown) =>
            err === null || err === undefined
              ? resolve()
              : reject(new BackendError(`RabbitMQ did not confirm the publish: ${String(err)}`)),
        );
      } catch (err) {
        reject(new BackendError(`RabbitMQ publish failed: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  async consume(queue: string, prefetch: number, handler: MessageHandler): Promise<void> {
    const consumer: Consumer = { queue, prefetch, handler };
    this.#consumers.push(consumer);
    const model = this.#model;
    if (model !== undefined) await this.#startConsumer(model, consumer);
  }

  async #startConsumer(model: ChannelModel, c: Consumer): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.#options.log.warn(`RabbitMQ consumer channel error: ${err.message}`));
    await ch.prefetch(c.prefetch);
    const reply = await ch.consume(c.queue, (msg) => this.#onMessage(ch, c, msg), { noAck: false });
    c.channel = ch;
    c.tag = reply.consumerTag;
  }

  #onMessage(ch: Channel, c: Consumer, msg: ConsumeMessage | null): void {
    if (msg === null) return; // consumer cancelled by the server (queue deleted)
    let event: CloudEvent | undefined;
    try {
      event = fromAmqp(msg);
    } catch (err) {
      this.#options.log.warn(
        `dropping a message of ${c.queue} that is not a valid CloudEvent: ${(err as Error).message}`,
      );
    }
    if (event === undefined) {
      // As the upstream dispatcher: an unparsable message is acked and dropped.
      safe(() => ch.ack(msg));
      return;
    }
    const run = c.handler(event, { redelivered: msg.fields.redelivered }).then(
      () => safe(() => ch.ack(msg)),
      () => safe(() => ch.nack(msg, false, true)),
    );
    const tracked = run.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#consumers) {
      if (c.channel !== undefined && c.tag !== undefined) await c.channel.cancel(c.tag).catch(() => {});
    }
    await Promise.allSettled([...this.#inFlight]);
    const model = this.#model;
    this.#model = undefined;
    this.#publisher = undefined;
    await model?.close().catch(() => {});
  }

  async destroy(topology: Topology): Promise<void> {
    const model = await connect(this.#options.url);
    try {
      const ch = await model.createChannel();
      ch.on('error', () => {});
      for (const q of topology.queues) await ch.deleteQueue(q.name).catch(() => {});
      for (const e of topology.exchanges) await ch.deleteExchange(e).catch(() => {});
      await ch.close().catch(() => {});
    } finally {
      await model.close().catch(() => {});
    }
  }

  /** Test hook: cut the TCP connection as a network failure would (no AMQP close handshake). */
  dropConnection(): void {
    const socket = (
      this.#model?.connection as unknown as { stream?: { destroy(err?: Error): void } } | undefined
    )?.stream;
    // With an error, as a reset would: amqplib notices 'error'/'end', not a bare 'close'.
    socket?.destroy(new Error('connection dropped (test)'));
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel died with its connection: the message is requeued by RabbitMQ and delivered again.
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
