/**
 * RabbitmqSource receive adapter (eventing-rabbitmq pkg/adapter/adapter.go): consumes the source's
 * queue and posts each message to the sink as a CloudEvent — as is when it carries the CloudEvents
 * headers (binary) or is `application/cloudevents+json` (structured), otherwise wrapped (type
 * `dev.knative.rabbitmq.event`, source `/apis/v1/namespaces/<ns>/rabbitmqsources/<name>#<queue>`,
 * id = message-id or a UUID). Acked after the sink accepted it; after the delivery's retries, nacked
 * without requeue (dropped, or dead-lettered by a queue policy), as upstream.
 *
 * Unlike upstream, nothing is lost on shutdown: upstream's adapter cancels its context, which fails the
 * retry loop and nacks the message without requeue; here a message not yet accepted by the sink when
 * `stop()` is called is nacked with requeue (a post under way finishes first), so the next consumer
 * gets it. Connection losses are recovered by amqplib (`recovery`), a channel the server closes
 * (consumer_timeout, a precondition failure) is re-opened here; either way RabbitMQ requeues what was
 * unacknowledged.
 *
 * Topology when `predeclared: false`: the exchange is declared (headers, durable) unless it already
 * exists (a producer may have declared it with another type), the queue (quorum, durable) unless it
 * exists, and the binding queue ← exchange with no arguments (every message). `predeclared: true`: the
 * queue must exist. A sink that is the Broker gets the event through the broker's own publish path (the
 * cluster posts to the broker ingress; both answer only after the publisher confirm).
 */
import {
  type Channel,
  type ChannelModel,
  type ConsumeMessage,
  connect,
  type RecoveringChannelModel,
} from 'amqplib';
import type { CloudEvent, Logger } from '../../functions/runtime/src/index.ts';
import { writeFramesTogether } from './backends/frame-batching.ts';
import { Workers } from './backends/workers.ts';
import { backoffMs } from './delivery.ts';
import { InFlight } from './in-flight.ts';
import { BACKOFF_POLICY, type SourceManifest } from './manifests.ts';
import { fromAmqp, rabbitmqEventSource, wrapAmqpMessage } from './wire.ts';

/** Posts one event to the sink; resolves true when accepted. */
export type SinkPost = (event: CloudEvent) => Promise<boolean>;

export interface SourceConsumerOptions {
  readonly url: string;
  readonly source: SourceManifest;
  readonly post: SinkPost;
  readonly log: Logger;
  /** Messages held unacknowledged. @default the source's parallelism */
  readonly prefetch?: number;
  /** Reconnect and channel re-open delay bounds. @default 100 / 1000 (upstream polls every second) */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

/** Upstream adapter default: HTTP_SENDER_BACKOFF_DELAY PT0.2S. */
const SOURCE_BACKOFF_DELAY_MS = 200;

const OUTCOME = { ack: 'ack', drop: 'drop', requeue: 'requeue' } as const;
type Outcome = (typeof OUTCOME)[keyof typeof OUTCOME];

export class SourceConsumer {
  readonly #o: SourceConsumerOptions;
  readonly #inFlight = new InFlight();
  readonly #workers: Workers;
  readonly #stopping = new AbortController();
  #connection: RecoveringChannelModel | undefined;
  #model: ChannelModel | undefined;
  #channel: Channel | undefined;
  #tag: string | undefined;
  #restarting = false;
  #channelRecoveries = 0;

  constructor(options: SourceConsumerOptions) {
    this.#o = options;
    this.#workers = new Workers(options.source.parallelism);
  }

  /** Times a channel closed by the server (connection still up) was re-opened. */
  get channelRecoveries(): number {
    return this.#channelRecoveries;
  }

  /** The RabbitmqSource's name. */
  get name(): string {
    return this.#o.source.name;
  }

  /** The exchange it reads (bound to its queue); undefined for a predeclared queue fed some other way. */
  get exchange(): string | undefined {
    return this.#o.source.exchangeName;
  }

  async start(): Promise<void> {
    const name = this.#o.source.name;
    const connection = await connect(this.#o.url, {
      clientProperties: { connection_name: `sluice-source-${name}` },
      // TCP_NODELAY, as the broker's connections (rabbitmq-backend.ts): with Nagle on, an ack written while
      // an earlier segment is unacknowledged waits for the server's delayed ACK (up to ~40 ms).
      noDelay: true,
      recovery: {
        initialDelay: this.#o.reconnectMinMs ?? 100,
        maxDelay: this.#o.reconnectMaxMs ?? 1000,
        initialMaxRetries: 0,
        maxRetries: Number.POSITIVE_INFINITY,
        waitForConnect: false,
        setup: (model: ChannelModel) => this.#setup(model),
      },
    });
    connection.on('error', () => {});
    connection.on('disconnect', () => {
      this.#model = undefined;
      if (!this.#closed) this.#o.log.warn(`RabbitmqSource ${name}: connection lost; reconnecting`);
    });
    this.#connection = connection;
    try {
      await connection.waitForConnect();
    } catch (err) {
      await connection.close().catch(() => {});
      throw err;
    }
  }

