/**
 * The broker backend port: exchanges that route by headers, durable queues, confirmed publishing and
 * acknowledged consumption. Two adapters: `memory-backend.ts` (in-process, for development only, like
 * Knative's InMemoryChannel) and `rabbitmq-backend.ts` (amqplib, the topology eventing-rabbitmq creates).
 */
import type { CloudEvent } from '../../../functions/runtime/src/index.ts';
import type { QueueType } from '../manifests.ts';

export interface BindingSpec {
  readonly exchange: string;
  /** Binding arguments; `x-match: all` is added by the backend. */
  readonly args: Readonly<Record<string, string>>;
}

export interface QueueSpec {
  readonly name: string;
  readonly bindings: readonly BindingSpec[];
  /** Where RabbitMQ dead-letters a rejected message (the queue policy upstream sets). */
  readonly deadLetterExchange?: string;
}

export interface Topology {
  /** Headers exchanges, all durable. */
  readonly exchanges: readonly string[];
  readonly queues: readonly QueueSpec[];
  readonly queueType: QueueType;
}

/** One message handed to a handler. */
export interface Delivery {
  readonly redelivered: boolean;
  /**
   * Acknowledges the message now, before the handler settles (upstream acks a failed event before it
   * publishes the dead letter). Idempotent; after it, a rejecting handler no longer requeues.
   */
  ack(): void;
}

/** Handles one delivery; the message is acked when it resolves, requeued when it rejects. */
export type MessageHandler = (event: CloudEvent, delivery: Delivery) => Promise<void>;

export interface ConsumeOptions {
  /** Messages held unacknowledged (channel QoS). */
  readonly prefetch: number;
  /** Handlers running at once; the other held messages wait in order. @default prefetch */
  readonly concurrency?: number;
}

/** One consumer of a queue (a dispatcher replica). */
export interface ConsumerHandle {
  /** Messages this consumer holds unacknowledged (prefetched or being handled). */
  readonly held: number;
  /** Stops taking messages; resolves once its handlers have settled (held, unhandled ones go back to the queue). */
  cancel(): Promise<void>;
}

export interface BrokerBackend {
  readonly kind: 'memory' | 'rabbitmq';
  /** Declares exchanges, queues and bindings (idempotent). */
  declare(topology: Topology): Promise<void>;
  /** Resolves once the event is durably accepted (publisher confirm); rejects otherwise. */
  publish(exchange: string, event: CloudEvent): Promise<void>;
  /** Consumes with at most `prefetch` unacknowledged messages; survives reconnects and channel closes. */
  consume(queue: string, options: ConsumeOptions, handler: MessageHandler): Promise<ConsumerHandle>;
  /** Messages ready in a queue (not yet delivered to a consumer). */
  depth(queue: string): Promise<number>;
  /** Stops consuming; in-flight handlers are awaited up to the backend's grace period. */
  close(): Promise<void>;
  /** Deletes what `declare` created (tests). */
  destroy(topology: Topology): Promise<void>;
}

export class BackendError extends Error {
  override name = 'BackendError';
}
