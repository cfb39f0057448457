/**
 * sluice eventing — the Knative Broker (class RabbitMQBroker) data plane, run locally from the same
 * manifests the cluster applies (eventing/manifests/). See docs/eventing.md.
 *
 * ```ts
 * import { startBroker } from './index.ts';
 * const broker = await startBroker({
 *   resolveSubscriber: (ref, uri) => `http://127.0.0.1:${portOf(ref.name)}${uri ?? '/'}`, // required
 *   root,                    // repo root; manifests from <root>/eventing/manifests, functions from <root>/functions
 *   port: 8080,              // BROKER_PORT; 0 picks a free port
 *   rabbitmqUrl,             // undefined → in-process backend (development only, like InMemoryChannel)
 *   log,                     // runtime Logger (JsonLogger); default: ECS JSON on stdout as "sluice-broker"
 *   dataPlane,               // DATA_PLANES.upstream (default: behave as eventing-rabbitmq 1.22.1) or .sluice
 *   replyUrl,                // where replies are POSTed in upstream mode; default: this ingress
 * });
 * broker.url          // 'http://127.0.0.1:8080/' — POST CloudEvents here (sluice data plane: also /sluice/default)
 * broker.description  // lines for the operator view: backend, each trigger → subscriber, sources
 * broker.deadLetterSinks // Knative Service → URL of the dead-letter sink its Triggers name (SLUICE_DEAD_LETTER_SINK)
 * await broker.publish(event) // in-process publish (what the ingress does after parsing)
 * await broker.stop()         // stop ingress and sources, abort deliveries (unacked → redelivered), close
 * ```
 *
 * `startBroker` refuses to start (ManifestError, ReplyLoopError, BackendError) when the manifests are
 * invalid, a trigger's subscriber would receive its own replies, or RabbitMQ refuses the topology.
 * `resolveSubscriber(ref, uri?)` maps a Knative Service reference (Trigger subscriber, deadLetterSink,
 * RabbitmqSource sink) to a URL; the local platform passes its router URLs, tests pass plain servers.
 * A RabbitmqSource needs RabbitMQ: with the memory backend, sources are listed as inactive. PingSources fire on
 * their schedule with either backend (ping-source.ts).
 */
import { resolve as resolvePath } from 'node:path';
import type { CloudEvent, Logger } from '../../functions/runtime/src/index.ts';
import { JsonLogger } from '../../functions/runtime/src/index.ts';
import type { BrokerBackend } from './backends/backend.ts';
import { MemoryBackend } from './backends/memory-backend.ts';
import { RabbitmqBackend, redact } from './backends/rabbitmq-backend.ts';
import {
  type BrokerPlan,
  Dispatchers,
  deadLetterSinksOf,
  deadLetterSinkWarnings,
  planBroker,
  type ResolveSubscriber,
  resolveDestination,
} from './broker.ts';
import { DATA_PLANES, type DataPlane, type DataPlaneBehaviour, prefetchOf } from './data-plane.ts';
import { deliver, deliveryConfig } from './delivery.ts';
import { IngressClosedError, startIngress } from './ingress.ts';
import { type EventingManifests, loadEventingManifests, ManifestError } from './manifests.ts';
import { PingRunner, systemWallClock, type WallClock } from './ping-source.ts';
import { QueueScaler, scalingMetrics } from './queue-scaler.ts';
import { type ReplyTypesOf, refuseReplyLoops } from './replies.ts';
import { SourceConsumer } from './source.ts';
import {
  ACCEPTED_VIA,
  type AcceptedVia,
  type OnAccepted,
  type OnDispatcherScale,
  type OnTrail,
  trailAccepted,
} from './trail.ts';
import { triggerMetrics } from './trigger-metrics.ts';

export { BackendError } from './backends/backend.ts';
export type { BrokerPlan, ResolveSubscriber, TriggerRoute } from './broker.ts';
export { deadLetterSinksOf, UnknownTriggerError } from './broker.ts';
export {
  DATA_PLANE,
  DATA_PLANES,
  type DataPlane,
  type DataPlaneBehaviour,
  DataPlaneError,
  dataPlaneFrom,
} from './data-plane.ts';
export { listDeadLetters, replayDeadLetter } from './dead-letters.ts';
export type { AttemptRecord } from './delivery.ts';
export { KNATIVE_ERROR } from './delivery.ts';
export type { EventingManifests, KReference } from './manifests.ts';
export { loadEventingManifests, ManifestError, parseEventingManifests } from './manifests.ts';
export { PingRunner, pingEvent, systemWallClock, type WallClock } from './ping-source.ts';
export { QueueScaler, queueLengthTarget, recommend, scalingMetrics } from './queue-scaler.ts';
export type { ReplyTypesOf } from './replies.ts';
export { ReplyLoopError } from './replies.ts';
export {
  ACCEPTED_VIA,
  type AcceptedRecord,
  type AcceptedVia,
  type DispatcherScaleRecord,
  type OnAccepted,
  type OnDispatcherScale,
  type OnTrail,
  TRAIL_MAX_DATA_BYTES,
  TRAIL_OUTCOME,
  type TrailEventIds,
  type TrailOutcome,
  type TrailRecord,
  type TrailReply,
} from './trail.ts';

