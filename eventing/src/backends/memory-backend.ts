/**
 * In-process broker backend — FOR DEVELOPMENT ONLY, like Knative's InMemoryChannel: events live in
 * this process's memory and are lost when it stops. Same routing and acknowledgement semantics as the
 * RabbitMQ adapter: headers-exchange matching (`x-match: all`), at most `prefetch` unacknowledged
 * messages per consumer handled by `concurrency` workers, a message is removed only when its handler
 * resolves (or acks it) and requeued (at the head, marked redelivered) when the handler rejects.
 */
import type { CloudEvent } from '../../../functions/runtime/src/index.ts';
import { InFlight } from '../in-flight.ts';
import { matchesHeaders } from '../trigger-filter.ts';
import { eventHeaders } from '../wire.ts';
import {
  BackendError,
  type BrokerBackend,
  type ConsumeOptions,
  type ConsumerHandle,
  type MessageHandler,
  type Topology,
} from './backend.ts';
import { Workers } from './workers.ts';

interface Entry {
  readonly event: CloudEvent;
  redelivered: boolean;
}

interface MemoryConsumer {
  readonly prefetch: number;
  readonly workers: Workers;
  readonly handler: MessageHandler;
  inFlight: number;
  cancelled: boolean;
  readonly running: InFlight;
}

interface MemoryQueue {
  readonly messages: Entry[];
  /** Several consumers share a queue (dispatcher replicas); each takes up to its prefetch, in turn. */
  readonly consumers: MemoryConsumer[];
  next: number;
}

export class MemoryBackend implements BrokerBackend {
  readonly kind = 'memory' as const;
  readonly #bindings = new Map<string, { queue: string; args: Readonly<Record<string, string>> }[]>();
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #inFlight = new InFlight();
  #closed = false;

  async declare(topology: Topology): Promise<void> {
    for (const name of topology.exchanges) if (!this.#bindings.has(name)) this.#bindings.set(name, []);
    for (const q of topology.queues) {
      if (!this.#queues.has(q.name)) this.#queues.set(q.name, { messages: [], consumers: [], next: 0 });
      for (const b of q.bindings) {
        const list = this.#bindings.get(b.exchange);
        if (list === undefined) throw new BackendError(`exchange ${b.exchange} is not declared`);
        if (!list.some((x) => x.queue === q.name && sameArgs(x.args, b.args)))
          list.push({ queue: q.name, args: b.args });
      }
    }
  }

  async publish(exchange: string, event: CloudEvent): Promise<void> {
    if (this.#closed) throw new BackendError('broker is stopped');
    const bindings = this.#bindings.get(exchange);
    if (bindings === undefined) throw new BackendError(`exchange ${exchange} is not declared`);
    const headers = eventHeaders(event);
    const targets = new Set(bindings.filter((b) => matchesHeaders(b.args, headers)).map((b) => b.queue));
    for (const name of targets) {
      const queue = this.#queues.get(name);
      if (queue === undefined) continue;
      queue.messages.push({ event, redelivered: false });
      this.#pump(queue);
    }
  }

  async consume(queue: string, options: ConsumeOptions, handler: MessageHandler): Promise<ConsumerHandle> {
    const q = this.#queues.get(queue);
    if (q === undefined) throw new BackendError(`queue ${queue} is not declared`);
    const consumer: MemoryConsumer = {
      prefetch: options.prefetch,
      workers: new Workers(options.concurrency ?? options.prefetch),
      handler,
      inFlight: 0,
      cancelled: false,
      running: new InFlight(),
    };
    q.consumers.push(consumer);
    this.#pump(q);
    return {
      get held() {
        return consumer.inFlight;
      },
      cancel: async () => {
        consumer.cancelled = true;
        const i = q.consumers.indexOf(consumer);
        if (i !== -1) q.consumers.splice(i, 1);
        await consumer.running.settled();
      },
    };
  }

  async depth(queue: string): Promise<number> {
    return this.#queues.get(queue)?.messages.length ?? 0;
  }

  /** The next consumer with room, round robin (RabbitMQ spreads a queue over its consumers the same way). */
  #consumerWithRoom(q: MemoryQueue): MemoryConsumer | undefined {
    for (let k = 0; k < q.consumers.length; k++) {
      const c = q.consumers[(q.next + k) % q.consumers.length] as MemoryConsumer;
      if (c.inFlight < c.prefetch) {
        q.next = (q.next + k + 1) % q.consumers.length;
        return c;
      }
    }
    return undefined;
  }

  #pump(q: MemoryQueue): void {
    while (!this.#closed && q.messages.length > 0) {
      const c = this.#consumerWithRoom(q);
      if (c === undefined) return;
      const entry = q.messages.shift() as Entry;
      c.inFlight++;
      let acked = false;
      const delivery = {
        redelivered: entry.redelivered,
        ack: () => {
          acked = true;
        },
      };
      const run = c.workers
        .run(async () => {
          // Cancelled while it waited for a worker: back to the queue, as RabbitMQ requeues a closed channel's.
          if (c.cancelled) throw new BackendError('consumer cancelled');
          await c.handler(entry.event, delivery);
        })
        .then(
          () => undefined,
          () => {
            if (acked) return;
            entry.redelivered = true;
            q.messages.unshift(entry);
          },
        );
      c.running.enter();
      this.#inFlight.enter();
      void run.finally(() => {
        c.inFlight--;
        c.running.leave();
        this.#inFlight.leave();
        // Next turn: a synchronous re-pump inside a settling handler would deepen the stack per message.
        setImmediate(() => this.#pump(q));
      });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#inFlight.settled();
  }

  async destroy(topology: Topology): Promise<void> {
    for (const q of topology.queues) this.#queues.delete(q.name);
    for (const e of topology.exchanges) this.#bindings.delete(e);
  }
}

function sameArgs(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
