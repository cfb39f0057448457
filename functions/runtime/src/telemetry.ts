/**
 * The Metrics port on OpenTelemetry: `@opentelemetry/sdk-metrics` with the Prometheus exporter as a
 * pull reader (no server of its own: the runtime's GET /metrics serves it on the function's port).
 *
 * The runtime's own instruments are aggregated in the process (local-metrics.ts: no attribute hashing
 * per event) and handed to the exporter as a MetricProducer; the SDK's MeterProvider serves the
 * function's own instruments (the global provider) and the process CPU and memory.
 *
 * Cold start: the SDK modules take a few hundred milliseconds to load unbundled (~20 ms of CPU
 * bundled), so they are imported only after the first event has been answered (or LOAD_DELAY_MS
 * after start, or at the first scrape or `ready()`), never between spawn and the first answer.
 * Recording does not need them; a scrape waits for the load.
 *
 * Names follow the OpenTelemetry semantic conventions (FaaS, HTTP, CloudEvents). Prometheus names
 * carry the unit suffix (`_seconds`, `_bytes`) and `_total`, as the OTel→Prometheus compatibility
 * rules and an OpenTelemetry Collector would write them, so the same PromQL works either way.
 */
import type { Attributes, Meter } from '@opentelemetry/api';
import type { ViewOptions } from '@opentelemetry/sdk-metrics';
import type { RuntimeConfig } from './config.ts';
import { LocalCounter, LocalHistogram, localProducer } from './local-metrics.ts';
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
/** The instrumentation scope of the runtime's own instruments. */
const SCOPE = 'sluice-runtime';
/** The SDK starts loading this long after start at the latest, when no event came first. */
const LOAD_DELAY_MS = 200;

export interface TelemetryOptions {
  /** Told once when the SDK cannot be loaded or a scrape fails; the function keeps running. */
  readonly onError?: (err: unknown) => void;
}

export async function createTelemetry(
  config: Readonly<RuntimeConfig>,
  options: TelemetryOptions = {},
): Promise<Metrics> {
  // Recording needs no SDK (local-metrics.ts): records made before it loads are simply in the totals.
  const recorder = new Recorder();
  let loading: Promise<Exporter> | undefined;
  let soon = false;
  const load = (): Promise<Exporter> => {
    if (loading !== undefined) return loading;
    clearTimeout(fallback);
    loading = loadExporter(config, recorder);
    loading.then(undefined, (err: unknown) => options.onError?.(err));
    return loading;
  };
  // The first event's records start the load on the next turn of the event loop: after its answer is
  // written, so the first event of a cold start never waits for the SDK. (Start-up's records do not.)
  const loadSoon = (): void => {
    if (soon || loading !== undefined) return;
    soon = true;
    setImmediate(load);
  };
  const fallback = setTimeout(load, LOAD_DELAY_MS);
  fallback.unref();

  return {
    invocation(record) {
      loadSoon();
      recorder.invocation(record);
    },
    httpRequest(method, route, status, seconds) {
      loadSoon();
      recorder.httpRequest(method, route, status, seconds);
    },
    coldStart(seconds) {
      recorder.coldStart(seconds);
    },
    storeCall(collection, operation) {
      recorder.storeCall(collection, operation);
    },
    async scrape() {
      return (await load()).scrape();
    },
    async ready() {
      await load().catch(() => undefined);
    },
    async shutdown() {
      clearTimeout(fallback);
      // Never loaded: nothing was exported, nothing to flush.
      if (loading === undefined) return;
      const exporter = await loading.catch(() => undefined);
      await exporter?.shutdown();
    },
  };
}

interface Exporter {
  scrape(): Promise<string>;
  shutdown(): Promise<void>;
}

async function loadExporter(config: Readonly<RuntimeConfig>, recorder: Recorder): Promise<Exporter> {
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
  const resource = res.resourceFromAttributes(resourceAttributes);
  const runtimeMetrics = localProducer(
    recorder.instruments,
    {
      sumType: sdk.DataPointType.SUM,
      histogramType: sdk.DataPointType.HISTOGRAM,
      cumulative: sdk.AggregationTemporality.CUMULATIVE,
      double: api.ValueType.DOUBLE,
    },
    resource,
    SCOPE,
    recorder.startedMs,
  );
  // The exporter's own server stays off; collect() + the exporter's serializer answer GET /metrics.
  const exporter = new prom.PrometheusExporter({
    preventServerStart: true,
    withResourceConstantLabels: CONSTANT_LABELS,
    withoutScopeInfo: true,
    metricProducers: [runtimeMetrics],
  });
  const serializer = new prom.PrometheusSerializer('', false, CONSTANT_LABELS, false, true);
  const views: ViewOptions[] = [
    { instrumentName: METRIC.cpuTime, name: `${METRIC.cpuTime}_seconds` },
    { instrumentName: METRIC.memoryUsage, name: `${METRIC.memoryUsage}_bytes` },
  ];
  const provider = new sdk.MeterProvider({ resource, readers: [exporter], views });
  // The global provider: a function's own instruments (`metrics.getMeter()` of @opentelemetry/api, the
  // ecosystem's way) land on this /metrics with the same resource labels. Without it they are no-ops.
  api.metrics.setGlobalMeterProvider(provider);
  observeProcess(provider.getMeter(SCOPE));
  return {
    async scrape() {
      const { resourceMetrics, errors } = await exporter.collect();
      if (errors.length > 0) throw new AggregateError(errors, 'metrics collection failed');
      return serializer.serialize(resourceMetrics);
    },
    shutdown: () => provider.shutdown(),
  };
}

