/**
 * Activator + autoscaler for one Knative Service, in one object because locally they share all their
 * state. Like Knative's activator it holds requests while no instance has room (the first request
 * after scale-to-zero waits for the cold start instead of failing), and like the KPA it sizes the
 * instance count from in-flight demand: ceil(demand / target), within [min-scale, max-scale].
 * `containerConcurrency` is a hard per-instance limit (queue-proxy's breaker); idle instances stop
 * after the idle window. Time goes through an injected Clock so tests are deterministic.
 */
import type { Logger } from '../../../functions/runtime/src/index.ts';
import { type Clock, systemClock } from './clock.ts';
import type { FunctionHost, FunctionInstance, InstanceExit } from './function-host.ts';
import type { KnativeServiceSpec } from './knative-service.ts';

export const SCALE_ACTION = {
  up: 'scale-up',
  down: 'scale-down',
  crashed: 'instance-crashed',
  startFailed: 'instance-start-failed',
  /** Traffic moved to another revision (make update / make rollback): its instances start, the old ones drain. */
  routed: 'revision-routed',
} as const;

/** The revision a spec is: its own name, else the first one (`<service>-00001`, as Knative names it). */
export const revisionOf = (spec: Pick<KnativeServiceSpec, 'name' | 'revision'>): string =>
  spec.revision ?? `${spec.name}-00001`;

/** The bound used when the manifest sets no max-scale: protects a laptop from a runaway scale-up. */
export const LOCAL_MAX_SCALE = 10;

export interface ScalerOptions {
  readonly service: KnativeServiceSpec;
  readonly host: FunctionHost;
  readonly log: Logger;
  /** Idle time after which an instance above min-scale is stopped. */
  readonly idleMs: number;
  readonly clock?: Clock;
  /** How long a request may be held waiting for an instance. @default service.timeoutSeconds */
  readonly holdTimeoutMs?: number;
  /** Called after every change of the instance set (targets file, operator view). */
  readonly onChange?: (snapshot: ScalerSnapshot) => void;
}

export type InstanceState = 'starting' | 'ready' | 'stopping';

export interface InstanceSnapshot {
  readonly id: string;
  readonly state: InstanceState;
  readonly url: string | undefined;
  /** Where its /metrics is: the instance URL, or its own port when the Service sets METRICS_PORT. */
  readonly metricsUrl: string | undefined;
  readonly inFlight: number;
}

export interface ScalerSnapshot {
  readonly service: string;
  /** The revision that gets the traffic. */
  readonly revision?: string;
  readonly instances: readonly InstanceSnapshot[];
  readonly queued: number;
}

export interface Lease {
  readonly instance: FunctionInstance;
  /** Call exactly once when the request has finished (answered or failed). */
  release(): void;
}

/** The request cannot be served now; answered 503 so a broker retries. */
export class ServiceUnavailableError extends Error {
  readonly service: string;
  constructor(service: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ServiceUnavailableError';
    this.service = service;
  }
}

interface Slot {
  readonly id: string;
  /** The revision it runs; one of an older revision takes no new request and stops once idle. */
  readonly revision: string;
  state: InstanceState;
  instance: FunctionInstance | undefined;
  inFlight: number;
  readonly startedAt: number;
  cancelIdle: (() => void) | undefined;
  readonly reason: string;
}

interface Waiter {
  resolve(lease: Lease): void;
  reject(err: Error): void;
  cancelTimer: () => void;
  onAbort: (() => void) | undefined;
  signal: AbortSignal | undefined;
}

const MAX_BACKOFF_MS = 30_000;

export class ServiceScaler {
  #service: KnativeServiceSpec;
  readonly #host: FunctionHost;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #holdTimeoutMs: number;
  #maxScale: number;
  readonly #onChange: ((snapshot: ScalerSnapshot) => void) | undefined;
  readonly #slots: Slot[] = [];
  readonly #queue: Waiter[] = [];
  readonly #pending = new Set<Promise<unknown>>();
  #seq = 0;
  #closed = false;
  #failures = 0;
  #nextStartAt = 0;
  #cancelRetry: (() => void) | undefined;

