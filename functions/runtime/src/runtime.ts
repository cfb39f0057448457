/**
 * Assembles a running function from its configuration: store, idempotency guard, telemetry,
 * handler, server. Returned as a handle so tests, the local platform and `main.ts` share one path.
 */
import { MemoryDocumentStore } from './adapters/memory/memory-document-store.ts';
import type { RuntimeConfig } from './config.ts';
import { checkSchemasCover, loadFunction } from './function-loader.ts';
import { ExpiryMode, IdempotencyGuard } from './idempotency/idempotency-store.ts';
import { Invoker } from './invoke.ts';
import { errorFields, JsonLogger, type LogSink } from './log.ts';
import type { DocumentStore } from './ports/document-store.ts';
import { type Metrics, noopMetrics } from './ports/metrics.ts';
import { createRuntimeServer, type RequestListener } from './server.ts';
import { openStore } from './store.ts';
import { createTelemetry } from './telemetry.ts';
import type { InitContext } from './types.ts';

/** Where the store has no TTL index: purge at start, then this often (MongoDB's TTL monitor's period). */
const PURGE_INTERVAL_SECONDS = 60;
const START_PURGE_DELAY_MS = 1000;

export interface RunningFunction {
  readonly port: number;
  /** The function's store; undefined for a plain HTTP function (types.ts `HttpFunction`), which has none. */
  readonly store: DocumentStore | undefined;
  /** Where /metrics is served when METRICS_PORT moved it off `port` (plain HTTP functions). */
  readonly metricsPort?: number | undefined;
  readonly log: JsonLogger;
  /** Graceful stop: not ready, finish in-flight events, run `shutdown`, close the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Use this store instead of the one MONGODB_URL selects (tests). */
  readonly store?: DocumentStore;
  readonly logSink?: LogSink;
  readonly metrics?: Metrics;
  /** Start time of the process, for the cold-start measure. @default performance.timeOrigin */
  readonly processStart?: number;
}

