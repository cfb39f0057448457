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

/** Slots before the head emptied this far are cut off the front of the array (amortised, no copy per ack). */
const COMPACT_AFTER = 1024;

export class AckBatcher<M extends Tagged> {
  readonly #channel: AckChannel<M>;
  readonly #schedule: (flush: () => void) => void;
  /**
   * Delivered and not yet acked or nacked on the channel, at `deliveryTag - #base`: a channel's delivery tags
   * rise by one per delivery (AMQP 0-9-1 basic.deliver), so the slots are in tag order and a lookup is an
   * index. A settled delivery's slot is emptied. An array rather than a Map keyed by tag: a long-lived Map
   * whose entries churn keeps every message it held alive until a full collection (in-flight.ts). While an
   * unsettled delivery holds the head, the emptied slots behind it stay (8 bytes a delivery) until it settles.
   */
  #slots: (Unsettled<M> | undefined)[] = [];
  /** The delivery tag of `#slots[0]`. */
  #base = 0;
  /** Every slot before it is empty. */
  #head = 0;
  /** Delivered with a tag at or below one seen before (not how a channel numbers them): kept by tag. */
  readonly #strays = new Map<number, Unsettled<M>>();
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
    const tag = message.fields.deliveryTag;
    const entry = { message, acked: false };
    if (this.#head === this.#slots.length) {
      // Nothing unsettled: the window starts again at this tag.
      this.#slots.length = 0;
      this.#head = 0;
      this.#base = tag;
    }
    const i = tag - this.#base;
    if (i < this.#slots.length) {
      this.#strays.set(tag, entry);
      return;
    }
    // A tag past the next (another consumer's on this channel): the slots between are not ours, left empty.
    while (this.#slots.length < i) this.#slots.push(undefined);
    this.#slots.push(entry);
  }

  /** The unsettled entry of `tag`, or undefined. */
  #entry(tag: number): Unsettled<M> | undefined {
    const i = tag - this.#base;
    const slot = i >= this.#head && i < this.#slots.length ? this.#slots[i] : undefined;
    return slot ?? this.#strays.get(tag);
  }

  /** Empties the slot (or stray) of `tag`; true if it held an unsettled delivery. */
  #settle(tag: number): boolean {
    const i = tag - this.#base;
    if (i >= this.#head && i < this.#slots.length && this.#slots[i] !== undefined) {
      this.#slots[i] = undefined;
      return true;
    }
    return this.#strays.delete(tag);
  }

  /** Acks `message` with this turn's others. */
  ack(message: M): void {
    const entry = this.#entry(message.fields.deliveryTag);
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
    if (!this.#settle(message.fields.deliveryTag)) return;
    safe(() => this.#channel.nack(message, false, requeue));
  }

  /** Sends the acks waiting: one `multiple` for the settled head, the rest one by one. */
  flush(): void {
    if (this.#acked.length === 0) return;
    const slots = this.#slots;
    let last: Unsettled<M> | undefined;
    let count = 0;
    let head = this.#head;
    for (; head < slots.length; head++) {
      const entry = slots[head];
      if (entry === undefined) continue;
      if (!entry.acked) break;
      slots[head] = undefined;
      last = entry;
      count++;
    }
    this.#head = head;
    const settledHead = last;
    if (settledHead !== undefined) safe(() => this.#channel.ack(settledHead.message, count > 1));
    for (const entry of this.#acked) {
      if (this.#settle(entry.message.fields.deliveryTag)) safe(() => this.#channel.ack(entry.message, false));
    }
    this.#acked = [];
    if (this.#head >= COMPACT_AFTER && this.#head * 2 >= slots.length) {
      slots.splice(0, this.#head);
      this.#base += this.#head;
      this.#head = 0;
    }
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel died with its connection: the message is requeued by RabbitMQ and delivered again.
  }
}