export interface StartBrokerOptions {
  readonly resolveSubscriber: ResolveSubscriber;
  readonly log?: Logger;
  /** Repository root. @default the one this file is in */
  readonly root?: string;
  /** @default <root>/eventing/manifests */
  readonly manifestsDir?: string;
  /** Already-loaded manifests (tests); `manifestsDir` is then not read. */
  readonly manifests?: EventingManifests;
  /** Where reply types are looked up for the loop check. @default folders under <root>/functions */
  readonly replyTypesOf?: ReplyTypesOf;
  /** BROKER_PORT. @default 8080; 0 picks a free port */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** RabbitMQ when set, the in-process backend otherwise. */
  readonly rabbitmqUrl?: string | undefined;
  /**
   * The RabbitmqSources to run, by name (SLUICE_SOURCES); the others are read and checked but consume nothing.
   * Two consumers of one source queue share its messages, so a second platform on the same RabbitMQ (a test
   * beside `make dev`) names only its own. @default every source
   */
  readonly sources?: readonly string[] | undefined;
  /** Suffix of RabbitMQ exchange/queue names (upstream uses the Broker/Trigger UIDs). @default 'local' */
  readonly instance?: string;
  /** The data plane to behave like, by name or field by field (data-plane.ts; SLUICE_DATA_PLANE). @default upstream */
  readonly dataPlane?: DataPlane | Readonly<DataPlaneBehaviour>;
  /** Where the dispatchers POST replies in upstream mode (its BROKER_INGRESS_URL). @default this ingress */
  readonly replyUrl?: string;
  /** Told what became of every delivery (trail.ts); `make dev` keeps them for `make try` and its console. */
  readonly onTrail?: OnTrail;
  /** Told of every event the broker accepted: ingress, replies, sources, PingSources (trail.ts). */
  readonly onAccepted?: OnAccepted;
  /** Told of every scale decision on a Trigger's dispatcher (ScaledObjects, queue-scaler.ts). */
  readonly onDispatcherScale?: OnDispatcherScale;
  /** Ingress bounds for slow clients. @default 10 000 / 30 000 */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Wall clock of PingSource schedules and ScaledObject polling (tests move it by hand). @default the system clock */
  readonly clock?: WallClock;
}

export interface TriggerState {
  readonly name: string;
  readonly filter: Readonly<Record<string, string>>;
  /** The Knative Service it delivers to, else the subscriber's URL. */
  readonly subscriber: string;
  readonly queue: string;
  /** Messages ready + unacknowledged; undefined when the backend could not say. */
  readonly depth: number | undefined;
  readonly replicas: number;
  readonly deadLetterSink: string | undefined;
}

export interface RunningBroker {
  /** Ingress URL, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  readonly backend: 'memory' | 'rabbitmq';
  readonly dataPlane: Readonly<DataPlaneBehaviour>;
  readonly description: readonly string[];
  readonly plan: BrokerPlan;
  /** Knative Service → the dead-letter sink URL its Triggers name (what it gets as SLUICE_DEAD_LETTER_SINK). */
  readonly deadLetterSinks: ReadonlyMap<string, string>;
  /** One per ScaledObject on a Trigger's dispatcher: its replicas, depth and changes. */
  readonly scalers: readonly QueueScaler[];
  /**
   * The AMQP exchanges the RabbitmqSources running here read: none on the memory backend (a RabbitmqSource needs
   * RabbitMQ) or for a source left out by `sources`. The CLIs that publish into one check it (dev-endpoints.ts).
   */
  readonly sourceExchanges: readonly string[];
  /** Publishes into the broker exchange; resolves after the durable accept. */
  publish(event: CloudEvent): Promise<void>;
  /** Each Trigger now: its filter, subscriber, queue depth and dispatcher replicas (the console's Triggers view). */
  triggers(): Promise<TriggerState[]>;
  /**
   * Pauses (true) a Trigger's delivery, keeping its events in its queue (its dispatcher at 0 replicas, as `kubectl
   * scale deployment/<trigger>-dispatcher --replicas=0` on a cluster), or resumes it (false). Idempotent; resolves
   * false when there is no such Trigger. The console's POST /v1/triggers/<name>/pause|resume and `make drill` use it.
   */
  pause(trigger: string, paused: boolean): Promise<boolean>;
  /** Whether a Trigger is paused; undefined when there is no such Trigger. */
  paused(trigger: string): boolean | undefined;
  stop(): Promise<void>;
  /** Stops, then deletes the exchanges and queues it declared (tests). */
  destroy(): Promise<void>;
  /**
   * Test hook (RabbitMQ only): cut the broker's TCP connections as a network failure would — both, or
   * only the one that publishes (ingress, replies, dead letters) or the one that consumes (dispatchers).
   */
  dropConnection(which?: 'both' | 'publishing' | 'consuming'): void;
  /** Test hook (RabbitMQ only): make RabbitMQ close the publisher's, a queue's or a RabbitmqSource's channel. */
  breakChannel(target: 'publisher' | { readonly queue: string } | { readonly source: string }): void;
}

