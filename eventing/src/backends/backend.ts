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

/** Handles one delivery; the message is acked when it resolves, requeued when it rejects. */
export type MessageHandler = (event: CloudEvent, info: { readonly redelivered: boolean }) => Promise<void>;

export interface BrokerBackend {
  readonly kind: 'memory' | 'rabbitmq';
  /** Declares exchanges, queues and bindings (idempotent). */
  declare(topology: Topology): Promise<void>;
  /** Resolves once the event is durably accepted (publisher confirm); rejects otherwise. */
  publish(exchange: string, event: CloudEvent): Promise<void>;
  /** Consumes with at most `prefetch` unacknowledged messages; survives reconnects. */
  consume(queue: string, prefetch: number, handler: MessageHandler): Promise<void>;
  /** Stops consuming; in-flight handlers are awaited up to the backend's grace period. */
  close(): Promise<void>;
  /** Deletes what `declare` created (tests). */
  destroy(topology: Topology): Promise<void>;
}

export class BackendError extends Error {
  override name = 'BackendError';
}
