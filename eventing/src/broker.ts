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
 * Trigger dispatcher (eventing-rabbitmq knative-v1.22.1 pkg/dispatcher `dispatch`): deliver with
 * retries; an answer carrying a CloudEvent is a reply, sent back into the broker; a failure is published
 * with knativeerror* extensions to the dead-letter exchange. What counts as a failure, the order of ack
 * and dead-letter publish, how replies travel, time stamps, trace headers and prefetch follow the data
 * plane profile (data-plane.ts): upstream's by default.
 * Dead-letter dispatcher (`dispatchDLQ`): deliver to the sink with the same delivery settings; a sink that
 * still fails loses the event (logged at error), as upstream — hence the sink's min-scale 1.
 */
import type { CloudEvent, LogFields, Logger } from '../../functions/runtime/src/index.ts';
import {
  CAUSATION_FIELD,
  CORRELATION_FIELD,
  correlationOf,
  DEAD_LETTERED_HEADER,
} from '../../functions/runtime/src/index.ts';
import type { BrokerBackend, ConsumerHandle, Delivery, QueueSpec, Topology } from './backends/backend.ts';
import { type DataPlaneBehaviour, prefetchOf } from './data-plane.ts';
import {
  ConnectionPool,
  type DeliveryConfig,
  type DeliveryResult,
  deliver,
  deliveryConfig,
  isRetriable,
  KNATIVE_ERROR,
  knativeErrorData,
  type LocalEndpoint,
  withErrorExtensions,
  withSendTime,
} from './delivery.ts';
import type {
  BrokerManifest,
  Destination,
  EventingManifests,
  KReference,
  TriggerManifest,
} from './manifests.ts';
import { type DispatchTrace, traceAtDispatch, traceOnDeadLetter } from './trace-context.ts';
import {
  ACCEPTED_VIA,
  type OnAccepted,
  type OnTrail,
  TRAIL_OUTCOME,
  type TrailRecord,
  trailAccepted,
  trailEvent,
  trailReply,
} from './trail.ts';

export type ResolveSubscriber = (ref: KReference, uri?: string) => string;

/** A trigger name the broker does not have. */
export class UnknownTriggerError extends Error {
  override name = 'UnknownTriggerError';
  constructor(trigger: string) {
    super(`no trigger ${trigger}`);
  }
}

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

/**
 * Knative Service → the dead-letter sink URL of the Triggers that deliver to it: what the function is
 * given as SLUICE_DEAD_LETTER_SINK to keep the events it refuses for good (upstream acks refusals).
 * A Service whose Triggers name different sinks gets the first one (see deadLetterSinkWarnings).
 */
export function deadLetterSinksOf(plan: Pick<BrokerPlan, 'routes'>): Map<string, string> {
  const sinks = new Map<string, string>();
  for (const r of plan.routes) {
    const ref = r.trigger.subscriber.ref;
    if (ref?.kind !== 'Service' || r.deadLetter === undefined || sinks.has(ref.name)) continue;
    sinks.set(ref.name, r.deadLetter.sinkUrl);
  }
  return sinks;
}

/** Services whose Triggers disagree about the dead-letter sink, or have none. */
export function deadLetterSinkWarnings(plan: Pick<BrokerPlan, 'routes'>): string[] {
  const chosen = deadLetterSinksOf(plan);
  const warnings: string[] = [];
  for (const r of plan.routes) {
    const ref = r.trigger.subscriber.ref;
    if (ref?.kind !== 'Service') continue;
    const sink = chosen.get(ref.name);
    if (r.deadLetter === undefined)
      warnings.push(
        `${r.trigger.file}: Trigger ${r.trigger.name} has no dead-letter sink: events ${ref.name} refuses or that fail for good are lost`,
      );
    else if (sink !== r.deadLetter.sinkUrl)
      warnings.push(
        `${r.trigger.file}: Trigger ${r.trigger.name} names another dead-letter sink than ${ref.name}'s other Triggers; ${ref.name} keeps its refusals in ${sink}`,
      );
  }
  return warnings;
}

export interface DispatchersOptions {
  readonly behaviour: Readonly<DataPlaneBehaviour>;
  /** Told the outcome of every delivery (trail.ts): `make try` and the console read what became of events. */
  readonly onTrail?: OnTrail;
  /** Told of every reply the dispatchers publish straight into the exchange (the sluice data plane). */
  readonly onAccepted?: OnAccepted;
  /** Where replies are POSTed when `behaviour.replies` is `ingress` (upstream's BROKER_INGRESS_URL). */
  readonly replyUrl: () => string;
  /** That URL answered in process, when it is this broker's own ingress (delivery.ts `local`). */
  readonly replyLocal?: LocalEndpoint;
}

