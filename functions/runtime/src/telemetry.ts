/**
 * The Metrics port on OpenTelemetry: `@opentelemetry/sdk-metrics` with the Prometheus exporter as a
 * pull reader (no server of its own: the runtime's GET /metrics serves it on the function's port).
 *
 * Cold start: the SDK modules take a few hundred milliseconds to load unbundled, so they are imported
 * in the background and never on the path to readiness. Until they are loaded, records wait in a
 * small bounded queue and are replayed in order; a scrape waits for the load.
 *
 * Names follow the OpenTelemetry semantic conventions (FaaS, HTTP, CloudEvents). Prometheus names
 * carry the unit suffix (`_seconds`, `_bytes`) and `_total`, as the OTel→Prometheus compatibility
 * rules and an OpenTelemetry Collector would write them, so the same PromQL works either way.
 */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import type { MeterProvider, ViewOptions } from '@opentelemetry/sdk-metrics';
import type { RuntimeConfig } from './config.ts';
import type { InvocationRecord, Metrics, Outcome } from './ports/metrics.ts';

/** OTel instrument name → the name Prometheus shows (unit suffix added). */
export const METRIC = {
  invocations: 'faas.invocations',
  errors: 'faas.errors',
  timeouts: 'faas.timeouts',
  invokeDuration: 'faas.invoke_duration',
  coldstarts: 'faas.coldstarts',
  initDuration: 'faas.init_duration',
  replays: 'sluice.events.replayed',
  replies: 'sluice.replies.emitted',
  rejections: 'sluice.events.rejected',
  httpDuration: 'http.server.request.duration',
  storeCalls: 'sluice.store.calls',
  cpuTime: 'process.cpu.time',
  memoryUsage: 'process.memory.usage',
} as const;

/** Prometheus metric families the runtime exports (what dashboards and alert rules may use). */
export const PROMETHEUS_NAMES = {
  invocations: 'faas_invocations_total',
  errors: 'faas_errors_total',
  timeouts: 'faas_timeouts_total',
  invokeDuration: 'faas_invoke_duration_seconds',
  coldstarts: 'faas_coldstarts_total',
  initDuration: 'faas_init_duration_seconds',
  replays: 'sluice_events_replayed_total',
  replies: 'sluice_replies_emitted_total',
  rejections: 'sluice_events_rejected_total',
  httpDuration: 'http_server_request_duration_seconds',
  storeCalls: 'sluice_store_calls_total',
  cpuTime: 'process_cpu_time_seconds_total',
  memoryUsage: 'process_memory_usage_bytes',
} as const;

/** Second-scale buckets: the SDK default ([0, 5, 10, 25, … 10000]) assumes milliseconds. */
export const INVOKE_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60,
] as const;
/** The semantic conventions' advice for http.server.request.duration. */
export const HTTP_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
] as const;
export const INIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Resource attributes copied onto every series, so panels group by function without a join. */
const CONSTANT_LABELS = /^(service\.name|faas\.name|faas\.version)$/;
/** Event types are client input (an unaccepted type is still counted): cap the label's values. */
const MAX_EVENT_TYPES = 64;
const OTHER_TYPE = '_other';
/** Records kept while the SDK loads (a burst at scale-from-zero); beyond it they are dropped. */
const MAX_PENDING = 10_000;

export interface TelemetryOptions {
  /** Told once when the SDK cannot be loaded or a scrape fails; the function keeps running. */
  readonly onError?: (err: unknown) => void;
}

type Pending =
  | { readonly kind: 'invocation'; readonly record: InvocationRecord }
  | {
      readonly kind: 'http';
      readonly method: string;
      readonly route: string;
      readonly status: number;
      readonly seconds: number;
    }
  | { readonly kind: 'coldstart'; readonly seconds: number }
  | { readonly kind: 'store'; readonly collection: string; readonly operation: string };

export async function createTelemetry(
  config: Readonly<RuntimeConfig>,
  options: TelemetryOptions = {},
): Promise<Metrics> {
  let recorder: Recorder | undefined;
  let pending: Pending[] | undefined = [];
  const loading = loadRecorder(config).then(
    (r) => {
      recorder = r;
      for (const p of pending ?? []) replayPending(r, p);
      pending = undefined;
      return r;
    },
    (err: unknown) => {
      pending = undefined;
      options.onError?.(err);
      throw err;
    },
  );
  // A failed load is reported through onError and every later scrape; never an unhandled rejection.
  loading.catch(() => {});
  const queue = (p: Pending): void => {
    if (pending !== undefined && pending.length < MAX_PENDING) pending.push(p);
  };

  return {
    invocation(record) {
      if (recorder !== undefined) recorder.invocation(record);
      else queue({ kind: 'invocation', record });
    },
    httpRequest(method, route, status, seconds) {
      if (recorder !== undefined) recorder.httpRequest(method, route, status, seconds);
      else queue({ kind: 'http', method, route, status, seconds });
    },
    coldStart(seconds) {
      if (recorder !== undefined) recorder.coldStart(seconds);
      else queue({ kind: 'coldstart', seconds });
    },
    storeCall(collection, operation) {
      if (recorder !== undefined) recorder.storeCall(collection, operation);
      else queue({ kind: 'store', collection, operation });
    },
    async scrape() {
      return (await loading).scrape();
    },
    async ready() {
      await loading.catch(() => undefined);
    },
    async shutdown() {
      const r = await loading.catch(() => undefined);
      await r?.shutdown();
    },
  };
}

