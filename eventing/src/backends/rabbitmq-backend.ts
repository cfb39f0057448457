/**
 * RabbitMQ broker backend (amqplib), with the topology eventing-rabbitmq's reconcilers create:
 * durable headers exchanges, durable queues (quorum or classic as the RabbitmqBrokerConfig says) bound
 * with `x-match: all` + the trigger's filter attributes, persistent messages, publisher confirms, manual
 * acks, one channel per consumer with its own QoS (prefetch), `concurrency` handlers per consumer.
 *
 * Two connections, as upstream's ingress and dispatchers are separate pods and RabbitMQ advises: one
 * publishes (the confirm channel), one consumes. On one connection, RabbitMQ's reader for it handles
 * publishes and acks in turn and its writer sends confirms and deliveries in turn; and a resource alarm
 * blocks a publishing connection, which would stop the consumers' acks with it.
 *
 * Recovery, at two levels:
 * - connection: amqplib's own recovery (`connect(url, { recovery })`, amqplib ≥ 1.1): it reconnects with
 *   a capped, jittered backoff and runs `setup` on every new connection: the consuming one re-declares
 *   the topology and resumes every consumer, the publishing one re-opens the publisher. The first
 *   connection of each fails fast (`initialMaxRetries: 0`) so a wrong URL is a clear start-up error.
 * - channel: amqplib has none. RabbitMQ closes a single channel on a precondition failure, an unknown
 *   delivery tag, `consumer_timeout` or a publish to an exchange that does not exist, while the
 *   connection stays up. A consumer's or the publisher's channel closed that way is re-opened here, on
 *   the same connection, with a capped backoff.
 *
 * Either way the unacknowledged messages of a closed channel go back to their queues (RabbitMQ
 * redelivers them, `redelivered` set). A handler still running on a dead channel finishes, but its ack
 * is lost, so that message is delivered again: at-least-once, never lost; the functions' idempotency
 * guard (source + id) absorbs the duplicate. Messages prefetched on a dead channel and still waiting for
 * a worker are not handed to the handler at all. Publishing waits for a publisher (up to
 * `publishWaitMs`), then fails, so the ingress never answers 202 without a confirm.
 */
import {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  connect,
  type RecoveringChannelModel,
} from 'amqplib';
import { type CloudEvent, type Logger, publishConfirmed } from '../../../functions/runtime/src/index.ts';
import { InFlight } from '../in-flight.ts';
import { fromAmqp, toAmqp } from '../wire.ts';
import { AckBatcher } from './ack-batcher.ts';
import {
  BackendError,
  type BrokerBackend,
  type ConsumeOptions,
  type ConsumerHandle,
  type MessageHandler,
  type Topology,
} from './backend.ts';
import { writeFramesTogether } from './frame-batching.ts';
import { Workers } from './workers.ts';

export interface RabbitmqBackendOptions {
  readonly url: string;
  readonly log: Logger;
  /** Shown in the RabbitMQ management UI / `rabbitmqctl list_connections`. @default 'sluice-broker' */
  readonly connectionName?: string;
  /** How long a publish waits for a publisher channel to come back. @default 5000 */
  readonly publishWaitMs?: number;
  /** Reconnect (and channel re-open) backoff bounds. @default 100 / 2000 */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

type ConnectionRole = 'consuming' | 'publishing';

interface Consumer {
  readonly queue: string;
  readonly prefetch: number;
  readonly workers: Workers;
  readonly handler: MessageHandler;
  channel?: Channel;
  /** Its channel's acks, sent once per event-loop turn (ack-batcher.ts). */
  acks?: AckBatcher<ConsumeMessage>;
  tag?: string;
  /** Messages delivered to it and not settled yet. */
  held: number;
  cancelled: boolean;
  readonly running: InFlight;
}

export class RabbitmqBackend implements BrokerBackend {
  readonly kind = 'rabbitmq' as const;
  readonly #options: Required<RabbitmqBackendOptions>;
  readonly #topologies: Topology[] = [];
  readonly #consumers: Consumer[] = [];
  readonly #inFlight = new InFlight();
  /** Consumes (and declares, reads depths). */
  #connection: RecoveringChannelModel | undefined;
  #model: ChannelModel | undefined;
  /** Publishes. */
  #publishing: RecoveringChannelModel | undefined;
  #publishingModel: ChannelModel | undefined;
  #publisher: ConfirmChannel | undefined;
  #ready: Promise<void> = Promise.resolve();
  #markReady: () => void = () => {};
  #isReady = true;
  /** Channels being re-opened (a consumer, or this backend for the publisher). */
  readonly #restarting = new Set<object>();
  #closed = false;
  /** Connections made, per role: every one after the first of a role is a reconnect. */
  readonly #connects = { consuming: 0, publishing: 0 };
  #channelRecoveries = 0;

