import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { JsonLogger } from '../../functions/runtime/src/index.ts';
import { PING_SOURCE, type PingSource } from '../../platform/manifests/index.ts';
import { PingRunner, pingEvent, type WallClock } from './ping-source.ts';

class ManualWallClock implements WallClock {
  #now: number;
  readonly #timers: { at: number; fn: () => void; live: boolean }[] = [];
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const t = { at: this.#now + ms, fn, live: true };
    this.#timers.push(t);
    return () => {
      t.live = false;
    };
  }
  advanceTo(ms: number): void {
    for (;;) {
      const due = this.#timers.filter((t) => t.live && t.at <= ms).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      this.#now = due.at;
      due.fn();
    }
    this.#now = ms;
  }
}

const source = (over: Partial<PingSource> = {}): PingSource =>
  ({
    kind: 'PingSource',
    name: 'window-closer',
    namespace: 'sluice',
    file: 'sources/window-closer.yaml',
    schedule: '* * * * *',
    timezone: 'UTC',
    contentType: 'application/json',
    data: new TextEncoder().encode('{"closer":"window-closer"}'),
    sink: {
      ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default', namespace: 'sluice' },
    },
    extensions: { team: 'streams' },
    eventType: PING_SOURCE.eventType,
    eventSource: '/apis/v1/namespaces/sluice/pingsources/window-closer',
    ...over,
  }) as PingSource;

const log = new JsonLogger({ serviceName: 'test', sink: { write: () => true } });

describe('PingRunner', () => {
  it('fires on every minute of its cron schedule with the event mtping sends', async () => {
    const start = Date.parse('2026-03-01T12:00:30.000Z');
    const clock = new ManualWallClock(start);
    const sent: CloudEvent[] = [];
    const runner = new PingRunner({
      source: source(),
      log,
      clock,
      send: async (e) => {
        sent.push(e);
        return true;
      },
    });
    runner.start();
    clock.advanceTo(Date.parse('2026-03-01T12:00:59.999Z'));
    expect(sent).toHaveLength(0);
    clock.advanceTo(Date.parse('2026-03-01T12:03:00.000Z'));
    expect(sent.map((e) => e.time)).toEqual([
      '2026-03-01T12:01:00.000Z',
      '2026-03-01T12:02:00.000Z',
      '2026-03-01T12:03:00.000Z',
    ]);
    expect(sent[0]).toMatchObject({
      type: 'dev.knative.sources.ping',
      source: '/apis/v1/namespaces/sluice/pingsources/window-closer',
      datacontenttype: 'application/json',
      data: { closer: 'window-closer' },
      extensions: { team: 'streams' },
    });
    expect(new Set(sent.map((e) => e.id)).size).toBe(3);
    await runner.stop();
    clock.advanceTo(Date.parse('2026-03-01T12:10:00.000Z'));
    expect(sent).toHaveLength(3);
  });

  it('honours the time zone and a seconds field', () => {
    const paris = new PingRunner({
      source: source({ schedule: '0 9 * * *', timezone: 'Europe/Paris' }),
      log,
      send: async () => true,
    });
    expect(new Date(paris.nextAfter(Date.parse('2026-03-01T00:00:00Z')) ?? 0).toISOString()).toBe(
      '2026-03-01T08:00:00.000Z',
    );
    const everyTen = new PingRunner({
      source: source({ schedule: '*/10 * * * * *' }),
      log,
      send: async () => true,
    });
    expect(everyTen.nextAfter(Date.parse('2026-03-01T00:00:01Z'))).toBe(Date.parse('2026-03-01T00:00:10Z'));
  });

  it('sends text data as text when the content type is not JSON', () => {
    const e = pingEvent(source({ contentType: 'text/plain', data: new TextEncoder().encode('tick') }), 0);
    expect(e.data).toBe('tick');
  });
});