/** Runs the dispatchers of a plan on a backend. */
export class Dispatchers {
  readonly #backend: BrokerBackend;
  readonly #plan: BrokerPlan;
  readonly #log: Logger;
  /** Whether debug lines are written (a logger without `enabled` is asked to write them all). */
  readonly #debug: boolean;
  readonly #behaviour: Readonly<DataPlaneBehaviour>;
  readonly #replyUrl: () => string;
  readonly #replyLocal: LocalEndpoint | undefined;
  readonly #onTrail: OnTrail | undefined;
  readonly #onAccepted: OnAccepted | undefined;
  readonly #abort = new AbortController();
  /**
   * Keep-alive connections per trigger, as many as its dispatcher's replicas × parallelism can use at
   * once, so a delivery never opens a new one at saturation (upstream's Go client keeps 2 idle connections
   * per host and dials for most deliveries under load; undici hands a connection that just answered to the
   * next request one event-loop turn later). Replies and dead letters share one pool.
   */
  readonly #pools = new Map<string, ConnectionPool>();
  readonly #sharedPool = new ConnectionPool();

  constructor(backend: BrokerBackend, plan: BrokerPlan, log: Logger, options: DispatchersOptions) {
    this.#backend = backend;
    this.#plan = plan;
    this.#log = log;
    this.#debug = log.enabled?.('debug') ?? true;
    this.#behaviour = options.behaviour;
    this.#replyUrl = options.replyUrl;
    this.#replyLocal = options.replyLocal;
    this.#onTrail = options.onTrail;
    this.#onAccepted = options.onAccepted;
  }