export async function startBroker(options: StartBrokerOptions): Promise<RunningBroker> {
  const root = options.root ?? resolvePath(import.meta.dirname, '../..');
  const log = options.log ?? new JsonLogger({ serviceName: 'sluice-broker' });
  const manifests =
    options.manifests ??
    (await loadEventingManifests(options.manifestsDir ?? resolvePath(root, 'eventing/manifests')));
  for (const w of manifests.warnings) log.warn(w, { 'event.action': 'manifest-warning' });
  const unknownSources = (options.sources ?? []).filter((n) => !manifests.sources.some((s) => s.name === n));
  if (unknownSources.length > 0) {
    throw new ManifestError(
      unknownSources.map((n) => `SLUICE_SOURCES: no RabbitmqSource named ${n}`),
      `sources to run (there are: ${manifests.sources.map((s) => s.name).join(', ') || 'none'})`,
    );
  }
  const runsSource = sourceSelection(options);
  await refuseReplyLoops(
    manifests.triggers,
    options.replyTypesOf ?? { functionsDir: resolvePath(root, 'functions') },
  );

  const plan = planBroker(manifests, options.resolveSubscriber, options.instance ?? 'local');
  const behaviour =
    typeof options.dataPlane === 'string'
      ? DATA_PLANES[options.dataPlane]
      : (options.dataPlane ?? DATA_PLANES.upstream);
  for (const w of deadLetterSinkWarnings(plan)) log.warn(w, { 'event.action': 'manifest-warning' });
  const backend: BrokerBackend =
    options.rabbitmqUrl === undefined
      ? new MemoryBackend()
      : await RabbitmqBackend.connect({ url: options.rabbitmqUrl, log });
  let ingress: Awaited<ReturnType<typeof startIngress>> | undefined;
  const onAccepted = options.onAccepted;
  const dispatchers = new Dispatchers(backend, plan, log, {
    behaviour,
    replyUrl: () => options.replyUrl ?? ingress?.url ?? '',
    // Replies to this very ingress skip the loopback HTTP round trip: the same checks and publish, in process.
    ...(options.replyUrl === undefined
      ? {
          replyLocal: (headers, body) =>
            ingress === undefined
              ? Promise.reject(new IngressClosedError('the broker ingress is not started'))
              : ingress.post(headers, body),
        }
      : {}),
    ...(options.onTrail === undefined ? {} : { onTrail: options.onTrail }),
    ...(onAccepted === undefined ? {} : { onAccepted }),
  });
  const sources: SourceConsumer[] = [];
  const pings: PingRunner[] = [];
  const scalers: QueueScaler[] = [];
  const publishVia =
    (via: AcceptedVia) =>
    async (event: CloudEvent): Promise<void> => {
      await backend.publish(plan.names.exchange, event);
      if (onAccepted === undefined) return;
      try {
        onAccepted(trailAccepted(event, via));
      } catch (err) {
        log.warn(`trail observer failed: ${String(err)}`);
      }
    };
  const publish = publishVia(ACCEPTED_VIA.ingress);
  const publishFromSource = publishVia(ACCEPTED_VIA.source);
  const publishFromPing = publishVia(ACCEPTED_VIA.ping);
  /** Each Trigger now (the console's Triggers view, the metrics, make drill). */
  const triggerStates = (): Promise<TriggerState[]> =>
    Promise.all(
      plan.routes.map(async (r) => ({
        name: r.trigger.name,
        filter: r.trigger.filter,
        subscriber: r.trigger.subscriber.ref?.name ?? r.subscriberUrl,
        queue: r.queue,
        // Ready (the backend) + held unacknowledged by the dispatcher's replicas, as RabbitMQ's `messages`.
        depth: await backend
          .depth(r.queue)
          .then((ready) => ready + dispatchers.replicasOf(r.trigger.name).held)
          .catch(() => undefined),
        replicas: dispatchers.replicasOf(r.trigger.name).replicas,
        deadLetterSink: r.deadLetter?.sinkUrl,
      })),
    );
  try {
    await backend.declare(plan.topology);
    // The ingress first: upstream's dispatchers POST replies to it (queues hold events meanwhile).
    ingress = await startIngress({
      port: options.port ?? 8080,
      ...(options.host === undefined ? {} : { host: options.host }),
      namespace: manifests.broker.namespace,
      brokerName: manifests.broker.name,
      publish,
      log,
      problems: behaviour.ingressProblems,
      metrics: async () =>
        scalingMetrics(scalers) +
        triggerMetrics((await triggerStates()).map((t) => ({ ...t, paused: dispatchers.isPaused(t.name) }))),
      httpTraceContext: behaviour.traceContext === 'http',
      ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    });
    await dispatchers.start();
    for (const { scaledObject, trigger } of manifests.scaledObjects) {
      const route = plan.routes.find((r) => r.trigger.name === trigger);
      if (route === undefined) continue;
      const scaler = new QueueScaler({
        scaledObject,
        trigger,
        queue: route.queue,
        dispatcher: dispatchers,
        depth: (q) => backend.depth(q),
        log,
        clock: options.clock ?? systemWallClock,
        ...(options.onDispatcherScale === undefined
          ? {}
          : {
              onChange: (t, c) =>
                options.onDispatcherScale?.({
                  kind: 'dispatcher-scale',
                  time: new Date(c.at).toISOString(),
                  trigger: t,
                  from: c.from,
                  to: c.to,
                  depth: c.depth,
                }),
            }),
      });
      scaler.start();
      scalers.push(scaler);
    }
    if (options.rabbitmqUrl !== undefined) {
      for (const s of manifests.sources.filter((x) => runsSource(x.name))) {
        const sinkRef = s.sink.ref;
        const toBroker = sinkRef?.kind === 'Broker';
        const sinkUrl = toBroker ? undefined : resolveDestination(s.sink, options.resolveSubscriber);
        const sinkDelivery = deliveryConfig({ retry: 0 });
        const consumer = new SourceConsumer({
          url: options.rabbitmqUrl,
          source: s,
          log,
          // Upstream's adapter sets the same fixed QoS as its dispatchers (pkg/rabbit ChannelQoS).
          prefetch: prefetchOf(behaviour, s.parallelism),
          post: async (event) => {
            if (sinkUrl === undefined) {
              await publishFromSource(event);
              return true;
            }
            return (await deliver(sinkUrl, event, sinkDelivery)).ok;
          },
        });
        await consumer.start();
        sources.push(consumer);
      }
    }
    for (const p of manifests.pingSources) {
      const sinkUrl =
        p.sink.ref?.kind === 'Broker' ? undefined : resolveDestination(p.sink, options.resolveSubscriber);
      // mtping: ContextWithRetriesExponentialBackoff(50 ms, 5).
      const pingDelivery = deliveryConfig({ retry: 5, backoffPolicy: 'exponential', backoffDelayMs: 50 });
      const runner = new PingRunner({
        source: p,
        log,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        send: async (event) => {
          if (sinkUrl === undefined) {
            await publishFromPing(event);
            return true;
          }
          return (await deliver(sinkUrl, event, pingDelivery)).ok;
        },
      });
      runner.start();
      pings.push(runner);
    }
  } catch (err) {
    dispatchers.abort();
    await Promise.allSettled([...pings, ...scalers].map((p) => p.stop()));
    await ingress?.close();
    await Promise.allSettled(sources.map((s) => s.stop()));
    await backend.close();
    throw err;
  }

  const description = describe(manifests, plan, backend, behaviour, options);
  log.info(
    `broker ${manifests.broker.namespace}/${manifests.broker.name} ready at ${ingress.url} (${backend.kind}, ${behaviour.name} data plane)`,
    {
      'event.action': 'broker-started',
    },
  );
  const running = ingress;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await running.close();
      await Promise.allSettled([...pings, ...scalers].map((p) => p.stop()));
      await Promise.allSettled(sources.map((s) => s.stop()));
      dispatchers.abort();
      await backend.close();
    })();
    return stopping;
  };
  return {
    url: running.url,
    backend: backend.kind,
    dataPlane: behaviour,
    description,
    plan,
    deadLetterSinks: deadLetterSinksOf(plan),
    scalers,
    sourceExchanges: sources.flatMap((c) => (c.exchange === undefined ? [] : [c.exchange])),
    publish,
    triggers: triggerStates,
    async pause(trigger, paused) {
      if (!plan.routes.some((r) => r.trigger.name === trigger)) return false;
      await (paused ? dispatchers.pause(trigger) : dispatchers.resume(trigger));
      return true;
    },
    paused: (trigger) =>
      plan.routes.some((r) => r.trigger.name === trigger) ? dispatchers.isPaused(trigger) : undefined,
    stop,
    async destroy() {
      await stop();
      await backend.destroy(plan.topology);
    },
    dropConnection(which) {
      if (backend instanceof RabbitmqBackend) backend.dropConnection(which);
    },
    breakChannel(target) {
      if (typeof target === 'object' && 'source' in target) {
        sources.find((c) => c.name === target.source)?.breakChannel();
      } else if (backend instanceof RabbitmqBackend) backend.breakChannel(target);
    },
  };
}