  constructor(options: ScalerOptions) {
    this.#service = options.service;
    this.#host = options.host;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#idleMs = options.idleMs;
    this.#holdTimeoutMs = options.holdTimeoutMs ?? options.service.timeoutSeconds * 1000;
    this.#maxScale = options.service.maxScale > 0 ? options.service.maxScale : LOCAL_MAX_SCALE;
    this.#onChange = options.onChange;
  }

  get name(): string {
    return this.#service.name;
  }

  /** The revision that gets the traffic. */
  get revision(): string {
    return revisionOf(this.#service);
  }

  /**
   * Sends all traffic to another revision of this Service (code and config: `service`), as Knative does when
   * `spec.traffic` moves 100 % to it: new requests wait for (or go to) its instances, started as demand and its
   * min-scale require; the old revision's instances finish what they hold and stop. The idle window and the
   * router's timeout stay those of the first revision.
   */
  route(service: KnativeServiceSpec): void {
    if (service.name !== this.#service.name) throw new Error(`${service.name} is not ${this.name}`);
    const from = this.revision;
    this.#service = service;
    this.#maxScale = service.maxScale > 0 ? service.maxScale : LOCAL_MAX_SCALE;
    const to = this.revision;
    if (from === to) return;
    this.#failures = 0;
    this.#nextStartAt = 0;
    this.#log.info(`${this.name}: traffic 100 % to ${to} (was ${from})`, {
      'event.action': SCALE_ACTION.routed,
      'faas.name': this.name,
      'faas.version': to,
      'sluice.revision_from': from,
    });
    for (const slot of [...this.#slots]) {
      if (slot.revision !== to && slot.state === 'ready' && slot.inFlight === 0)
        void this.#stopSlot(slot, `revision ${from} no longer routed`);
    }
    this.#reconcile();
    this.#dispatch();
    this.#changed();
  }

  /** Brings min-scale instances up; resolves when they are ready (or failed to start). */
  async start(): Promise<void> {
    this.#reconcile();
    await Promise.allSettled([...this.#pending]);
  }

  /** Waits for room on a ready instance; starts instances as demand requires. */
  acquire(signal?: AbortSignal): Promise<Lease> {
    if (this.#closed) {
      return Promise.reject(new ServiceUnavailableError(this.name, `${this.name} is shutting down`));
    }
    const slot = this.#pick();
    if (slot !== undefined && this.#queue.length === 0) {
      const lease = this.#lease(slot);
      this.#reconcile();
      return Promise.resolve(lease);
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: undefined,
        cancelTimer: this.#clock.setTimer(this.#holdTimeoutMs, () => {
          this.#dropWaiter(waiter);
          reject(
            new ServiceUnavailableError(
              this.name,
              `no instance of ${this.name} had room within ${this.#holdTimeoutMs} ms`,
            ),
          );
        }),
      };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.#dropWaiter(waiter);
          reject(new ServiceUnavailableError(this.name, 'the client went away while the request was held'));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      this.#reconcile();
    });
  }

  snapshot(): ScalerSnapshot {
    return {
      service: this.name,
      revision: this.revision,
      queued: this.#queue.length,
      instances: this.#slots.map((s) => ({
        id: s.id,
        state: s.state,
        url: s.instance?.url,
        metricsUrl: s.instance === undefined ? undefined : (s.instance.metricsUrl ?? s.instance.url),
        inFlight: s.inFlight,
      })),
    };
  }

  /** Stops every instance (SIGTERM, wait) and fails held requests with 503. */
  async stop(): Promise<void> {
    this.beginShutdown();
    await Promise.allSettled([...this.#pending]);
    await Promise.allSettled(this.#slots.map((s) => this.#stopSlot(s, 'platform stopping')));
  }

  /** Refuses new requests and answers held ones with 503; instances keep serving in-flight ones. */
  beginShutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelRetry?.();
    for (const waiter of this.#queue.splice(0)) {
      this.#settle(waiter);
      waiter.reject(new ServiceUnavailableError(this.name, `${this.name} is shutting down`));
    }
  }

  /** Instances of the routed revision that are starting or serving. */
  #live(): Slot[] {
    return this.#slots.filter((s) => s.state !== 'stopping' && s.revision === this.revision);
  }

  #hasRoom(slot: Slot): boolean {
    const limit = this.#service.containerConcurrency;
    return (
      slot.state === 'ready' && slot.revision === this.revision && (limit === 0 || slot.inFlight < limit)
    );
  }

  /** Least-loaded ready instance with room; ties go to the oldest, so spare ones can go idle. */
  #pick(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.#slots) {
      if (this.#hasRoom(slot) && (best === undefined || slot.inFlight < best.inFlight)) best = slot;
    }
    return best;
  }

  #lease(slot: Slot): Lease {
    slot.inFlight++;
    slot.cancelIdle?.();
    slot.cancelIdle = undefined;
    const instance = slot.instance as FunctionInstance;
    let released = false;
    return {
      instance,
      release: () => {
        if (released) return;
        released = true;
        slot.inFlight--;
        if (!this.#slots.includes(slot)) return;
        if (slot.inFlight === 0 && slot.revision !== this.revision)
          void this.#stopSlot(slot, `revision ${slot.revision} no longer routed`);
        else if (slot.inFlight === 0) this.#armIdle(slot);
        this.#dispatch();
      },
    };
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#pick();
      if (slot === undefined) return;
      const waiter = this.#queue.shift() as Waiter;
      this.#settle(waiter);
      waiter.resolve(this.#lease(slot));
    }
  }

  #settle(waiter: Waiter): void {
    waiter.cancelTimer();
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  #dropWaiter(waiter: Waiter): void {
    const i = this.#queue.indexOf(waiter);
    if (i !== -1) this.#queue.splice(i, 1);
    this.#settle(waiter);
  }

  /** KPA in one line: enough instances for the demand at `target × utilization` each, within the bounds. */
  #desired(): number {
    let inFlight = 0;
    for (const s of this.#live()) inFlight += s.inFlight;
    const demand = inFlight + this.#queue.length;
    const wanted = Math.ceil(demand / (this.#service.target * (this.#service.targetUtilization ?? 1)));
    return Math.min(Math.max(wanted, this.#service.minScale), this.#maxScale);
  }

  #reconcile(): void {
    if (this.#closed) return;
    const missing = this.#desired() - this.#live().length;
    if (missing <= 0) return;
    const wait = this.#nextStartAt - this.#clock.now();
    if (wait > 0) {
      // Crash-looping: try again after the backoff instead of spinning.
      if (this.#cancelRetry === undefined) {
        this.#cancelRetry = this.#clock.setTimer(wait, () => {
          this.#cancelRetry = undefined;
          this.#reconcile();
        });
      }
      return;
    }
    const reason =
      this.#queue.length > 0 && this.#live().length === 0
        ? 'request held (scale from zero)'
        : this.#queue.length > 0 || this.#live().some((s) => s.inFlight > 0)
          ? 'demand above target'
          : 'min-scale';
    for (let i = 0; i < missing; i++) this.#startSlot(reason);
  }

  #startSlot(reason: string): void {
    const slot: Slot = {
      id: `${this.name}-${++this.#seq}`,
      revision: this.revision,
      state: 'starting',
      instance: undefined,
      inFlight: 0,
      startedAt: this.#clock.now(),
      cancelIdle: undefined,
      reason,
    };
    this.#slots.push(slot);
    this.#changed();
    const started = this.#host
      .start({
        service: this.#service,
        instanceId: slot.id,
        onExit: (exit) => this.#exited(slot, exit),
      })
      .then(
        (instance) => this.#ready(slot, instance),
        (err: unknown) => this.#startFailed(slot, err),
      );
    this.#pending.add(started);
    void started.finally(() => this.#pending.delete(started));
  }

  #ready(slot: Slot, instance: FunctionInstance): void {
    slot.instance = instance;
    if (!this.#slots.includes(slot)) return; // exited between ready and here
    slot.state = 'ready';
    if (this.#closed) return; // stop() stops it once every start has settled
    if (slot.revision !== this.revision) {
      void this.#stopSlot(slot, `revision ${slot.revision} no longer routed`);
      return;
    }
    this.#failures = 0;
    const coldStartMs = Math.round(this.#clock.now() - slot.startedAt);
    this.#log.info(`${this.name}: scaled up to ${this.#readyCount()} (${slot.reason})`, {
      'event.action': SCALE_ACTION.up,
      'faas.name': this.name,
      'faas.coldstart': true,
      'faas.version': slot.revision,
      'sluice.instance.id': slot.id,
      'sluice.instances': this.#readyCount(),
      'sluice.cold_start_ms': coldStartMs,
      'event.duration': coldStartMs * 1_000_000,
      'event.reason': slot.reason,
      'url.full': instance.url,
      'process.pid': instance.pid,
    });
    this.#dispatch();
    if (slot.inFlight === 0) this.#armIdle(slot);
    this.#changed();
  }

  #startFailed(slot: Slot, err: unknown): void {
    this.#remove(slot);
    this.#failures++;
    const backoff = Math.min(1000 * 2 ** (this.#failures - 1), MAX_BACKOFF_MS);
    this.#nextStartAt = this.#clock.now() + backoff;
    this.#log.error(`${this.name}: instance ${slot.id} failed to start: ${(err as Error).message}`, {
      'event.action': SCALE_ACTION.startFailed,
      'faas.name': this.name,
      'sluice.instance.id': slot.id,
      'sluice.instances': this.#readyCount(),
      'error.message': (err as Error).message,
      'sluice.retry_in_ms': backoff,
    });
    if (this.#live().length === 0) {
      // Nothing can serve the held requests soon: answer them (503 → the broker retries later).
      for (const waiter of this.#queue.splice(0)) {
        this.#settle(waiter);
        waiter.reject(
          new ServiceUnavailableError(this.name, `${this.name} could not start: ${(err as Error).message}`, {
            cause: err,
          }),
        );
      }
    }
    this.#changed();
    this.#reconcile();
  }

  #exited(slot: Slot, exit: InstanceExit): void {
    if (!this.#slots.includes(slot)) return;
    // During shutdown a terminal's Ctrl-C reaches the children directly: not a crash.
    const wasStopping = slot.state === 'stopping' || exit.expected || this.#closed;
    this.#remove(slot);
    if (!wasStopping) {
      this.#log.warn(
        `${this.name}: instance ${slot.id} exited unexpectedly (code ${exit.code}, signal ${exit.signal}); ${slot.inFlight} in-flight request(s) fail with 502`,
        {
          'event.action': SCALE_ACTION.crashed,
          'faas.name': this.name,
          'sluice.instance.id': slot.id,
          'sluice.instances': this.#readyCount(),
          'process.exit_code': exit.code,
          'sluice.in_flight_lost': slot.inFlight,
        },
      );
      this.#reconcile();
    }
    this.#changed();
  }

  #armIdle(slot: Slot): void {
    slot.cancelIdle?.();
    slot.cancelIdle = this.#clock.setTimer(this.#idleMs, () => {
      slot.cancelIdle = undefined;
      if (slot.state !== 'ready' || slot.inFlight > 0 || this.#queue.length > 0) return;
      if (this.#live().length <= this.#service.minScale) return;
      void this.#stopSlot(slot, `idle for ${this.#idleMs} ms`);
    });
  }

  async #stopSlot(slot: Slot, reason: string): Promise<void> {
    if (!this.#slots.includes(slot)) return;
    const announce = slot.state === 'ready';
    slot.state = 'stopping';
    slot.cancelIdle?.();
    slot.cancelIdle = undefined;
    if (announce) {
      this.#log.info(`${this.name}: scaled down to ${this.#readyCount()} (${reason})`, {
        'event.action': SCALE_ACTION.down,
        'faas.name': this.name,
        'sluice.instance.id': slot.id,
        'sluice.instances': this.#readyCount(),
        'event.reason': reason,
      });
    }
    this.#changed();
    try {
      await slot.instance?.stop();
    } finally {
      this.#remove(slot);
      this.#changed();
    }
  }

  #remove(slot: Slot): void {
    slot.cancelIdle?.();
    const i = this.#slots.indexOf(slot);
    if (i !== -1) this.#slots.splice(i, 1);
  }

  #readyCount(): number {
    return this.#slots.filter((s) => s.state === 'ready').length;
  }

  #changed(): void {
    this.#onChange?.(this.snapshot());
  }
}