  /** One record per (trigger, event) outcome; an observer's failure never touches delivery. */
  #trail(
    route: TriggerRoute,
    event: CloudEvent,
    result: Pick<DeliveryResult, 'status' | 'attempts'>,
    outcome: Pick<TrailRecord, 'outcome'> &
      Partial<
        Pick<TrailRecord, 'reply' | 'deadLetterSink' | 'error' | 'knativeErrorCode' | 'knativeErrorData'>
      >,
  ): void {
    if (this.#onTrail === undefined) return;
    const ref = route.trigger.subscriber.ref;
    try {
      this.#onTrail({
        kind: 'delivery',
        time: new Date().toISOString(),
        trigger: route.trigger.name,
        ...(ref?.kind === 'Service' ? { subscriber: ref.name } : {}),
        ...trailEvent(event),
        status: result.status,
        attempts: result.attempts.length,
        attemptLog: result.attempts,
        ...outcome,
      });
    } catch (err) {
      this.#log.warn(`trail observer failed: ${String(err)}`);
    }
  }

  #accepted(reply: CloudEvent): void {
    if (this.#onAccepted === undefined) return;
    try {
      this.#onAccepted(trailAccepted(reply, ACCEPTED_VIA.reply));
    } catch (err) {
      this.#log.warn(`trail observer failed: ${String(err)}`);
    }
  }

  /** Trigger name → its dispatcher's replicas (one consumer each, as one pod each on the cluster). */
  readonly #replicas = new Map<string, ConsumerHandle[]>();

  async start(): Promise<void> {
    for (const route of this.#plan.routes) {
      this.#replicas.set(route.trigger.name, [await this.#consumeFor(route)]);
    }
    for (const dl of this.#plan.deadLetters) {
      // Upstream's DLQ dispatcher runs with the default parallelism (1).
      await this.#backend.consume(
        dl.queue,
        { prefetch: prefetchOf(this.#behaviour, 1), concurrency: 1 },
        (event, delivery) => this.#dispatchDeadLetter(dl, event, delivery),
      );
    }
  }

  #consumeFor(route: TriggerRoute): Promise<ConsumerHandle> {
    const parallelism = route.trigger.parallelism;
    return this.#backend.consume(
      route.queue,
      { prefetch: prefetchOf(this.#behaviour, parallelism), concurrency: parallelism },
      (event, delivery) => this.#dispatch(route, event, delivery),
    );
  }

  #poolFor(route: TriggerRoute): ConnectionPool {
    let pool = this.#pools.get(route.trigger.name);
    if (pool === undefined) {
      pool = new ConnectionPool(route.trigger.parallelism);
      this.#pools.set(route.trigger.name, pool);
    }
    return pool;
  }

  /** How many replicas a trigger's dispatcher runs, and the messages they hold unacknowledged. */
  replicasOf(trigger: string): { readonly replicas: number; readonly held: number } {
    const list = this.#replicas.get(trigger) ?? [];
    return { replicas: list.length, held: list.reduce((n, c) => n + c.held, 0) };
  }

  /**
   * Runs `replicas` copies of a trigger's dispatcher (KEDA's scale of the `<trigger>-dispatcher` Deployment):
   * each its own consumer with the trigger's prefetch and parallelism. A replica removed finishes what it
   * handles; what it held unhandled goes back to the queue. While the trigger is paused the count is only
   * remembered for its resume (KEDA's `autoscaling.keda.sh/paused`: nothing scales a paused dispatcher).
   */
  async scale(trigger: string, replicas: number): Promise<void> {
    if (this.#resumeTo.has(trigger)) {
      this.#routeOf(trigger);
      this.#resumeTo.set(trigger, Math.max(1, replicas));
      return;
    }
    await this.#scaleNow(trigger, replicas);
  }

  async #scaleNow(trigger: string, replicas: number): Promise<void> {
    const route = this.#routeOf(trigger);
    const list = this.#replicas.get(trigger) as ConsumerHandle[];
    while (list.length < replicas) list.push(await this.#consumeFor(route));
    const removed = list.splice(Math.max(0, replicas));
    this.#poolFor(route).resize(Math.max(1, replicas) * route.trigger.parallelism);
    await Promise.all(removed.map((c) => c.cancel()));
  }

  #routeOf(trigger: string): TriggerRoute {
    const route = this.#plan.routes.find((r) => r.trigger.name === trigger);
    if (route === undefined || !this.#replicas.has(trigger)) throw new UnknownTriggerError(trigger);
    return route;
  }

  /** Paused trigger → the replicas it resumes with. */
  readonly #resumeTo = new Map<string, number>();

  isPaused(trigger: string): boolean {
    return this.#resumeTo.has(trigger);
  }

  /**
   * Stops delivering a trigger's events: its dispatcher scaled to 0 (on a cluster, `kubectl scale
   * deployment/<trigger>-dispatcher --replicas=0`). The queue keeps receiving and keeps every message; the
   * deliveries in progress finish, what the replicas held unhandled goes back to the queue. Idempotent.
   */
  async pause(trigger: string): Promise<void> {
    this.#routeOf(trigger);
    if (this.#resumeTo.has(trigger)) return;
    this.#resumeTo.set(trigger, Math.max(1, this.replicasOf(trigger).replicas));
    await this.#scaleNow(trigger, 0);
    this.#log.info(`trigger ${trigger}: paused (dispatcher scaled to 0; its queue keeps the events)`, {
      'event.action': 'trigger-paused',
      'sluice.trigger': trigger,
    });
  }

  /** Delivers again, with the replicas it had (or KEDA asked for meanwhile). Idempotent. */
  async resume(trigger: string): Promise<void> {
    this.#routeOf(trigger);
    const replicas = this.#resumeTo.get(trigger);
    if (replicas === undefined) return;
    this.#resumeTo.delete(trigger);
    await this.#scaleNow(trigger, replicas);
    this.#log.info(
      `trigger ${trigger}: resumed (${replicas} dispatcher replica${replicas === 1 ? '' : 's'})`,
      {
        'event.action': 'trigger-resumed',
        'sluice.trigger': trigger,
        'sluice.replicas': replicas,
      },
    );
  }

  /** Aborts deliveries in progress (their messages are not acked, so they are redelivered). */
  abort(): void {
    this.#abort.abort();
    for (const pool of [...this.#pools.values(), this.#sharedPool]) void pool.destroy();
  }

  /** The event as this data plane sends it, and the HTTP headers that go with it. */
  #outgoing(event: CloudEvent): DispatchTrace {
    const trace = this.#behaviour.traceContext === 'http' ? traceAtDispatch(event) : { event, headers: {} };
    return this.#behaviour.stampTime ? { ...trace, event: withSendTime(trace.event) } : trace;
  }

  /** pkg/dispatcher `dispatch`, or its sluice variant (see data-plane.ts). */
  async #dispatch(route: TriggerRoute, received: CloudEvent, delivery: Delivery): Promise<void> {
    const t = route.trigger.name;
    const out = this.#outgoing(received);
    // Upstream dead-letters the event as parsed (no time stamp, no trace extensions; the span's headers).
    const original = this.#behaviour.traceContext === 'http' ? out.event : received;
    const { event: sent, headers } = out;
    const result = await deliver(route.subscriberUrl, sent, route.delivery, {
      signal: this.#abort.signal,
      pool: this.#poolFor(route),
      headers,
      onInvalidReply: (m) =>
        this.#log.warn(
          `trigger ${t}: ${route.subscriberUrl} answered with an invalid CloudEvent, ignored: ${m}`,
        ),
    });
    // Built only for a line that is written: most deliveries write none (the delivered line is debug).
    const fields = (): LogFields => ({
      ...eventLogFields(received),
      'event.action': 'deliver',
      'sluice.trigger': t,
      'url.full': route.subscriberUrl,
      'http.response.status_code': result.status,
      'sluice.attempts': result.attempts.length,
    });
    const kept = result.headers[DEAD_LETTERED_HEADER] !== undefined;
    const failed =
      isRetriable(result.status) || (!result.ok && this.#behaviour.refusal === 'dead-letter' && !kept);
    if (failed) {
      const data = this.#behaviour.errorData ? knativeErrorData(result.body) : undefined;
      const dead = withErrorExtensions(
        this.#forDeadLetter(original, headers),
        route.subscriberUrl,
        result.status,
        data,
      );
      const kept = await this.#deadLetter(route, dead, delivery, {
        ...fields(),
        'error.message': result.error,
      });
      this.#trail(route, received, result, {
        outcome: kept ? TRAIL_OUTCOME.deadLettered : TRAIL_OUTCOME.lost,
        ...(kept && route.deadLetter !== undefined ? { deadLetterSink: route.deadLetter.sinkUrl } : {}),
        knativeErrorCode: result.status,
        ...(data === undefined || data === '' ? {} : { knativeErrorData: data }),
        ...(result.error === undefined ? {} : { error: result.error }),
      });
      return;
    }
    if (!result.ok) {
      this.#log.info(
        kept
          ? `trigger ${t}: ${route.subscriberUrl} refused ${received.type} ${received.id} (${result.status}) and kept it in its dead-letter sink`
          : `trigger ${t}: ${route.subscriberUrl} refused ${received.type} ${received.id} (${result.status}): acked as delivered, as upstream (nothing is dead-lettered)`,
        { ...fields(), 'event.action': kept ? 'refused-kept' : 'refused-acked' },
      );
    } else if (this.#debug)
      this.#log.debug(`trigger ${t}: delivered ${received.type} ${received.id}`, fields());
    // Upstream takes a reply from any answer it counts as success; the sluice profile from 2xx only.
    const reply = result.ok || this.#behaviour.refusal === 'ack' ? result.reply : undefined;
    const outcome = result.ok
      ? TRAIL_OUTCOME.delivered
      : kept
        ? TRAIL_OUTCOME.refusedKept
        : TRAIL_OUTCOME.refusedAcked;
    if (reply === undefined) {
      this.#trail(route, received, result, { outcome });
      return;
    }
    const problem = await this.#publishReply(reply, route.delivery, headers);
    if (problem === undefined) {
      if (this.#debug)
        this.#log.debug(`trigger ${t}: reply ${reply.type} ${reply.id} published`, {
          ...fields(),
          'event.action': 'reply',
        });
      this.#trail(route, received, result, { outcome, reply: trailReply(reply, true) });
      return;
    }
    // Upstream: the reply could not be sent → the original event is dead-lettered with the
    // subscriber as destination and the subscriber's status as code (knativeerrordata does not survive).
    const data = this.#behaviour.errorData ? problem : undefined;
    const dead = withErrorExtensions(
      this.#forDeadLetter(original, headers),
      route.subscriberUrl,
      result.status,
      data,
    );
    const deadLettered = await this.#deadLetter(route, dead, delivery, {
      ...fields(),
      'event.reason': 'reply-not-published',
      'error.message': problem,
    });
    this.#trail(route, received, result, {
      outcome: deadLettered ? TRAIL_OUTCOME.deadLettered : TRAIL_OUTCOME.lost,
      reply: trailReply(reply, false),
      ...(deadLettered && route.deadLetter !== undefined ? { deadLetterSink: route.deadLetter.sinkUrl } : {}),
      knativeErrorCode: result.status,
      ...(data === undefined || data === '' ? {} : { knativeErrorData: data }),
      error: problem,
    });
  }

  #forDeadLetter(event: CloudEvent, headers: Readonly<Record<string, string>>): CloudEvent {
    return this.#behaviour.traceContext === 'http' ? traceOnDeadLetter(event, headers) : event;
  }

  /** Sends a reply back into the broker; the failure text, or undefined once it is in. */
  async #publishReply(
    reply: CloudEvent,
    delivery: Readonly<DeliveryConfig>,
    headers: Readonly<Record<string, string>>,
  ): Promise<string | undefined> {
    if (this.#behaviour.replies === 'exchange') {
      try {
        await this.#backend.publish(this.#plan.names.exchange, reply);
        this.#accepted(reply);
        return undefined;
      } catch (err) {
        return String(err);
      }
    }
    // Upstream: `ceClient.Send` to BROKER_INGRESS_URL with the trigger's retries; success is any
    // answer SelectiveRetry does not retry (an ingress 400 loses the reply silently, as there).
    const url = this.#replyUrl();
    const sent = await deliver(url, this.#behaviour.stampTime ? withSendTime(reply) : reply, delivery, {
      signal: this.#abort.signal,
      pool: this.#sharedPool,
      headers,
      ...(this.#replyLocal === undefined ? {} : { local: this.#replyLocal }),
    });
    if (!isRetriable(sent.status)) {
      if (!sent.ok)
        this.#log.warn(
          `reply ${reply.type} ${reply.id} refused by the broker ingress (${sent.status}): lost, as upstream`,
          {
            ...eventLogFields(reply),
            'event.action': 'reply-refused',
            'http.response.status_code': sent.status,
          },
        );
      return undefined;
    }
    return `failed to deliver the reply to ${url}: ${sent.error}`;
  }

  async #deadLetter(
    route: TriggerRoute,
    event: CloudEvent,
    delivery: Delivery,
    fields: Record<string, unknown>,
  ): Promise<boolean> {
    const t = route.trigger.name;
    const code = event.extensions[KNATIVE_ERROR.code];
    if (route.deadLetter === undefined) {
      this.#log.error(
        `trigger ${t}: ${event.type} ${event.id} failed (${code}) and is DROPPED: no deadLetterSink`,
        { ...fields, 'event.action': 'drop' },
      );
      return false;
    }
    if (this.#behaviour.deadLetterOrder === 'ack-first') {
      // Upstream acks first: a dead letter that cannot be published is gone.
      delivery.ack();
      try {
        await this.#backend.publish(route.deadLetter.exchange, event);
      } catch (err) {
        this.#log.error(
          `trigger ${t}: ${event.type} ${event.id} failed (${code}) and its dead letter could not be published: LOST, as upstream (${String(err)})`,
          { ...fields, 'event.action': 'dead-letter-lost' },
        );
        return false;
      }
    } else await this.#backend.publish(route.deadLetter.exchange, event);
    this.#log.warn(
      `trigger ${t}: ${event.type} ${event.id} dead-lettered (${code}) → ${route.deadLetter.sinkUrl}`,
      {
        ...fields,
        'event.action': 'dead-letter',
      },
    );
    return true;
  }

  /** pkg/dispatcher `dispatchDLQ`: deliver to the sink; a sink that keeps failing loses the event. */
  async #dispatchDeadLetter(dl: DeadLetterRoute, received: CloudEvent, _delivery: Delivery): Promise<void> {
    // A DeliveryAbortedError (shutdown) propagates: the message is not acked and comes back later.
    const { event, headers } = this.#outgoing(received);
    const result = await deliver(dl.sinkUrl, event, dl.delivery, {
      signal: this.#abort.signal,
      pool: this.#sharedPool,
      headers,
    });
    const failed = isRetriable(result.status) || (!result.ok && this.#behaviour.refusal === 'dead-letter');
    if (!failed) {
      const reply = result.ok || this.#behaviour.refusal === 'ack' ? result.reply : undefined;
      if (reply !== undefined) {
        const problem = await this.#publishReply(reply, dl.delivery, headers);
        if (problem !== undefined)
          this.#log.warn(`${dl.owner}: reply of the dead-letter sink lost: ${problem}`);
      }
      return;
    }
    this.#log.error(
      `${dl.owner}: dead-letter sink ${dl.sinkUrl} failed (${result.status}, ${result.error}); event ${received.type} ${received.id} is LOST, as upstream`,
      { ...eventLogFields(received), 'event.action': 'dead-letter-lost', 'url.full': dl.sinkUrl },
    );
  }
}

/**
 * The ids every broker log line about an event carries, as the functions' lines do (joinable): its id, its flow
 * (correlation), the event that caused it (causation) and its trace, so Kibana rebuilds an event's tree from the
 * lines alone (docs/observability.md, "An event's tree from the logs").
 */
export function eventLogFields(event: CloudEvent): Record<string, unknown> {
  const { causationId, traceId } = trailEvent(event);
  return {
    'event.id': event.id,
    'cloudevents.event_id': event.id,
    'cloudevents.event_type': event.type,
    'cloudevents.event_source': event.source,
    [CORRELATION_FIELD]: correlationOf(event),
    ...(causationId === undefined ? {} : { [CAUSATION_FIELD]: causationId }),
    ...(traceId === undefined ? {} : { 'trace.id': traceId }),
  };
}
