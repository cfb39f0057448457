/**
 * Publishes CloudEvents (AMQP binary mode: attributes as `ce-*` headers) into the exchange a RabbitmqSource
 * reads: what `make inject INJECT_VIA=amqp`, `make simulate` and `make stream` send with. One connection, one
 * confirm channel; each message is persistent and `mandatory`, and its publish resolves only once RabbitMQ
 * confirmed it into at least one queue.
 *
 * - Unroutable (returned: the source's queue is not bound yet, `make dev` still starting): published again after
 *   a backoff, up to `unroutableAttempts`, then an UnroutableError.
 * - The connection lost (RabbitMQ restarted, the connection closed by an operator or a proxy) or the message
 *   nacked: reconnect and publish again what was not confirmed, for up to `retryForMs` per message. A message
 *   whose confirm was lost with the connection may then arrive twice, with the same CloudEvent id: the
 *   functions' idempotency guard absorbs it, as it absorbs any producer's retry.
 *
 * The connection is amqplib's own recovery (`connect(url, { recovery })`, as the broker's); what is written here
 * is what it leaves to the application: a channel opened on each connect, and publishing again what a loss
 * left unconfirmed.
 */
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { publishConfirmed } from './amqp-publish.ts';
import { commonJsExports } from './commonjs-import.ts';

export interface ExchangeMessage {
  /** The CloudEvent id: the AMQP message id, and how a return is matched to its publish. */
  readonly id: string;
  readonly body: Buffer;
  /** `ce-*` attributes (and any other header) as AMQP headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType?: string;
}

export interface ExchangePublisherOptions {
  /** Publishes of an unroutable message before it fails (default 8, ~15 s of backoff). */
  readonly unroutableAttempts?: number;
  /** How long one message is retried through lost connections and nacks before it fails (default 60 s). */
  readonly retryForMs?: number;
  /** Told once per lost connection, as a sentence a CLI prints after its name. */
  readonly onRetry?: (reason: string) => void;
}

export interface ExchangePublisher {
  /** Resolves once RabbitMQ confirmed `message` routed; rejects with UnroutableError or the last connection error. */
  publish(message: ExchangeMessage): Promise<void>;
  close(): Promise<void>;
}

export class UnroutableError extends Error {
  override name = 'UnroutableError';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const backoffMs = (attempt: number): number => Math.min(100 * 2 ** attempt, 3000);

/**
 * Connects to `url` and declares `exchange` as the RabbitmqSource declares it (headers, durable: RabbitMQ refuses
 * a redeclaration of another type), so publishing works before the source runs. Fails if the first connection
 * does: a wrong URL is told at once, not retried.
 */
export async function connectExchangePublisher(
  url: string,
  exchange: string,
  options: ExchangePublisherOptions = {},
): Promise<ExchangePublisher> {
  const { connect } = commonJsExports(await import('amqplib'), 'connect');
  const unroutableAttempts = options.unroutableAttempts ?? 8;
  const retryForMs = options.retryForMs ?? 60_000;
  // Ids RabbitMQ returned as unroutable; a return always arrives before its publish's confirm.
  const returned = new Set<string>();
  let channel: ConfirmChannel | undefined;
  let closing = false;
  let markReady = (): void => {};
  let ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const notReady = (): void => {
    if (channel === undefined) return;
    channel = undefined;
    ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
  };

  // The channel, opened on every (re)connect by amqplib's recovery.
  const setup = async (model: ChannelModel): Promise<void> => {
    const opened = await model.createConfirmChannel();
    opened.on('error', () => {}); // followed by 'close'
    opened.on('return', (msg: { properties: { messageId?: unknown } }) => {
      if (typeof msg.properties.messageId === 'string') returned.add(msg.properties.messageId);
    });
    opened.on('close', () => {
      if (channel !== opened) return;
      notReady();
      // Closed by the server with the connection up (a precondition failed): close the connection too, and
      // the recovery opens both again — one way back for every loss.
      if (!closing) model.close().catch(() => {});
    });
    await opened.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
    channel = opened;
    markReady();
  };
  const connection = await connect(url, {
    // TCP_NODELAY: confirms of publishes made one by one otherwise wait out the server's delayed ACK.
    noDelay: true,
    recovery: {
      initialDelay: 100,
      maxDelay: 3000,
      initialMaxRetries: 0,
      maxRetries: Number.POSITIVE_INFINITY,
      setup,
    },
  });
  connection.on('error', () => {}); // followed by 'disconnect'
  connection.on('disconnect', (err: Error) => {
    notReady();
    if (!closing)
      options.onRetry?.(
        `RabbitMQ connection lost (${err.message}); reconnecting, publishing again what was not confirmed`,
      );
  });

  /** The open channel, waiting up to `ms` for one; undefined when none opened in that time. */
  const channelWithin = async (ms: number): Promise<ConfirmChannel | undefined> => {
    if (channel !== undefined) return channel;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    return channel;
  };

  const publishOnce = (on: ConfirmChannel, m: ExchangeMessage): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      try {
        // Not `on.publish`: it makes each message's headers a prototype (amqp-publish.ts).
        publishConfirmed(
          on,
          {
            exchange,
            routingKey: '',
            content: m.body,
            headers: m.headers,
            messageId: m.id,
            contentType: m.contentType,
            mandatory: true,
          },
          (err: unknown) => (err ? reject(err) : resolve()),
        );
      } catch (err) {
        reject(err); // a channel closed under us throws at once
      }
    });

  return {
    async publish(m) {
      let unroutable = 0;
      let failingSince: number | undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          const on = await channelWithin(
            failingSince === undefined ? retryForMs : retryForMs - (Date.now() - failingSince),
          );
          if (on === undefined) throw new Error(`RabbitMQ unreachable for ${retryForMs} ms`);
          returned.delete(m.id);
          await publishOnce(on, m);
          failingSince = undefined;
        } catch (err) {
          if (closing) throw err;
          failingSince ??= Date.now();
          if (Date.now() - failingSince >= retryForMs) throw err;
          await sleep(backoffMs(attempt));
          continue;
        }
        if (!returned.delete(m.id)) return;
        if (++unroutable >= unroutableAttempts) {
          throw new UnroutableError(
            `no queue is bound to the exchange ${exchange}: is make dev (with RABBITMQ_URL) running?`,
          );
        }
        await sleep(backoffMs(unroutable));
      }
    },
    async close() {
      closing = true;
      await channel?.close().catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}
