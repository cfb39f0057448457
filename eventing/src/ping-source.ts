/**
 * PingSource, locally: fires a `sources.knative.dev/v1` PingSource on its cron schedule, as knative.dev/eventing's
 * mtping adapter does (pkg/adapter/mtping/runner.go): robfig/cron with optional seconds and `CRON_TZ=<timezone>`;
 * each tick a new event of type `dev.knative.sources.ping`, source `/apis/v1/namespaces/<ns>/pingsources/<name>`,
 * a fresh UUID as id, the spec's data with its content type, the ceOverrides extensions; sent with 5 retries,
 * exponential from 50 ms. The adapter waits a random 0–500 ms before each send to spread load; here the tick is
 * sent at once (one process, nothing to spread). Times come from an injected clock, so tests fire ticks by hand.
 * Cron lines are evaluated by croner (5 or 6 fields, seconds first; descriptors), after the reader has checked
 * them as the webhook does.
 */
import { randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import type { CloudEvent, Logger } from '../../functions/runtime/src/index.ts';
import type { PingSource } from '../../platform/manifests/index.ts';
import { InFlight } from './in-flight.ts';

/** Wall-clock time as a port (PingSource schedules are wall-clock). */
export interface WallClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `ms`; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemWallClock: WallClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    // Long schedules (@monthly) exceed setTimeout's 2^31 ms: wake up at most daily and re-arm.
    const timer = setTimeout(fn, Math.min(ms, 86_400_000));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** The event one tick sends (mtping `makeEvent` + the tick's id and send time). */
export function pingEvent(source: PingSource, timeMs: number): CloudEvent {
  let data: unknown;
  if (source.data !== undefined) {
    const text = new TextDecoder().decode(source.data);
    data = source.contentType === 'application/json' ? JSON.parse(text) : text;
  }
  return Object.freeze({
    specversion: '1.0',
    id: randomUUID(),
    source: source.eventSource,
    type: source.eventType,
    time: new Date(timeMs).toISOString(),
    ...(source.contentType === undefined || source.data === undefined
      ? {}
      : { datacontenttype: source.contentType }),
    data,
    extensions: Object.freeze({ ...source.extensions }),
  }) as CloudEvent;
}

export interface PingRunnerOptions {
  readonly source: PingSource;
  /** Sends one tick; resolves true once the sink took it. */
  readonly send: (event: CloudEvent) => Promise<boolean>;
  readonly log: Logger;
  readonly clock?: WallClock;
}

/** One PingSource's schedule. */
export class PingRunner {
  readonly #source: PingSource;
  readonly #send: (event: CloudEvent) => Promise<boolean>;
  readonly #log: Logger;
  readonly #clock: WallClock;
  readonly #cron: Cron;
  #cancel: (() => void) | undefined;
  #stopped = false;
  readonly #sending = new InFlight();

  constructor(options: PingRunnerOptions) {
    this.#source = options.source;
    this.#send = options.send;
    this.#log = options.log;
    this.#clock = options.clock ?? systemWallClock;
    this.#cron = new Cron(options.source.schedule, { timezone: options.source.timezone, paused: true });
  }

  get name(): string {
    return this.#source.name;
  }

  /** The next fire time after `fromMs`, or undefined when the schedule never fires again. */
  nextAfter(fromMs: number): number | undefined {
    return this.#cron.nextRun(new Date(fromMs))?.getTime();
  }

  start(): void {
    this.#arm();
  }

  #arm(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const next = this.nextAfter(now);
    if (next === undefined) return;
    this.#cancel = this.#clock.setTimer(next - now, () => {
      if (this.#clock.now() < next) {
        this.#arm(); // a long wait re-armed in steps
        return;
      }
      this.#tick(next);
      this.#arm();
    });
  }

  #tick(at: number): void {
    const event = pingEvent(this.#source, this.#clock.now());
    const sent = this.#send(event).then(
      (ok) => {
        const fields = {
          'event.action': ok ? 'ping' : 'ping-lost',
          'sluice.source': this.#source.name,
          'cloudevents.event_id': event.id,
          'cloudevents.event_type': event.type,
          'sluice.scheduled_at': new Date(at).toISOString(),
        };
        if (ok) this.#log.debug(`PingSource ${this.#source.name}: tick sent`, fields);
        else
          this.#log.error(
            `PingSource ${this.#source.name}: tick not accepted after its retries: lost, as upstream`,
            fields,
          );
      },
      (err: unknown) =>
        this.#log.error(`PingSource ${this.#source.name}: ${String(err)}`, { 'event.action': 'ping-lost' }),
    );
    this.#sending.track(sent);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#sending.settled();
  }
}
