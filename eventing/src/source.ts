/**
 * RabbitmqSource receive adapter (eventing-rabbitmq pkg/adapter/adapter.go): consumes the source's
 * queue and posts each message to the sink as a CloudEvent — as is when it carries the CloudEvents
 * headers (binary) or is `application/cloudevents+json` (structured), otherwise wrapped (type
 * `dev.knative.rabbitmq.event`, source `/apis/v1/namespaces/<ns>/rabbitmqsources/<name>#<queue>`,
 * id = message-id or a UUID). Acked after the sink accepted it; after the delivery's retries, nacked
 * without requeue (dropped, or dead-lettered by a queue policy), as upstream.
 *
 * Topology when `predeclared: false`: the exchange is declared (headers, durable) unless it already
 * exists (a producer may have declared it with another type), the queue (quorum, durable) unless it
 * exists, and the binding queue ← exchange with no arguments (every message). `predeclared: true`: the
 * queue must exist. A sink that is the Broker gets the event through the broker's own publish path (the
 * cluster posts to the broker ingress; both answer only after the publisher confirm).
 */
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from 'amqplib';
import type { CloudEvent, Logger } from '../../functions/runtime/src/index.ts';
import { backoffMs } from './delivery.ts';
import { BACKOFF_POLICY, type SourceManifest } from './manifests.ts';
import { fromAmqp, rabbitmqEventSource, wrapAmqpMessage } from './wire.ts';

/** Posts one event to the sink; resolves true when accepted. */
export type SinkPost = (event: CloudEvent) => Promise<boolean>;

export interface SourceConsumerOptions {
  readonly url: string;
  readonly source: SourceManifest;
  readonly post: SinkPost;
  readonly log: Logger;
  /** @default 1000, as upstream's poll loop */
  readonly reconnectMs?: number;
}

/** Upstream adapter default: HTTP_SENDER_BACKOFF_DELAY PT0.2S. */
const SOURCE_BACKOFF_DELAY_MS = 200;

export class SourceConsumer {
  readonly #o: SourceConsumerOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #model: ChannelModel | undefined;
  #closed = false;

  constructor(options: SourceConsumerOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#open();
  }

  async #open(): Promise<void> {
    const model = await connect(this.#o.url, {
      clientProperties: { connection_name: `sluice-source-${this.#o.source.name}` },
    });
    this.#model = model;
    model.on('error', () => {});
    model.on('close', () => {
      if (this.#model !== model || this.#closed) return;
      this.#model = undefined;
      this.#o.log.warn(`RabbitmqSource ${this.#o.source.name}: connection lost; reconnecting`);
      void this.#reconnect();
    });
    await this.#declare(model);
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.#o.log.warn(`RabbitmqSource ${this.#o.source.name}: ${err.message}`));
    await ch.prefetch(this.#o.source.parallelism);
    await ch.consume(this.#o.source.queueName, (msg) => this.#onMessage(ch, msg), { noAck: false });
  }

  async #reconnect(): Promise<void> {
    while (!this.#closed) {
      await new Promise((r) => setTimeout(r, this.#o.reconnectMs ?? 1000));
      if (this.#closed) return;
      try {
        await this.#open();
        return;
      } catch (err) {
        this.#o.log.warn(
          `RabbitmqSource ${this.#o.source.name}: reconnect failed: ${(err as Error).message}`,
        );
        const stale = this.#model;
        this.#model = undefined;
        await stale?.close().catch(() => {});
      }
    }
  }

  async #declare(model: ChannelModel): Promise<void> {
    const s = this.#o.source;
    // Each check on its own channel: a failed passive declaration closes the channel it ran on.
    const exists = async (check: (ch: Channel) => Promise<unknown>): Promise<boolean> => {
      const ch = await model.createChannel();
      ch.on('error', () => {});
      try {
        await check(ch);
        return true;
      } catch {
        return false;
      } finally {
        await ch.close().catch(() => {});
      }
    };
    const queueExists = await exists((ch) => ch.checkQueue(s.queueName));
    if (s.predeclared) {
      if (!queueExists)
        throw new Error(`RabbitmqSource ${s.name}: predeclared queue ${s.queueName} does not exist`);
      return;
    }
    const exchange = s.exchangeName as string;
    const ch = await model.createChannel();
    try {
      if (!(await exists((c) => c.checkExchange(exchange)))) {
        await ch.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
      }
      if (!queueExists) {
        await ch.assertQueue(s.queueName, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      }
      await ch.bindQueue(s.queueName, exchange, '', {});
    } finally {
      await ch.close().catch(() => {});
    }
  }

  #onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) return;
    const run = this.#forward(msg).then(
      (ok) => {
        try {
          if (ok) ch.ack(msg);
          else ch.nack(msg, false, false);
        } catch {
          // Channel gone with its connection: RabbitMQ redelivers the message.
        }
      },
      () => {},
    );
    const tracked = run.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  async #forward(msg: ConsumeMessage): Promise<boolean> {
    const s = this.#o.source;
    const defaultSource = rabbitmqEventSource(s.namespace, s.name, s.queueName);
    let event: CloudEvent;
    try {
      event = fromAmqp(msg, { source: defaultSource }) ?? wrapAmqpMessage(msg, defaultSource);
    } catch (err) {
      this.#o.log.warn(
        `RabbitmqSource ${s.name}: message is a malformed CloudEvent, dropped: ${(err as Error).message}`,
      );
      return false;
    }
    const retry = s.delivery?.retry ?? 0;
    const policy = s.delivery?.backoffPolicy ?? BACKOFF_POLICY.exponential;
    const delay = s.delivery?.backoffDelayMs ?? SOURCE_BACKOFF_DELAY_MS;
    for (let attempt = 0; ; attempt++) {
      if (await this.#o.post(event).catch(() => false)) return true;
      if (attempt >= retry || this.#closed) {
        this.#o.log.error(
          `RabbitmqSource ${s.name}: sink refused ${event.type} ${event.id}; message dropped`,
        );
        return false;
      }
      await new Promise((r) => setTimeout(r, backoffMs(policy, delay, attempt + 1)));
    }
  }

  async stop(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    const model = this.#model;
    this.#model = undefined;
    await model?.close().catch(() => {});
  }
}
