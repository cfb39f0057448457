import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConfigError,
  MemoryDocumentStore,
  type SluiceFunction,
  TransientError,
} from '../../runtime/src/index.ts';
import { exampleEvent, stubContext } from '../../runtime/test/support.ts';
import { Collections, STREAMS_DEFAULTS, StreamsEventType } from '../lib/streams.ts';
import { WindowStore } from '../lib/window-store.ts';
import { readingKey } from '../lib/windows.ts';
import type { Events, Handle } from './events.gen.ts';
import { accepts, handle, init } from './handler.ts';

/** The broker ingress: records what window-closer posts, answers `status`. */
const posted: { headers: IncomingHttpHeaders; body: unknown }[] = [];
let status = 202;
let broker: Server;
let brokerUrl: string;
let store: MemoryDocumentStore;

beforeAll(async () => {
  broker = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posted.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
  brokerUrl = `http://127.0.0.1:${(broker.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  delete process.env.BROKER_URL;
  await new Promise((r) => broker.close(r));
});

beforeEach(async () => {
  posted.length = 0;
  status = 202;
  process.env.BROKER_URL = brokerUrl;
  store = new MemoryDocumentStore();
  await init?.({ store, log: stubContext(store).log, functionName: 'window-closer' });
});

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const at = (offsetMs: number) => new Date(T0 + offsetMs).toISOString();

/** What window-aggregator does with readings that arrive at `arrivalMs` (processing time, from T0). */
async function aggregate(
  arrivalMs: number,
  readings: readonly (readonly [id: string, sensor: string, offsetMs: number, value: number])[],
): Promise<void> {
  const windows = new WindowStore(store, { config: STREAMS_DEFAULTS, now: () => T0 + arrivalMs });
  for (const [id, sensorId, offsetMs, value] of readings)
    await windows.accept(
      { key: readingKey('/tests', id), sensorId, timeMs: T0 + offsetMs, value, unit: 'C' },
      { id, source: '/tests' },
    );
}
/** The PingSource's tick at `offsetMs`. */
const tick = (offsetMs: number) => ({
  ...exampleEvent<Events, typeof StreamsEventType.ping>(import.meta.dirname, StreamsEventType.ping),
  id: `tick-${offsetMs}`,
  time: at(offsetMs),
});

describe('window-closer', () => {
  it('is a SluiceFunction fired by the PingSource', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts>>();
    expectTypeOf(init).toEqualTypeOf<SluiceFunction['init']>();
    expect(accepts).toEqual([StreamsEventType.ping]);
  });

  it('needs BROKER_URL to start: the windows are published there', async () => {
    delete process.env.BROKER_URL;
    await expect(
      init?.({ store, log: stubContext(store).log, functionName: 'window-closer' }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  describe('handle', () => {
    it('publishes one window.closed per window the watermark passed, then forgets it', async () => {
      await aggregate(75_000, [
        ['r-1', 's-1', 1_000, 20],
        ['r-2', 's-1', 2_000, 22],
        ['r-3', 's-2', 3_000, 50],
        ['r-4', 's-1', 75_000, 30],
      ]);
      // Max event time 75 s − 10 s lateness: only the 12:00 windows are passed at a tick at 76 s.
      expect(await handle(tick(76_000), stubContext(store))).toBeUndefined();
      expect(posted.map((p) => p.headers['ce-id']).sort()).toEqual([
        `window-closed-s-1-${at(0)}`,
        `window-closed-s-2-${at(0)}`,
      ]);
      const s1 = posted.find((p) => p.headers['ce-subject'] === 's-1');
      expect(s1?.headers).toMatchObject({
        'ce-specversion': '1.0',
        'ce-type': StreamsEventType.windowClosed,
        'ce-source': '/sluice/functions/window-closer',
        'content-type': 'application/json',
      });
      expect(s1?.body).toEqual({
        sensorId: 's-1',
        windowStart: at(0),
        windowEnd: at(60_000),
        unit: 'C',
        count: 2,
        sum: 42,
        min: 20,
        max: 22,
        mean: 21,
      });
      expect(await store.collection(Collections.open).countDocuments({})).toBe(1); // 12:01 of s-1
      posted.length = 0;
      await handle(tick(77_000), stubContext(store));
      expect(posted).toEqual([]);
    });

    it('closes the last windows of a stream that stopped once it was idle (the watermark follows the clock)', async () => {
      await aggregate(2_000, [['r-1', 's-1', 1_000, 20]]);
      await handle(tick(5_000), stubContext(store));
      expect(posted).toEqual([]); // 1 s of event time: nothing passed
      // Idle 58 s (over STREAMS_IDLE_AFTER, 30 s): 1 s − 10 s + 58 s = 49 s, not yet the window's end.
      await handle(tick(60_000), stubContext(store));
      expect(posted).toEqual([]);
      await handle(tick(80_000), stubContext(store)); // 1 − 10 + 78 = 69 s
      expect(posted.map((p) => p.headers['ce-id'])).toEqual([`window-closed-s-1-${at(0)}`]);
    });

    it('keeps a window on its work list when the broker refuses it, and publishes the same figures next tick', async () => {
      await aggregate(120_000, [
        ['r-1', 's-1', 1_000, 20],
        ['r-2', 's-1', 120_000, 21],
      ]);
      status = 500;
      await expect(handle(tick(121_000), stubContext(store))).rejects.toBeInstanceOf(TransientError);
      const first = posted[0]?.body;
      status = 202;
      posted.length = 0;
      await handle(tick(122_000), stubContext(store));
      expect(posted.map((p) => p.body)).toEqual([first]);
      expect(posted[0]?.headers['ce-id']).toBe(`window-closed-s-1-${at(0)}`);
    });
  });
});