/** Whether a RabbitmqSource runs here (options.sources). */
function sourceSelection(options: StartBrokerOptions): (name: string) => boolean {
  const only = options.sources === undefined ? undefined : new Set(options.sources);
  return (name) => only === undefined || only.has(name);
}

function describe(
  manifests: EventingManifests,
  plan: BrokerPlan,
  backend: BrokerBackend,
  behaviour: Readonly<DataPlaneBehaviour>,
  options: StartBrokerOptions,
): string[] {
  const lines: string[] = [];
  const runsSource = sourceSelection(options);
  const b = manifests.broker;
  lines.push(
    backend.kind === 'rabbitmq'
      ? `broker ${b.namespace}/${b.name}: RabbitMQ ${redact(options.rabbitmqUrl ?? '')}, ${b.queueType} queues, exchange ${plan.names.exchange}`
      : `broker ${b.namespace}/${b.name}: IN-MEMORY (development only, like InMemoryChannel: events are lost when the process stops)`,
  );
  lines.push(
    behaviour.name === 'upstream'
      ? '  data plane: upstream (eventing-rabbitmq 1.22.1: refusals acked, replies via the ingress; SLUICE_DATA_PLANE=sluice for the sluice one)'
      : '  data plane: sluice (refusals dead-lettered with knativeerrordata, replies published directly; docs/eventing.md)',
  );
  for (const r of plan.routes) {
    const d = r.delivery;
    const filter = Object.entries(r.trigger.filter)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    lines.push(
      `  trigger ${r.trigger.name} [${filter || 'all events'}] → ${r.subscriberUrl} (parallelism ${r.trigger.parallelism}, retry ${d.retry} ${d.backoffPolicy} ${d.backoffDelayMs}ms${d.timeoutMs === undefined ? '' : `, timeout ${d.timeoutMs}ms`}; dead letters → ${r.deadLetter?.sinkUrl ?? 'DROPPED'})`,
    );
  }
  for (const s of manifests.sources) {
    lines.push(
      !runsSource(s.name)
        ? `  source ${s.name}: not run here (SLUICE_SOURCES)`
        : backend.kind === 'rabbitmq'
          ? `  source ${s.name}: queue ${s.queueName}${s.exchangeName === undefined ? '' : ` ← exchange ${s.exchangeName}`} → ${s.sink.ref?.kind ?? 'uri'} ${s.sink.ref?.name ?? s.sink.uri ?? ''}`
          : `  source ${s.name}: INACTIVE (a RabbitmqSource needs RABBITMQ_URL)`,
    );
  }
  for (const { scaledObject: so, trigger } of manifests.scaledObjects) {
    lines.push(
      `  scaling ${trigger}-dispatcher: ScaledObject ${so.name}, ${so.minReplicaCount}..${so.maxReplicaCount} replicas, ${so.triggers.find((t) => t.type === 'rabbitmq')?.metadata.value ?? '?'} messages each, poll ${so.pollingIntervalSeconds}s, scale-down after ${so.scaleDownStabilizationSeconds}s (metrics: GET <broker>/metrics)`,
    );
  }
  for (const p of manifests.pingSources) {
    lines.push(
      `  source ${p.name}: PingSource "${p.schedule}" ${p.timezone} → ${p.sink.ref?.kind ?? 'uri'} ${p.sink.ref?.name ?? p.sink.uri ?? ''}`,
    );
  }
  return lines;
}