/** Process CPU and memory, observed at scrape time only: no cost between scrapes. */
function observeProcess(meter: Meter): void {
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

/**
 * The runtime's instruments (local-metrics.ts), with attribute objects built once per label combination
 * and reused: the hot path allocates no label maps of its own, and each record finds its series by the
 * object's identity.
 */
class Recorder {
  readonly startedMs = Date.now();
  readonly #invocations = new LocalCounter({
    name: METRIC.invocations,
    unit: '{invocation}',
    description:
      'CloudEvents received, by type and outcome (success, replayed, invalid, rejected, transient, error).',
  });
  readonly #errors = new LocalCounter({
    name: METRIC.errors,
    unit: '{error}',
    description: 'Invocations that did not succeed, by type, outcome and error.type (the reason).',
  });
  readonly #timeouts = new LocalCounter({
    name: METRIC.timeouts,
    unit: '{timeout}',
    description: 'Invocations whose handler did not finish within HANDLER_TIMEOUT_SECONDS.',
  });
  // Histograms carry their unit in the Prometheus name (`_seconds`), as the SDK's views named them.
  readonly #duration = new LocalHistogram(
    {
      name: `${METRIC.invokeDuration}_seconds`,
      unit: 's',
      description: 'Time from request body to answer, by event type and outcome.',
    },
    INVOKE_BUCKETS,
  );
  readonly #coldstarts = new LocalCounter({
    name: METRIC.coldstarts,
    unit: '{coldstart}',
    description: 'Instances that started and became ready (scale from zero or up).',
  });
  readonly #initDuration = new LocalHistogram(
    {
      name: `${METRIC.initDuration}_seconds`,
      unit: 's',
      description: 'Cold start: process start until ready (store reachable, init() done).',
    },
    INIT_BUCKETS,
  );
  readonly #replays = new LocalCounter({
    name: METRIC.replays,
    unit: '{event}',
    description: 'Redelivered events answered from the idempotency record without running the handler.',
  });
  readonly #replies = new LocalCounter({
    name: METRIC.replies,
    unit: '{event}',
    description: 'Reply events returned to the broker, by the type of the event that caused them.',
  });
  readonly #rejections = new LocalCounter({
    name: METRIC.rejections,
    unit: '{event}',
    description:
      'Events answered with a non-retriable 4xx: the broker sends them straight to the dead-letter sink. By type, outcome and error.type (reason).',
  });
  readonly #http = new LocalHistogram(
    {
      name: `${METRIC.httpDuration}_seconds`,
      unit: 's',
      description: 'Duration of HTTP server requests.',
    },
    HTTP_BUCKETS,
  );
  readonly #storeCalls = new LocalCounter({
    name: METRIC.storeCalls,
    unit: '{call}',
    description:
      'Calls to the store (each a network round trip to MongoDB or the dev store), by db.collection.name and db.operation.name.',
  });
  /** In the order /metrics lists them. */
  readonly instruments: readonly (LocalCounter | LocalHistogram)[] = [
    this.#duration,
    this.#initDuration,
    this.#http,
    this.#invocations,
    this.#errors,
    this.#timeouts,
    this.#coldstarts,
    this.#replays,
    this.#replies,
    this.#rejections,
    this.#storeCalls,
  ];
  readonly #none: Attributes = {};
  readonly #storeAttrs = new Map<string, Map<string, Attributes>>();
  /** Attribute objects, built on first use and reused: type → outcome (→ reason) → attributes. */
  readonly #byOutcome = new Map<string, Map<Outcome, Attributes>>();
  readonly #byReason = new Map<string, Map<Outcome, Map<string, Attributes>>>();
  readonly #byType = new Map<string, Attributes>();
  readonly #httpAttrs = new Map<string, Map<string, Map<number, Attributes>>>();

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
    this.#coldstarts.add(1, this.#none);
    this.#initDuration.record(seconds, this.#none);
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
