/**
 * Serving for a set of Knative Services: one scaler (activator + autoscaler) and one router (stable
 * URL) per Service. `make dev` and the integration tests start it; eventing reaches functions only
 * through `urlFor`.
 */
import type { Logger } from '../../../functions/runtime/src/index.ts';
import type { Clock } from './clock.ts';
import type { FunctionHost } from './function-host.ts';
import { type KnativeServiceSpec, parseDuration } from './knative-service.ts';
import { type ServiceRouter, startRouter } from './router.ts';
import { type ScalerSnapshot, ServiceScaler } from './scaler.ts';

/** Idle window when the manifest sets neither retention nor window: short, for a laptop. */
export const DEV_IDLE_MS = 5_000;
export const IDLE_ENV = 'SLUICE_SCALE_TO_ZERO_AFTER';

export class ServingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServingConfigError';
  }
}

/**
 * Idle window of one Service: SLUICE_SCALE_TO_ZERO_AFTER when set; otherwise the longer of the
 * manifest's scale-to-zero-pod-retention-period and window (Knative scales to zero only after both);
 * otherwise DEV_IDLE_MS.
 */
export function resolveIdleMs(spec: KnativeServiceSpec, override: string | undefined): number {
  if (override !== undefined && override !== '') {
    const ms = parseDuration(override);
    if (ms === undefined) {
      throw new ServingConfigError(`${IDLE_ENV}="${override}" must be a duration like "5s" or "500ms"`);
    }
    return ms;
  }
  if (spec.retentionMs === undefined && spec.windowMs === undefined) return DEV_IDLE_MS;
  return Math.max(spec.retentionMs ?? 0, spec.windowMs ?? 0);
}

export interface ServingOptions {
  readonly services: readonly KnativeServiceSpec[];
  readonly host: FunctionHost;
  readonly log: Logger;
  /** SLUICE_SCALE_TO_ZERO_AFTER: one idle window for every Service. */
  readonly idleOverride?: string;
  readonly clock?: Clock;
  readonly onChange?: (snapshot: ScalerSnapshot) => void;
  /**
   * Leave min-scale instances to `serving.start()`: the platform first learns from the broker what
   * each function's env needs (its dead-letter sink's router URL), then starts them.
   */
  readonly deferStart?: boolean;
  /** Fixed router ports by Service name (the public Service on GATEWAY_PORT); others get a free one. */
  readonly routerPorts?: ReadonlyMap<string, number>;
  /** Slow-client limits of every router (router.ts). */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface ServedFunction {
  readonly spec: KnativeServiceSpec;
  readonly scaler: ServiceScaler;
  readonly router: ServiceRouter;
  readonly idleMs: number;
}

export interface Serving {
  readonly functions: ReadonlyMap<string, ServedFunction>;
  /** Router URL of a Knative Service, or undefined when it is not served here. */
  urlFor(name: string): string | undefined;
  snapshots(): ScalerSnapshot[];
  /** Sends a Service's traffic to another revision of it (ServiceScaler.route). */
  route(spec: KnativeServiceSpec): void;
  /** Brings min-scale instances up (done by startServing unless `deferStart`); idempotent. */
  start(): Promise<void>;
  /** Stops routers, then every instance (SIGTERM, wait). */
  stop(): Promise<void>;
}

export async function startServing(options: ServingOptions): Promise<Serving> {
  const functions = new Map<string, ServedFunction>();
  for (const spec of options.services) {
    const idleMs = resolveIdleMs(spec, options.idleOverride);
    const scaler = new ServiceScaler({
      service: spec,
      host: options.host,
      log: options.log,
      idleMs,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.onChange === undefined ? {} : { onChange: options.onChange }),
    });
    const port = options.routerPorts?.get(spec.name);
    let router: ServiceRouter;
    try {
      router = await startRouter({
        activator: scaler,
        log: options.log,
        timeoutMs: spec.timeoutSeconds * 1000,
        ...(port === undefined ? {} : { port }),
        ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
        ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      });
    } catch (err) {
      await Promise.all([...functions.values()].map((f) => f.router.close(0)));
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new ServingConfigError(
          `port ${port} for ${spec.name} is taken (GATEWAY_PORT; 0 picks a free one)`,
        );
      }
      throw err;
    }
    functions.set(spec.name, { spec, scaler, router, idleMs });
  }
  // min-scale instances start together; scale-from-zero ones wait for their first request.
  let started: Promise<void> | undefined;
  const start = (): Promise<void> => {
    started ??= Promise.all([...functions.values()].map((f) => f.scaler.start())).then(() => undefined);
    return started;
  };
  if (options.deferStart !== true) await start();
  return {
    functions,
    start,
    urlFor: (name) => functions.get(name)?.router.url,
    snapshots: () => [...functions.values()].map((f) => f.scaler.snapshot()),
    route(spec) {
      const served = functions.get(spec.name);
      if (served === undefined) throw new ServingConfigError(`no Service ${spec.name} is served here`);
      served.scaler.route(spec);
    },
    async stop() {
      const all = [...functions.values()];
      for (const f of all) f.scaler.beginShutdown();
      // Routers drain while instances finish their in-flight requests and exit (SIGTERM, wait).
      await Promise.all([...all.map((f) => f.router.close()), ...all.map((f) => f.scaler.stop())]);
    },
  };
}
