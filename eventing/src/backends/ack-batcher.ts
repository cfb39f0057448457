/**
 * Acknowledgements of one consumer channel, sent once per event-loop turn: the settled deliveries at the
 * head of the channel's unsettled ones go as one `basic.ack` with `multiple` (RabbitMQ acks every delivery
 * tag up to it), the other settled ones one by one, as before. A dispatcher's deliveries settle in bursts
 * (a function that commits a group answers its events together): one frame instead of a frame per delivery
 * for RabbitMQ to parse (frame-batching.ts puts a pass's frames in one socket write; this cuts the frames).
 *
 * `multiple` covers every unsettled tag up to the one named, so it is only sent over tags that are all
 * settled here: a nack (requeue) leaves the set at once and is sent at once, before any later `multiple`.
 * Nothing waits on an unsettled head: the settled ones behind it go one by one in the same turn, so a slow
 * or retrying delivery never holds back the acks, nor the prefetch window, of the others.
 */

/** What the batcher needs of an amqplib message. */
export interface Tagged {
  readonly fields: { readonly deliveryTag: number };
}

/** What the batcher needs of an amqplib channel (`ack`/`nack` throw once the channel is closed). */
export interface AckChannel<M extends Tagged> {
  ack(message: M, allUpTo?: boolean): void;
  nack(message: M, allUpTo?: boolean, requeue?: boolean): void;
}

interface Unsettled<M> {
  readonly message: M;
  acked: boolean;
}

export class AckBatcher<M extends Tagged> {
  readonly #channel: AckChannel<M>;
  readonly #schedule: (flush: () => void) => void;
  /** Delivered and not yet acked or nacked on the channel, in delivery-tag order (a Map keeps insertion order). */
  readonly #unsettled = new Map<number, Unsettled<M>>();
  /** Acked since the last flush. */
  #acked: Unsettled<M>[] = [];
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** @param schedule when to flush the acks of this turn; @default setImmediate (after the turn's I/O callbacks) */
  constructor(channel: AckChannel<M>, schedule: (flush: () => void) => void = setImmediate) {
    this.#channel = channel;
    this.#schedule = schedule;
  }

  /** A message the channel delivered: from now on until it is acked or nacked, no `multiple` passes it. */
  delivered(message: M): void {
    this.#unsettled.set(message.fields.deliveryTag, { message, acked: false });
  }

  /** Acks `message` with this turn's others. */
  ack(message: M): void {
    const entry = this.#unsettled.get(message.fields.deliveryTag);
    if (entry === undefined || entry.acked) return;
    entry.acked = true;
    this.#acked.push(entry);
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(this.#flush);
    }
  }

  /** Nacks `message` now (requeued when `requeue`). */
  nack(message: M, requeue: boolean): void {
    const tag = message.fields.deliveryTag;
    if (!this.#unsettled.delete(tag)) return;
    safe(() => this.#channel.nack(message, false, requeue));
  }

  /** Sends the acks waiting: one `multiple` for the settled head, the rest one by one. */
  flush(): void {
    if (this.#acked.length === 0) return;
    let last: Unsettled<M> | undefined;
    let count = 0;
    for (const [tag, entry] of this.#unsettled) {
      if (!entry.acked) break;
      this.#unsettled.delete(tag);
      last = entry;
      count++;
    }
    const head = last;
    if (head !== undefined) safe(() => this.#channel.ack(head.message, count > 1));
    for (const entry of this.#acked) {
      if (this.#unsettled.delete(entry.message.fields.deliveryTag))
        safe(() => this.#channel.ack(entry.message, false));
    }
    this.#acked = [];
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel died with its connection: the message is requeued by RabbitMQ and delivered again.
  }
}
