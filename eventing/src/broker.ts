/**
 * The broker's data plane, backend-agnostic: the topology the eventing-rabbitmq reconcilers create
 * for a Broker and its Triggers, and the dispatchers that drain it.
 *
 * Topology (names as upstream, with `instance` in place of the Kubernetes UIDs):
 *   exchange b.<ns>.<broker>.<instance>            every accepted event (headers exchange)
 *   queue    <ns>.<trigger>.<instance>              one per Trigger, bound x-match=all + filter attributes
 *   exchange t.<ns>.<trigger>.dlx.<instance>        per Trigger with its own deadLetterSink
 *   queue    t.<ns>.<trigger>.dlq.<instance>        → drained to that sink
 *   exchange b.<ns>.<broker>.dlx.<instance>         the Broker's deadLetterSink, for Triggers without delivery
 *   queue    b.<ns>.<broker>.dlq.<instance>
 *
 * Trigger dispatcher (pkg/dispatcher `dispatch`): deliver with retries; on success publish a reply event
 * back to the broker exchange; on failure publish the event with knativeerror* extensions to the
 * dead-letter exchange; ack only after that (upstream acks before publishing the dead letter; here a
 * failed dead-letter publish requeues the message instead of losing it).
 * Dead-letter dispatcher (`dispatchDLQ`): deliver to the sink with the same delivery settings; a sink that
 * still fails loses the event (logged at error), as upstream — hence the sink's min-scale 1.
 */
import type { CloudEvent, Logger } from '../../functions/runtime/src/index.ts';
import type { BrokerBackend, QueueSpec, Topology } from './backends/backend.ts';
import {
  type DeliveryConfig,
  deliver,
  deliveryConfig,
  KNATIVE_ERROR,
  knativeErrorData,
  withErrorExtensions,
} from './delivery.ts';
import type {
  BrokerManifest,
  Destination,
  EventingManifests,
  KReference,
  TriggerManifest,
} from './manifests.ts';

export type ResolveSubscriber = (ref: KReference, uri?: string) => string;

export interface BrokerNames {
  readonly exchange: string;
  readonly dlx: string;
  readonly dlq: string;
  triggerQueue(trigger: string): string;
  triggerDlx(trigger: string): string;
  triggerDlq(trigger: string): string;
}

export function brokerNames(
  broker: Pick<BrokerManifest, 'name' | 'namespace'>,
  instance: string,
): BrokerNames {
  const ns = broker.namespace;
  return {
    exchange: `b.${ns}.${broker.name}.${instance}`,
    dlx: `b.${ns}.${broker.name}.dlx.${instance}`,
    dlq: `b.${ns}.${broker.name}.dlq.${instance}`,
    triggerQueue: (t) => `${ns}.${t}.${instance}`,
    triggerDlx: (t) => `t.${ns}.${t}.dlx.${instance}`,
    triggerDlq: (t) => `t.${ns}.${t}.dlq.${instance}`,
  };
}

export interface TriggerRoute {
  readonly trigger: TriggerManifest;
  readonly queue: string;
  readonly subscriberUrl: string;
  readonly delivery: Readonly<DeliveryConfig>;
  /** Exchange failed events go to, and the sink it drains to; undefined = failed events are dropped. */
  readonly deadLetter: { readonly exchange: string; readonly sinkUrl: string } | undefined;
}

export interface DeadLetterRoute {
  /** `Trigger <name>` or `Broker <name>`. */
  readonly owner: string;
  readonly queue: string;
  readonly sinkUrl: string;
  readonly delivery: Readonly<DeliveryConfig>;
}

export interface BrokerPlan {
  readonly names: BrokerNames;
  readonly topology: Topology;
  readonly routes: readonly TriggerRoute[];
  readonly deadLetters: readonly DeadLetterRoute[];
}

export function resolveDestination(dest: Destination, resolve: ResolveSubscriber): string {
  if (dest.ref !== undefined) return resolve(dest.ref, dest.uri);
  if (dest.uri !== undefined) return dest.uri;
  throw new Error('destination has neither ref nor uri');
}

/** The queues, bindings and dispatchers the manifests ask for, as the trigger reconciler builds them. */
export function planBroker(
  manifests: Pick<EventingManifests, 'broker' | 'triggers'>,
  resolve: ResolveSubscriber,
  instance: string,
): BrokerPlan {
  const { broker, triggers } = manifests;
  const names = brokerNames(broker, instance);
  const exchanges = [names.exchange];
  const queues: QueueSpec[] = [];
  const deadLetters: DeadLetterRoute[] = [];
  const brokerSink = broker.delivery?.deadLetterSink;
  const brokerSinkUrl = brokerSink === undefined ? undefined : resolveDestination(brokerSink, resolve);
  if (brokerSinkUrl !== undefined) {
    exchanges.push(names.dlx);
    queues.push({
      name: names.dlq,
      bindings: [{ exchange: names.dlx, args: { 'x-knative-dlq': broker.name } }],
    });
    deadLetters.push({
      owner: `Broker ${broker.name}`,
      queue: names.dlq,
      sinkUrl: brokerSinkUrl,
      delivery: deliveryConfig(broker.delivery),
    });
  }
  const routes: TriggerRoute[] = triggers.map((t) => {
    // The Trigger's delivery replaces the Broker's entirely, dead-letter sink included.
    const spec = t.delivery ?? broker.delivery;
    let deadLetter: TriggerRoute['deadLetter'];
    if (t.delivery !== undefined) {
      if (t.delivery.deadLetterSink !== undefined) {
        const exchange = names.triggerDlx(t.name);
        const sinkUrl = resolveDestination(t.delivery.deadLetterSink, resolve);
        exchanges.push(exchange);
        queues.push({ name: names.triggerDlq(t.name), bindings: [{ exchange, args: {} }] });
        deadLetters.push({
          owner: `Trigger ${t.name}`,
          queue: names.triggerDlq(t.name),
          sinkUrl,
          delivery: deliveryConfig(t.delivery),
        });
        deadLetter = { exchange, sinkUrl };
      }
    } else if (brokerSinkUrl !== undefined) {
      deadLetter = { exchange: names.dlx, sinkUrl: brokerSinkUrl };
    }
    const queue = names.triggerQueue(t.name);
    queues.push({
      name: queue,
      bindings: [{ exchange: names.exchange, args: { ...t.filter, 'x-knative-trigger': t.name } }],
      ...(deadLetter === undefined ? {} : { deadLetterExchange: deadLetter.exchange }),
    });
    return {
      trigger: t,
      queue,
      subscriberUrl: resolveDestination(t.subscriber, resolve),
      delivery: deliveryConfig(spec),
      deadLetter,
    };
  });
  return { names, topology: { exchanges, queues, queueType: broker.queueType }, routes, deadLetters };
}

