/**
 * A persistent, confirmed publish through amqplib, without the `Object.create(headers)` of its `publish`.
 *
 * amqplib's `publish` (lib/api_args.js `Args.publish`, 2.x) builds every message's header table as
 * `Object.create(options.headers)`, so the caller's headers object becomes a prototype: V8 gives it a map of
 * its own, allocated in the old generation, and that map keeps the object — and the strings it holds — alive
 * through the young generation's collections until the next full one: amqplib alone, publishing with five
 * headers, promoted 5.5 % of what it allocated, 0.29 KB a message, and 0.04 KB this way (docs/performance.md,
 * "The pinned core, and what the broker's collector promotes"). This hands amqplib the fields-and-properties object `Args.publish` would return, with the
 * headers as given, through the two calls `ConfirmChannel#publish` makes (`sendMessage`, then
 * `pushConfirmCallback`): the same frames on the wire (amqp-publish.test.ts compares the bytes). A channel
 * without those methods (another amqplib) gets the public `publish`, as before.
 */
import type { ConfirmChannel } from 'amqplib';

export interface ConfirmedMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly messageId: string;
  readonly contentType?: string | undefined;
  /** Returned by RabbitMQ when no queue takes it (amqplib's `mandatory`). @default false */
  readonly mandatory?: boolean;
}

/** The two ConfirmChannel methods its `publish` is made of (amqplib 2.x, lib/channel.js and channel_model.js). */
interface PublishInternals {
  sendMessage(fields: object, properties: object, content: Buffer): boolean;
  pushConfirmCallback(callback: (err: unknown) => void): void;
}

const hasPublishInternals = (channel: object): channel is PublishInternals =>
  typeof (channel as Partial<PublishInternals>).sendMessage === 'function' &&
  typeof (channel as Partial<PublishInternals>).pushConfirmCallback === 'function';

/**
 * Publishes `m` persistent (delivery mode 2); `confirmed` is called once RabbitMQ confirms it (null) or nacks
 * it (an error). Returns what `publish` returns (false: the channel's buffer is full). Throws as `publish`
 * throws, e.g. on a closed channel.
 */
export function publishConfirmed(
  channel: ConfirmChannel,
  m: ConfirmedMessage,
  confirmed: (err: unknown) => void,
): boolean {
  if (!hasPublishInternals(channel)) {
    return channel.publish(
      m.exchange,
      m.routingKey,
      m.content,
      {
        persistent: true,
        mandatory: m.mandatory === true,
        headers: m.headers,
        messageId: m.messageId,
        ...(m.contentType === undefined ? {} : { contentType: m.contentType }),
      },
      confirmed,
    );
  }
  const fields = publishFields(m);
  const result = channel.sendMessage(fields, fields, m.content);
  channel.pushConfirmCallback(confirmed);
  return result;
}

/**
 * What `Args.publish(exchange, routingKey, options)` returns for a persistent message with these options and no
 * CC or BCC: basic.publish's fields and the basic properties in one object, the headers as given (one shape
 * for every message, so amqplib's encoders see one map).
 */
export function publishFields(m: ConfirmedMessage): Record<string, unknown> {
  return {
    exchange: m.exchange,
    routingKey: m.routingKey,
    mandatory: m.mandatory === true,
    immediate: false,
    ticket: undefined,
    contentType: m.contentType,
    contentEncoding: undefined,
    headers: m.headers,
    deliveryMode: 2,
    priority: undefined,
    correlationId: undefined,
    replyTo: undefined,
    expiration: undefined,
    messageId: m.messageId,
    timestamp: undefined,
    type: undefined,
    userId: undefined,
    appId: undefined,
    clusterId: undefined,
  };
}