  get #closed(): boolean {
    return this.#stopping.signal.aborted;
  }

  async #setup(model: ChannelModel): Promise<void> {
    writeFramesTogether(model);
    this.#model = model;
    try {
      await this.#declare(model);
      await this.#consume(model);
    } catch (err) {
      if (this.#model === model) this.#model = undefined;
      throw err;
    }
  }

  async #consume(model: ChannelModel): Promise<void> {
    const name = this.#o.source.name;
    const ch = await model.createChannel();
    const state = { open: true };
    ch.on('error', (err: Error) =>
      this.#o.log.warn(`RabbitmqSource ${name}: channel closed by the server: ${err.message}`, {
        'event.action': 'source-channel-closed',
      }),
    );
    ch.on('close', () => {
      state.open = false;
      if (this.#channel !== ch) return;
      this.#channel = undefined;
      this.#tag = undefined;
      this.#restart(model);
    });
    this.#channel = ch;
    await ch.prefetch(this.#o.prefetch ?? this.#o.source.parallelism);
    const reply = await ch.consume(this.#o.source.queueName, (msg) => this.#onMessage(ch, state, msg), {
      noAck: false,
    });
    this.#tag = reply.consumerTag;
  }

  /** Re-opens the consuming channel the server closed, while the connection stays the same. */
  #restart(model: ChannelModel): void {
    if (this.#restarting) return;
    this.#restarting = true;
    let delay = 0;
    const attempt = (): void => {
      if (this.#closed || this.#model !== model) {
        this.#restarting = false;
        return;
      }
      this.#consume(model).then(
        () => {
          this.#restarting = false;
          this.#channelRecoveries++;
          this.#o.log.info(`RabbitmqSource ${this.#o.source.name}: channel re-opened`, {
            'event.action': 'source-channel-restored',
          });
        },
        (err: unknown) => {
          this.#o.log.warn(
            `RabbitmqSource ${this.#o.source.name}: channel could not be re-opened: ${(err as Error).message}`,
          );
          delay = Math.min(
            Math.max(delay * 2, this.#o.reconnectMinMs ?? 100),
            this.#o.reconnectMaxMs ?? 1000,
          );
          setTimeout(attempt, delay);
        },
      );
    };
    setTimeout(attempt, delay);
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

  #onMessage(ch: Channel, state: { readonly open: boolean }, msg: ConsumeMessage | null): void {
    if (msg === null) return;
    const run = this.#workers
      // Its channel gone, RabbitMQ has requeued the message: forwarding it would only duplicate it.
      .run(async () => {
        if (!state.open) return;
        const outcome = await this.#forward(msg);
        try {
          if (outcome === OUTCOME.ack) ch.ack(msg);
          else ch.nack(msg, false, outcome === OUTCOME.requeue);
        } catch {
          // Channel gone with its connection: RabbitMQ redelivers the message.
        }
      })
      .catch(() => {});
    this.#inFlight.track(run);
  }

  async #forward(msg: ConsumeMessage): Promise<Outcome> {
    const s = this.#o.source;
    if (this.#closed) return OUTCOME.requeue;
    const defaultSource = rabbitmqEventSource(s.namespace, s.name, s.queueName);
    let event: CloudEvent;
    try {
      event = fromAmqp(msg, { source: defaultSource }) ?? wrapAmqpMessage(msg, defaultSource);
    } catch (err) {
      this.#o.log.warn(
        `RabbitmqSource ${s.name}: message is a malformed CloudEvent, dropped: ${(err as Error).message}`,
      );
      return OUTCOME.drop;
    }
    const retry = s.delivery?.retry ?? 0;
    const policy = s.delivery?.backoffPolicy ?? BACKOFF_POLICY.exponential;
    const delay = s.delivery?.backoffDelayMs ?? SOURCE_BACKOFF_DELAY_MS;
    for (let attempt = 0; ; attempt++) {
      if (await this.#o.post(event).catch(() => false)) return OUTCOME.ack;
      // Stopping: give it back to the queue rather than drop it, as upstream's cancelled context does.
      if (this.#closed) return OUTCOME.requeue;
      if (attempt >= retry) {
        this.#o.log.error(
          `RabbitmqSource ${s.name}: sink refused ${event.type} ${event.id}; message dropped`,
        );
        return OUTCOME.drop;
      }
      const wait = backoffMs(policy, delay, attempt + 1);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#stopping.signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Stops consuming; a post under way finishes, every message not yet accepted goes back to the queue. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    const ch = this.#channel;
    if (ch !== undefined && this.#tag !== undefined) await ch.cancel(this.#tag).catch(() => {});
    await this.#inFlight.settled();
    this.#model = undefined;
    await this.#connection?.close().catch(() => {});
  }

  /** Test hook: make RabbitMQ close the consuming channel (406 unknown delivery tag), the connection up. */
  breakChannel(): void {
    this.#channel?.ack({ fields: { deliveryTag: 999_999_999 } } as ConsumeMessage);
  }
}