/** Runs the dispatchers of a plan on a backend. */
export class Dispatchers {
  readonly #backend: BrokerBackend;
  readonly #plan: BrokerPlan;
  readonly #log: Logger;
  readonly #abort = new AbortController();

  constructor(backend: BrokerBackend, plan: BrokerPlan, log: Logger) {
    this.#backend = backend;
    this.#plan = plan;
    this.#log = log;
  }

  async start(): Promise<void> {
    for (const route of this.#plan.routes) {
      await this.#backend.consume(route.queue, route.trigger.parallelism, (event) =>
        this.#dispatch(route, event),
      );
    }
    for (const dl of this.#plan.deadLetters) {
      // Upstream's DLQ dispatcher runs with the default parallelism (1).
      await this.#backend.consume(dl.queue, 1, (event) => this.#dispatchDeadLetter(dl, event));
    }
  }

  /** Aborts deliveries in progress (their messages are not acked, so they are redelivered). */
  abort(): void {
    this.#abort.abort();
  }

  async #dispatch(route: TriggerRoute, event: CloudEvent): Promise<void> {
    const t = route.trigger.name;
    const result = await deliver(route.subscriberUrl, event, route.delivery, {
      signal: this.#abort.signal,
      onInvalidReply: (m) =>
        this.#log.warn(
          `trigger ${t}: ${route.subscriberUrl} answered 2xx with an invalid CloudEvent, ignored: ${m}`,
        ),
    });
    const fields = {
      'event.action': 'deliver',
      'cloudevents.event_id': event.id,
      'cloudevents.event_type': event.type,
      'cloudevents.event_source': event.source,
      'sluice.trigger': t,
      'url.full': route.subscriberUrl,
      'http.response.status_code': result.status,
      'sluice.attempts': result.attempts.length,
    };
    if (result.ok) {
      this.#log.debug(`trigger ${t}: delivered ${event.type} ${event.id}`, fields);
      if (result.reply === undefined) return;
      try {
        await this.#backend.publish(this.#plan.names.exchange, result.reply);
        this.#log.debug(`trigger ${t}: reply ${result.reply.type} ${result.reply.id} published`, fields);
      } catch (err) {
        // Upstream: the reply could not go to the broker ingress → the original event is dead-lettered
        // with the subscriber as destination and the failure as knativeerrordata.
        await this.#deadLetter(
          route,
          withErrorExtensions(event, route.subscriberUrl, result.status, String(err)),
          fields,
        );
      }
      return;
    }
    const dead = withErrorExtensions(
      event,
      route.subscriberUrl,
      result.status,
      knativeErrorData(result.body),
    );
    await this.#deadLetter(route, dead, { ...fields, 'error.message': result.error });
  }

  async #deadLetter(route: TriggerRoute, event: CloudEvent, fields: Record<string, unknown>): Promise<void> {
    const t = route.trigger.name;
    const code = event.extensions[KNATIVE_ERROR.code];
    if (route.deadLetter === undefined) {
      this.#log.error(
        `trigger ${t}: ${event.type} ${event.id} failed (${code}) and is DROPPED: no deadLetterSink`,
        {
          ...fields,
          'event.action': 'drop',
        },
      );
      return;
    }
    await this.#backend.publish(route.deadLetter.exchange, event);
    this.#log.warn(
      `trigger ${t}: ${event.type} ${event.id} dead-lettered (${code}) → ${route.deadLetter.sinkUrl}`,
      {
        ...fields,
        'event.action': 'dead-letter',
      },
    );
  }

  async #dispatchDeadLetter(dl: DeadLetterRoute, event: CloudEvent): Promise<void> {
    // A DeliveryAbortedError (shutdown) propagates: the message is not acked and comes back later.
    const result = await deliver(dl.sinkUrl, event, dl.delivery, { signal: this.#abort.signal });
    if (result.ok) {
      if (result.reply !== undefined) await this.#backend.publish(this.#plan.names.exchange, result.reply);
      return;
    }
    this.#log.error(
      `${dl.owner}: dead-letter sink ${dl.sinkUrl} failed (${result.status}, ${result.error}); event ${event.type} ${event.id} is LOST, as upstream`,
      { 'event.action': 'dead-letter-lost', 'cloudevents.event_id': event.id, 'url.full': dl.sinkUrl },
    );
  }
}
