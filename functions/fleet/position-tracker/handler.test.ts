import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError, InvalidEventError, MemoryDocumentStore } from '../../runtime/src/index.ts';
import { exampleEvent, stubContext } from '../../runtime/test/support.ts';
import { Collections, FleetEventType } from '../lib/fleet.ts';
import { destination } from '../lib/geo.ts';
import { positionEvent } from '../lib/test-support.ts';
import type { Events, Handle } from './events.gen.ts';
import { accepts, emits, handle, idempotent, init } from './handler.ts';

let broker: Server;
let brokerUrl: string;
const published: { headers: IncomingHttpHeaders; body: unknown }[] = [];
let store: MemoryDocumentStore;

beforeAll(async () => {
  broker = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      published.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
  const address = broker.address();
  brokerUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`;
});

afterAll(async () => {
  delete process.env.BROKER_URL;
  delete process.env.FLEET_STOP_MIN_DURATION;
  await new Promise((r) => broker.close(r));
});

beforeEach(async () => {
  process.env.BROKER_URL = brokerUrl;
  // Short stops, so a test drive ends its trip within a few fixes.
  process.env.FLEET_STOP_MIN_DURATION = '10s';
  published.length = 0;
  store = new MemoryDocumentStore();
  await init?.({ store, log: stubContext(store).log, functionName: 'position-tracker' });
});

const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('position-tracker', () => {
  it('is a SluiceFunction that takes positions and replies nothing (trip events go to the broker)', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts>>();
    expect(accepts).toEqual([FleetEventType.positionReported]);
    expect(emits).toEqual([]);
    // Idempotent by itself (unique raw inserts, a deterministic fold): no runtime guard round trips.
    expect(idempotent).toBe(false);
  });

  it('needs BROKER_URL to start', async () => {
    delete process.env.BROKER_URL;
    await expect(init?.({ store, log: stubContext(store).log, functionName: 'x' })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  it('absorbs a redelivery by itself: one raw fix, the same point, no second trip event', async () => {
    let at = { lat: 48.85, lon: 2.35 };
    const events = [];
    for (let i = 0; i <= 70; i++) {
      if (i > 0 && i <= 60) at = destination(at, 90, 15);
      events.push(
        positionEvent(`r-${i}`, 'v-9', iso(T0 + i * 1000), { latitude: at.lat, longitude: at.lon }),
      );
    }
    for (const e of events) await handle(e, stubContext(store));
    const points = await store.collection(Collections.track).find({ vehicleId: 'v-9' }, { sort: { _id: 1 } });
    const ids = published.map((p) => p.headers['ce-id']);
    for (const e of events) await handle(e, stubContext(store)); // every fix delivered again
    expect(await store.collection(Collections.positions).countDocuments({ vehicleId: 'v-9' })).toBe(71);
    expect(
      await store.collection(Collections.track).find({ vehicleId: 'v-9' }, { sort: { _id: 1 } }),
    ).toEqual(points);
    // Republished with the same ids at most: the consumers' guards see one event each.
    expect(new Set(published.map((p) => p.headers['ce-id']))).toEqual(new Set(ids));
  });

  it('keeps its example fix in raw history and makes it the vehicle’s live position', async () => {
    const event = exampleEvent<Events, typeof FleetEventType.positionReported>(
      import.meta.dirname,
      FleetEventType.positionReported,
    );
    expect(await handle(event, stubContext(store))).toBeUndefined();
    expect(await store.collection(Collections.positions).find({})).toMatchObject([
      { _id: 'v-007|1772352042000', lat: 48.85837, lon: 2.29448, accuracyM: 4.5, event: { id: event.id } },
    ]);
    expect(await store.collection(Collections.vehicles).findOne({ _id: 'v-007' })).toMatchObject({
      lat: 48.85837,
      speedKmh: 0,
      moving: false,
    });
  });

  it('refuses, with the reason, a fix without a vehicle, without a time or from the future (400, dead-lettered by the runtime)', async () => {
    const at = { latitude: 48.85, longitude: 2.35 };
    await expect(
      handle(positionEvent('a', undefined, iso(T0), at), stubContext(store)),
    ).rejects.toMatchObject({
      status: 400,
      invalidParams: [{ name: 'subject', reason: 'missing' }],
    });
    await expect(
      handle(positionEvent('b', '$where', iso(T0), at), stubContext(store)),
    ).rejects.toBeInstanceOf(InvalidEventError);
    await expect(handle(positionEvent('c', 'v-1', undefined, at), stubContext(store))).rejects.toMatchObject({
      invalidParams: [{ name: 'time', reason: 'missing' }],
    });
    const future = handle(positionEvent('d', 'v-1', iso(Date.now() + 3_600_000), at), stubContext(store));
    await expect(future).rejects.toMatchObject({
      status: 400,
      invalidParams: [{ name: 'time', reason: 'in the future' }],
    });
    await expect(future).rejects.toThrow(/ahead of the tracker's clock/);
    expect(await store.collection(Collections.positions).countDocuments({})).toBe(0);
  });

  it('publishes trip.started and trip.ended with the trip’s own ids, the same ids when derived again', async () => {
    let at = { lat: 48.85, lon: 2.35 };
    let t = T0;
    const send = (id: string) =>
      handle(positionEvent(id, 'v-1', iso(t), { latitude: at.lat, longitude: at.lon }), stubContext(store));
    await send('f-0');
    for (let i = 1; i <= 60; i++) {
      t += 1000;
      at = destination(at, 90, 15); // 54 km/h for a minute: 900 m
      await send(`f-${i}`);
    }
    for (let i = 61; i <= 75; i++) {
      t += 1000;
      await send(`f-${i}`); // parked: the trip ends 10 s after it stopped
    }
    expect(published.map((p) => p.headers['ce-type'])).toEqual([
      FleetEventType.tripStarted,
      FleetEventType.tripEnded,
    ]);
    const [started, ended] = published;
    expect(started?.headers['ce-id']).toBe('trip-started-v-1|1772352000000');
    expect(started?.headers['ce-subject']).toBe('v-1');
    expect(ended?.headers['ce-id']).toBe('trip-ended-v-1|1772352000000');
    expect(ended?.body).toMatchObject({
      vehicleId: 'v-1',
      tripId: 'v-1|1772352000000',
      startTime: iso(T0),
      endTime: iso(T0 + 60_000),
      durationS: 60,
    });
    expect((ended?.body as { distanceM: number } | undefined)?.distanceM).toBeCloseTo(900, 3);
    expect((ended?.body as { averageSpeedKmh: number } | undefined)?.averageSpeedKmh).toBeCloseTo(54, 3);
    expect(await store.collection(Collections.trips).find({})).toMatchObject([
      { _id: 'v-1|1772352000000', endT: T0 + 60_000 },
    ]);
  });
});