export async function startFunction(
  config: Readonly<RuntimeConfig>,
  options: StartOptions = {},
): Promise<RunningFunction> {
  const log = new JsonLogger({
    serviceName: config.serviceName,
    ...(config.serviceRevision === undefined ? {} : { serviceVersion: config.serviceRevision }),
    level: config.logLevel,
    ...(options.logSink === undefined ? {} : { sink: options.logSink }),
  });
  const loaded = await loadFunction(config.functionDir);
  const metrics = options.metrics ?? (config.metricsEnabled ? await loadTelemetry(config, log) : noopMetrics);
  if ('http' in loaded) {
    // Imported here: an event function's cold start does not load the plain-HTTP server.
    const { startHttpFunction } = await import('./http-function.ts');
    const started = await startHttpFunction(
      config,
      loaded.http,
      log,
      metrics,
      options.processStart ?? performance.timeOrigin,
    );
    return {
      port: started.port,
      metricsPort: started.metricsPort,
      store: undefined,
      log,
      stop: started.stop,
    };
  }
  const { fn, schemas } = loaded;
  checkSchemasCover(fn, schemas, config.functionDir);

  const store = await countedStore(options.store ?? (await storeFor(config)), metrics);
  const guard = new IdempotencyGuard(store, config.serviceName, {
    ttlSeconds: config.idempotencyTtlSeconds,
    lockSeconds: config.idempotencyLockSeconds,
    storeTimeoutSeconds: config.storeTimeoutSeconds,
    // One round trip for the claims (and completions) of every event that arrived in the same turn.
    batchInserts: store.kind !== 'memory',
  });
  const invoker = new Invoker({
    fn,
    schemas,
    store,
    guard,
    log,
    metrics,
    serviceName: config.serviceName,
    eventSource: config.eventSource,
    handlerTimeoutMs: config.handlerTimeoutSeconds * 1000,
  });
  const initContext: InitContext = { log, store, functionName: config.serviceName };
  const routes = fn.routes === undefined ? undefined : await buildRoutes(fn.routes, initContext);

  let ready = false;
  // Refusals the broker would ack and forget are kept in the dead-letter sink first (keep-rejected.ts).
  // Loaded only then: a module less to compile before the first event of a cold start without a sink.
  const sink = config.deadLetterSink;
  const rs = createRuntimeServer({
    invoker:
      sink === undefined
        ? invoker
        : (await import('./keep-rejected.ts')).keepRejected(invoker, {
            sinkUrl: sink,
            dest: config.eventSource,
            log,
          }),
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    headersTimeoutMs: config.requestHeadersTimeoutSeconds * 1000,
    requestTimeoutMs: config.requestTimeoutSeconds * 1000,
    isReady: () => ready,
    ...(routes === undefined ? {} : { routes }),
  });
  const port = await rs.listen(config.port, config.host);

  // Listen first, then initialise: Knative probes readiness, and holds traffic until it passes.
  const init = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await store.ping({ timeoutMs: config.storeTimeoutSeconds * 1000 });
        const expiry = await guard.init();
        // A function's own OpenTelemetry instruments, made in init, need the global MeterProvider. Without
        // an init nothing waits for the SDK: it loads after the first event (telemetry.ts).
        if (fn.init !== undefined) await metrics.ready?.();
        await fn.init?.(initContext);
        ready = true;
        // A function may live 30 s at a time (scale to zero): without a TTL index, expired records
        // are purged at every start and then once a minute while the process lives.
        if (expiry === ExpiryMode.purge) {
          // A second after ready, not at once: the memory store's first purge loads its query engine
          // (~50 ms), which would otherwise delay the first event of a cold start.
          purgeTimer = setTimeout(() => {
            purge();
            purgeTimer = setInterval(purge, PURGE_INTERVAL_SECONDS * 1000);
            purgeTimer.unref();
          }, START_PURGE_DELAY_MS);
          purgeTimer.unref();
        }
        const coldStartSeconds = (Date.now() - (options.processStart ?? performance.timeOrigin)) / 1000;
        metrics.coldStart(coldStartSeconds);
        log.info('function ready', {
          'event.action': 'start',
          'faas.name': config.serviceName,
          'faas.coldstart': true,
          'sluice.store': store.kind,
          'sluice.idempotency_expiry': expiry,
          'url.port': port,
          'sluice.accepts': fn.accepts,
          'sluice.startup_seconds': coldStartSeconds,
        });
        return;
      } catch (err) {
        if (stopping.signal.aborted) return;
        log.warn(`not ready yet (attempt ${attempt}): ${(err as Error).message}`, errorFields(err));
        // Back off, but wake at once on stop: a pod that never got ready must still stop promptly.
        await sleep(Math.min(200 * 2 ** attempt, 5000), stopping.signal);
        if (stopping.signal.aborted) return;
      }
    }
  };
  const stopping = new AbortController();
  let purgeTimer: NodeJS.Timeout | undefined;
  const purge = (): void => {
    guard.purgeExpired(PURGE_INTERVAL_SECONDS).then(
      (removed) => {
        if (removed !== undefined) log.debug(`purged ${removed} expired idempotency records`);
      },
      (err: unknown) => log.warn('could not purge expired idempotency records', errorFields(err)),
    );
  };
  const initDone = init();

  return {
    port,
    store,
    log,
    async stop() {
      stopping.abort();
      clearTimeout(purgeTimer);
      clearInterval(purgeTimer);
      ready = false;
      const clean = await rs.drain(config.shutdownTimeoutSeconds * 1000);
      if (!clean) {
        invoker.shutdownSignal.abort();
        log.warn(
          `shutdown: in-flight events still running after ${config.shutdownTimeoutSeconds}s were aborted`,
        );
      }
      await initDone;
      try {
        await fn.shutdown?.();
      } finally {
        await store.close();
        await metrics.shutdown();
        log.info('function stopped', { 'event.action': 'stop', 'faas.name': config.serviceName });
        log.flush();
      }
    },
  };
}

async function buildRoutes(
  define: NonNullable<import('./types.ts').SluiceFunction['routes']>,
  context: InitContext,
): Promise<RequestListener> {
  // express loads only for a function that has routes; whatever they leave unanswered or throw is problem+json too.
  const { routesApp } = await import('./route-answers.ts');
  return routesApp(define, context).app;
}

/** MONGODB_URL wins; else the local platform's shared dev store; else this process's own memory. */
async function storeFor(config: Readonly<RuntimeConfig>): Promise<DocumentStore> {
  const store = await openStore(config);
  return store ?? new MemoryDocumentStore();
}

/**
 * Every call to a store across the network is counted (sluice_store_calls_total): the round trips per
 * event are what bounds a pipeline on MongoDB/FerretDB (docs/performance.md). In-process memory: not.
 */
async function countedStore(store: DocumentStore, metrics: Metrics): Promise<DocumentStore> {
  const onCall = metrics.storeCall?.bind(metrics);
  if (onCall === undefined || store.kind === 'memory') return store;
  const { countStoreCalls } = await import('./store-calls.ts');
  return countStoreCalls(store, onCall);
}

/**
 * A static import: telemetry.ts loads no SDK module itself (it imports them after the first event), so
 * a dynamic import here would only cost a module load and a turn of the event loop before listen.
 */
async function loadTelemetry(config: Readonly<RuntimeConfig>, log: JsonLogger): Promise<Metrics> {
  return createTelemetry(config, {
    onError: (err) => log.error('metrics unavailable: the OpenTelemetry SDK did not load', errorFields(err)),
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener('abort', wake, { once: true });
  });
}