  private constructor(options: RabbitmqBackendOptions) {
    this.#options = {
      connectionName: 'sluice-broker',
      publishWaitMs: 5000,
      reconnectMinMs: 100,
      reconnectMaxMs: 2000,
      ...options,
    };
    this.#notReady();
  }

  /** Connects once (failing fast with a clear error); later losses are recovered in the background. */
  static async connect(options: RabbitmqBackendOptions): Promise<RabbitmqBackend> {
    const backend = new RabbitmqBackend(options);
    const o = backend.#options;
    try {
      backend.#connection = await backend.#open('consuming', o.connectionName, (model) =>
        backend.#setupConsuming(model),
      );
      backend.#publishing = await backend.#open('publishing', `${o.connectionName}-publisher`, (model) =>
        backend.#setupPublishing(model),
      );
    } catch (err) {
      backend.#closed = true;
      await backend.#connection?.close().catch(() => {});
      throw new BackendError(`cannot connect to RabbitMQ at ${redact(o.url)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return backend;
  }

  async #open(
    role: ConnectionRole,
    name: string,
    setup: (model: ChannelModel) => Promise<void>,
  ): Promise<RecoveringChannelModel> {
    const o = this.#options;
    const connection = await connect(o.url, {
      clientProperties: { connection_name: name },
      // TCP_NODELAY, as Go's net sets it for eventing-rabbitmq: with Nagle on (amqplib's default) a
      // publish or an ack written while an earlier segment is unacknowledged waits for the server's
      // delayed ACK, up to ~40 ms; the ingress publishes one event per POST, so it met that wait on
      // most publishes (confirm p50 ~45 → ~6–20 ms, docs/performance.md "What bounds the broker path").
      noDelay: true,
      recovery: {
        initialDelay: o.reconnectMinMs,
        maxDelay: o.reconnectMaxMs,
        initialMaxRetries: 0,
        maxRetries: Number.POSITIVE_INFINITY,
        waitForConnect: false,
        setup,
      },
    });
    this.#watch(connection, role);
    try {
      await connection.waitForConnect();
    } catch (err) {
      await connection.close().catch(() => {});
      throw err;
    }
    return connection;
  }

  /** Times a connection was re-established after a loss (either connection). */
  get reconnects(): number {
    return Math.max(0, this.#connects.consuming - 1) + Math.max(0, this.#connects.publishing - 1);
  }

  /** Times a channel closed by the server (connection still up) was re-opened. */
  get channelRecoveries(): number {
    return this.#channelRecoveries;
  }

  /** Publishing waits from here until a publisher is open again (one pending promise at a time). */
  #notReady(): void {
    if (!this.#isReady) return;
    this.#isReady = false;
    this.#ready = new Promise((resolve) => {
      this.#markReady = () => {
        this.#isReady = true;
        resolve();
      };
    });
  }

  #watch(connection: RecoveringChannelModel, role: ConnectionRole): void {
    connection.on('error', (err: Error) =>
      this.#options.log.warn(`RabbitMQ ${role} connection error: ${err.message}`),
    );
    connection.on('connect', () => {
      this.#connects[role]++;
      if (this.#connects[role] > 1) {
        this.#options.log.info(`RabbitMQ ${role} connection re-established`, {
          'event.action': 'broker-connection-restored',
        });
      }
    });
    connection.on('disconnect', () => this.#lost(role));
    connection.on('connect-failed', (err: Error) => {
      if (this.#connects[role] > 0) this.#options.log.warn(`RabbitMQ reconnect failed: ${err.message}`);
    });
  }

  /** Runs on every (re)connection of the consuming connection, before amqplib hands it out. */
  async #setupConsuming(model: ChannelModel): Promise<void> {
    writeFramesTogether(model);
    this.#model = model;
    try {
      for (const t of this.#topologies) await this.#declareOn(model, t);
      for (const c of this.#consumers) await this.#startConsumer(model, c);
    } catch (err) {
      // amqplib closes this connection and tries again; nothing may keep using it.
      if (this.#model === model) this.#model = undefined;
      throw err;
    }
  }

  /** Runs on every (re)connection of the publishing connection. */
  async #setupPublishing(model: ChannelModel): Promise<void> {
    writeFramesTogether(model);
    this.#publishingModel = model;
    try {
      await this.#openPublisher(model);
    } catch (err) {
      if (this.#publishingModel === model) this.#publishingModel = undefined;
      throw err;
    }
  }

  #lost(role: ConnectionRole): void {
    if (role === 'publishing') {
      this.#publishingModel = undefined;
      this.#publisher = undefined;
    } else {
      this.#model = undefined;
      for (const c of this.#consumers) {
        delete c.channel;
        delete c.tag;
      }
    }
    if (this.#closed) return;
    if (role === 'publishing') this.#notReady();
    this.#options.log.warn(
      role === 'publishing'
        ? 'RabbitMQ publishing connection lost; reconnecting (the ingress answers 500 until it is back)'
        : 'RabbitMQ consuming connection lost; reconnecting (unacked messages will be redelivered)',
      { 'event.action': 'broker-connection-lost' },
    );
  }

  async #openPublisher(model: ChannelModel): Promise<void> {
    const publisher = await model.createConfirmChannel();
    publisher.on('error', (err: Error) =>
      this.#options.log.warn(`RabbitMQ publisher channel closed by the server: ${err.message}`, {
        'event.action': 'broker-channel-closed',
      }),
    );
    publisher.on('close', () => {
      if (this.#publisher !== publisher) return;
      this.#publisher = undefined;
      this.#notReady();
      this.#restart(
        model,
        () => this.#publishingModel,
        this,
        'publisher',
        () => this.#openPublisher(model),
      );
    });
    this.#publisher = publisher;
    this.#markReady();
  }

  /**
   * Re-opens a channel the server closed while `model` is still its connection (`current()`), until it
   * is open again or the connection changes. Deferred one turn: a connection loss closes every channel
   * first, and then the connection itself (`#lost`), which ends this.
   */
  #restart(
    model: ChannelModel,
    current: () => ChannelModel | undefined,
    key: object,
    what: string,
    open: () => Promise<void>,
  ): void {
    if (this.#restarting.has(key)) return;
    this.#restarting.add(key);
    let delay = 0;
    const attempt = (): void => {
      if (this.#closed || current() !== model) {
        this.#restarting.delete(key);
        return;
      }
      open().then(
        () => {
          this.#restarting.delete(key);
          this.#channelRecoveries++;
          this.#options.log.info(`RabbitMQ ${what} channel re-opened`, {
            'event.action': 'broker-channel-restored',
          });
        },
        (err: unknown) => {
          this.#options.log.warn(
            `RabbitMQ ${what} channel could not be re-opened: ${(err as Error).message}`,
          );
          delay = Math.min(Math.max(delay * 2, this.#options.reconnectMinMs), this.#options.reconnectMaxMs);
          setTimeout(attempt, delay);
        },
      );
    };
    setTimeout(attempt, delay);
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
        // Not `channel.publish`: it makes each message's headers a prototype (amqp-publish.ts).
        publishConfirmed(
          channel,
          {
            exchange,
            routingKey: '',
            content: message.content,
            headers: message.headers,
            messageId: message.messageId,
            contentType: message.contentType,
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

  async consume(queue: string, options: ConsumeOptions, handler: MessageHandler): Promise<ConsumerHandle> {
    const consumer: Consumer = {
      queue,
      prefetch: options.prefetch,
      workers: new Workers(options.concurrency ?? options.prefetch),
      handler,
      held: 0,
      cancelled: false,
      running: new InFlight(),
    };
    this.#consumers.push(consumer);
    const model = this.#model;
    if (model !== undefined) await this.#startConsumer(model, consumer);
    return {
      get held() {
        return consumer.held;
      },
      cancel: () => this.#cancel(consumer),
    };
  }

  /** A dispatcher replica going away: no new messages, its handlers finish, then its channel closes (requeues the rest). */
  async #cancel(c: Consumer): Promise<void> {
    if (c.cancelled) return;
    c.cancelled = true;
    const i = this.#consumers.indexOf(c);
    if (i !== -1) this.#consumers.splice(i, 1);
    const { channel, tag } = c;
    if (channel !== undefined && tag !== undefined) await channel.cancel(tag).catch(() => {});
    await c.running.settled();
    // The acks of the last handlers go before the close, which would requeue their messages.
    c.acks?.flush();
    delete c.channel;
    await channel?.close().catch(() => {});
  }

  async depth(queue: string): Promise<number> {
    const model = this.#model;
    if (model === undefined) throw new BackendError('RabbitMQ is not connected');
    // A passive declare on a channel of its own: a missing queue closes that channel only.
    const ch = await model.createChannel();
    ch.on('error', () => {});
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } finally {
      await ch.close().catch(() => {});
    }
  }

  async #startConsumer(model: ChannelModel, c: Consumer): Promise<void> {
    const ch = await model.createChannel();
    const state = { open: true };
    ch.on('error', (err: Error) =>
      this.#options.log.warn(`RabbitMQ consumer channel of ${c.queue} closed by the server: ${err.message}`, {
        'event.action': 'broker-channel-closed',
      }),
    );
    ch.on('close', () => {
      state.open = false;
      if (c.channel !== ch) return;
      delete c.channel;
      delete c.tag;
      this.#restart(
        model,
        () => this.#model,
        c,
        `consumer (${c.queue})`,
        () => this.#startConsumer(model, c),
      );
    });
    c.channel = ch;
    const acks = new AckBatcher<ConsumeMessage>(ch);
    c.acks = acks;
    await ch.prefetch(c.prefetch);
    const reply = await ch.consume(c.queue, (msg) => this.#onMessage(acks, state, c, msg), {
      noAck: false,
    });
    c.tag = reply.consumerTag;
  }

  #onMessage(
    acks: AckBatcher<ConsumeMessage>,
    state: { readonly open: boolean },
    c: Consumer,
    msg: ConsumeMessage | null,
  ): void {
    if (msg === null) return; // consumer cancelled by the server (queue deleted)
    acks.delivered(msg);
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
      acks.ack(msg);
      return;
    }
    const e = event;
    let acked = false;
    const ack = (): void => {
      if (acked) return;
      acked = true;
      acks.ack(msg);
    };
    const delivery = { redelivered: msg.fields.redelivered, ack };
    c.held++;
    // One continuation acks (or requeues) and forgets the message: no async wrapper, no finally.
    c.running.enter();
    this.#inFlight.enter();
    const forget = (): void => {
      c.held--;
      c.running.leave();
      this.#inFlight.leave();
    };
    void c.workers
      .run(() =>
        // Its channel is gone: RabbitMQ has requeued the message, running it would only duplicate it.
        // Its replica was scaled away while it waited: back to the queue for the others.
        !state.open
          ? Promise.reject(new BackendError('channel closed before a worker was free'))
          : c.cancelled
            ? Promise.reject(new BackendError('consumer cancelled'))
            : c.handler(e, delivery),
      )
      .then(
        () => {
          forget();
          ack();
        },
        () => {
          forget();
          if (!acked) acks.nack(msg, true);
        },
      );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#consumers) {
      if (c.channel !== undefined && c.tag !== undefined) await c.channel.cancel(c.tag).catch(() => {});
    }
    await this.#inFlight.settled();
    for (const c of this.#consumers) c.acks?.flush();
    this.#model = undefined;
    this.#publishingModel = undefined;
    this.#publisher = undefined;
    await this.#connection?.close().catch(() => {});
    await this.#publishing?.close().catch(() => {});
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

  /** Test hook: cut TCP connections as a network failure would (no AMQP close handshake). */
  dropConnection(which: 'both' | ConnectionRole = 'both'): void {
    const models = {
      both: [this.#model, this.#publishingModel],
      consuming: [this.#model],
      publishing: [this.#publishingModel],
    }[which];
    for (const model of models) {
      const socket = (model?.connection as unknown as { stream?: { destroy(err?: Error): void } } | undefined)
        ?.stream;
      // With an error, as a reset would: amqplib notices 'error'/'end', not a bare 'close'.
      socket?.destroy(new Error('connection dropped (test)'));
    }
  }

  /**
   * Test hook: make RabbitMQ close one channel (the connection stays up), as `consumer_timeout` or a
   * precondition failure does. `publisher`, or the queue whose consumer channel to break. Breaking the
   * publisher publishes to an exchange that does not exist (404); a consumer acks an unknown delivery
   * tag (406 PRECONDITION_FAILED).
   */
  breakChannel(target: 'publisher' | { readonly queue: string }): void {
    if (target === 'publisher') {
      this.#publisher?.publish(`sluice.missing.${Date.now()}`, '', Buffer.alloc(0), {}, () => {});
      return;
    }
    const ch = this.#consumers.find((c) => c.queue === target.queue)?.channel;
    ch?.ack({ fields: { deliveryTag: 999_999_999 } } as ConsumeMessage);
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