function replayPending(r: Recorder, p: Pending): void {
  if (p.kind === 'invocation') r.invocation(p.record);
  else if (p.kind === 'http') r.httpRequest(p.method, p.route, p.status, p.seconds);
  else if (p.kind === 'store') r.storeCall(p.collection, p.operation);
  else r.coldStart(p.seconds);
}

async function loadRecorder(config: Readonly<RuntimeConfig>): Promise<Recorder> {
  const [api, sdk, prom, res] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/exporter-prometheus'),
    import('@opentelemetry/resources'),
  ]);
  const resourceAttributes: Attributes = {
    'service.name': config.serviceName,
    'faas.name': config.serviceName,
  };
  if (config.serviceRevision !== undefined) resourceAttributes['faas.version'] = config.serviceRevision;
  // The exporter's own server stays off; collect() + the exporter's serializer answer GET /metrics.
  const exporter = new prom.PrometheusExporter({
    preventServerStart: true,
    withResourceConstantLabels: CONSTANT_LABELS,
    withoutScopeInfo: true,
  });
  const serializer = new prom.PrometheusSerializer('', false, CONSTANT_LABELS, false, true);
  const views: ViewOptions[] = [
    { instrumentName: METRIC.invokeDuration, name: `${METRIC.invokeDuration}_seconds` },
    { instrumentName: METRIC.initDuration, name: `${METRIC.initDuration}_seconds` },
    { instrumentName: METRIC.httpDuration, name: `${METRIC.httpDuration}_seconds` },
    { instrumentName: METRIC.cpuTime, name: `${METRIC.cpuTime}_seconds` },
    { instrumentName: METRIC.memoryUsage, name: `${METRIC.memoryUsage}_bytes` },
  ];
  const provider = new sdk.MeterProvider({
    resource: res.resourceFromAttributes(resourceAttributes),
    readers: [exporter],
    views,
  });
  // The global provider: a function's own instruments (`metrics.getMeter()` of @opentelemetry/api, the
  // ecosystem's way) land on this /metrics with the same resource labels. Without it they are no-ops.
  api.metrics.setGlobalMeterProvider(provider);
  return new Recorder(provider.getMeter('sluice-runtime'), provider, async () => {
    const { resourceMetrics, errors } = await exporter.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metrics collection failed');
    return serializer.serialize(resourceMetrics);
  });
}

/**
 * The instruments, with attribute objects built once per (event type, outcome) and reused: the hot
 * path allocates no label maps of its own.
 */
class Recorder {
  readonly #provider: MeterProvider;
  readonly #collect: () => Promise<string>;
  readonly #invocations: Counter;
  readonly #errors: Counter;
  readonly #timeouts: Counter;
  readonly #duration: Histogram;
  readonly #coldstarts: Counter;
  readonly #initDuration: Histogram;
  readonly #replays: Counter;
  readonly #replies: Counter;
  readonly #rejections: Counter;
  readonly #http: Histogram;
  readonly #storeCalls: Counter;
  readonly #storeAttrs = new Map<string, Map<string, Attributes>>();
  /** Attribute objects, built on first use and reused: type → outcome (→ reason) → attributes. */
  readonly #byOutcome = new Map<string, Map<Outcome, Attributes>>();
  readonly #byReason = new Map<string, Map<Outcome, Map<string, Attributes>>>();
  readonly #byType = new Map<string, Attributes>();
  readonly #httpAttrs = new Map<string, Map<string, Map<number, Attributes>>>();

  constructor(meter: Meter, provider: MeterProvider, collect: () => Promise<string>) {
    this.#provider = provider;
    this.#collect = collect;
    this.#invocations = meter.createCounter(METRIC.invocations, {
      unit: '{invocation}',
      description:
        'CloudEvents received, by type and outcome (success, replayed, invalid, rejected, transient, error).',
    });
    this.#errors = meter.createCounter(METRIC.errors, {
      unit: '{error}',
      description: 'Invocations that did not succeed, by type, outcome and error.type (the reason).',
    });
    this.#timeouts = meter.createCounter(METRIC.timeouts, {
      unit: '{timeout}',
      description: 'Invocations whose handler did not finish within HANDLER_TIMEOUT_SECONDS.',
    });
    this.#duration = meter.createHistogram(METRIC.invokeDuration, {
      unit: 's',
      description: 'Time from request body to answer, by event type and outcome.',
      advice: { explicitBucketBoundaries: [...INVOKE_BUCKETS] },
    });
    this.#coldstarts = meter.createCounter(METRIC.coldstarts, {
      unit: '{coldstart}',
      description: 'Instances that started and became ready (scale from zero or up).',
    });
    this.#initDuration = meter.createHistogram(METRIC.initDuration, {
      unit: 's',
      description: 'Cold start: process start until ready (store reachable, init() done).',
      advice: { explicitBucketBoundaries: [...INIT_BUCKETS] },
    });
    this.#replays = meter.createCounter(METRIC.replays, {
      unit: '{event}',
      description: 'Redelivered events answered from the idempotency record without running the handler.',
    });
    this.#replies = meter.createCounter(METRIC.replies, {
      unit: '{event}',
      description: 'Reply events returned to the broker, by the type of the event that caused them.',
    });
    this.#rejections = meter.createCounter(METRIC.rejections, {
      unit: '{event}',
      description:
        'Events answered with a non-retriable 4xx: the broker sends them straight to the dead-letter sink. By type, outcome and error.type (reason).',
    });
    this.#http = meter.createHistogram(METRIC.httpDuration, {
      unit: 's',
      description: 'Duration of HTTP server requests.',
      advice: { explicitBucketBoundaries: [...HTTP_BUCKETS] },
    });
    this.#storeCalls = meter.createCounter(METRIC.storeCalls, {
      unit: '{call}',
      description:
        'Calls to the store (each a network round trip to MongoDB or the dev store), by db.collection.name and db.operation.name.',
    });
    // Observed at scrape time only: no cost between scrapes.
    const cpu = meter.createObservableCounter(METRIC.cpuTime, {
      unit: 's',
      description: 'CPU time of the function process, by cpu.mode.',
    });
    const memory = meter.createObservableUpDownCounter(METRIC.memoryUsage, {
      unit: 'By',
      description: 'Resident set size of the function process.',
    });
    const user = { 'cpu.mode': 'user' };
    const system = { 'cpu.mode': 'system' };
    meter.addBatchObservableCallback(
      (result) => {
        const usage = process.cpuUsage();
        result.observe(cpu, usage.user / 1e6, user);
        result.observe(cpu, usage.system / 1e6, system);
        result.observe(memory, process.memoryUsage.rss());
      },
      [cpu, memory],
    );
  }

  invocation(r: InvocationRecord): void {
    const type = this.#eventType(r.eventType);
    const attrs = this.#outcomeAttrs(type, r.outcome);
    this.#invocations.add(1, attrs);
    this.#duration.record(r.durationSeconds, attrs);
    switch (r.outcome) {
      case 'success':
        break;
      case 'replayed':
        this.#replays.add(1, this.#typeAttrs(type));
        break;
      case 'invalid':
      case 'rejected': {
        const withReason = this.#reasonAttrs(type, r.outcome, r.reason);
        this.#errors.add(1, withReason);
        this.#rejections.add(1, withReason);
        break;
      }
      default: {
        this.#errors.add(1, this.#reasonAttrs(type, r.outcome, r.reason));
        if (r.reason === 'HandlerTimeoutError') this.#timeouts.add(1, this.#typeAttrs(type));
      }
    }
    if (r.replied) this.#replies.add(1, this.#typeAttrs(type));
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const attrs = memo(memo(memo(this.#httpAttrs, method, newMap), route, newMap), status, () => ({
      'http.request.method': method,
      'http.route': route,
      'http.response.status_code': status,
    }));
    this.#http.record(seconds, attrs);
  }

  storeCall(collection: string, operation: string): void {
    const attrs = memo(memo(this.#storeAttrs, collection, newMap), operation, () => ({
      'db.collection.name': collection,
      'db.operation.name': operation,
    }));
    this.#storeCalls.add(1, attrs);
  }

  coldStart(seconds: number): void {
    this.#coldstarts.add(1);
    this.#initDuration.record(seconds);
  }

  scrape(): Promise<string> {
    return this.#collect();
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }

  #eventType(type: string): string {
    return this.#byOutcome.has(type) || this.#byOutcome.size < MAX_EVENT_TYPES ? type : OTHER_TYPE;
  }

  #outcomeAttrs(type: string, outcome: Outcome): Attributes {
    return memo(memo(this.#byOutcome, type, newMap), outcome, () => ({
      'cloudevents.event_type': type,
      outcome,
    }));
  }

  #typeAttrs(type: string): Attributes {
    return memo(this.#byType, type, () => ({ 'cloudevents.event_type': type }));
  }

  #reasonAttrs(type: string, outcome: Outcome, reason: string | undefined): Attributes {
    const errorType = reason ?? outcome;
    return memo(memo(memo(this.#byReason, type, newMap), outcome, newMap), errorType, () => ({
      'cloudevents.event_type': type,
      outcome,
      'error.type': errorType,
    }));
  }
}

function newMap<K, V>(): Map<K, V> {
  return new Map<K, V>();
}

/** The value under `key`, made and kept on first use. */
function memo<K, V>(map: Map<K, V>, key: K, make: () => NoInfer<V>): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
