import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { MemoryDocumentStore, type SluiceFunction } from '../../runtime/src/index.ts';
import { answerOf, answerProblems, openApiProblems, routeProblems } from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { FLEET_DEFAULTS } from '../lib/fleet.ts';
import { destination } from '../lib/geo.ts';
import { stubContext } from '../lib/test-support.ts';
import { TrackerStore } from '../lib/tracker-store.ts';
import { accepts, init, routes } from './handler.ts';
import { openApiDocument } from './openapi.ts';

const T0 = Date.now() - 90_000;
let served: RoutesServer;
let tracker: TrackerStore;

beforeAll(async () => {
  process.env.FLEET_STREAM_MAX = '3s';
  process.env.FLEET_STREAM_POLL = '100ms';
  const store = new MemoryDocumentStore();
  // Thresholds of a test drive: a trip after 50 m, ended by a 10 s stop.
  tracker = new TrackerStore(store, {
    config: { ...FLEET_DEFAULTS, tripMinDistanceM: 50, stopMinDurationMs: 10_000 },
  });
  // v-1 drove 30 s east and stood 20 s (a trip, ended); v-2 reported once, long ago (offline).
  let at = { lat: 52.09, lon: 5.12 };
  for (let i = 0; i <= 60; i++) {
    if (i > 0 && i <= 30) at = destination(at, 90, 10);
    await tracker.record({ vehicleId: 'v-1', t: T0 + i * 1000, ...at, event: { id: `a${i}`, source: '/t' } });
  }
  await tracker.record({
    vehicleId: 'v-2',
    t: T0 - 3_600_000,
    lat: 52.1,
    lon: 5.1,
    event: { id: 'b', source: '/t' },
  });
  await init?.({ store, log: stubContext(store).log, functionName: 'vehicles-api' });
  served = await serveRoutes(routes, { store, log: stubContext(store).log, functionName: 'vehicles-api' });
});

afterAll(async () => {
  delete process.env.FLEET_STREAM_MAX;
  delete process.env.FLEET_STREAM_POLL;
  await served.close();
});

const DOCUMENT_PATH = '/vehicles/openapi.json';

/** Every answer a test reads is also checked against the OpenAPI document: the document cannot drift. */
const get = async (path: string, headers: Record<string, string> = {}) => {
  const answer = await answerOf('GET', path, await fetch(`${served.base}${path}`, { headers }));
  // The document itself is the one answer it does not describe.
  if (answer.path !== DOCUMENT_PATH) expect(answerProblems(openApiDocument(), answer)).toEqual([]);
  return { status: answer.status, type: answer.contentType, body: answer.body as Record<string, unknown> };
};

describe('vehicles-api', () => {
  it('is a SluiceFunction with read routes only', () => {
    expectTypeOf(routes).toEqualTypeOf<SluiceFunction['routes']>();
    expect(accepts).toEqual([]);
  });

  it('lists every vehicle with position, speed, heading, status and last seen', async () => {
    const { status, body } = await get('/vehicles');
    expect(status).toBe(200);
    expect(body.next).toBeNull();
    const [v1, v2] = body.vehicles as Record<string, unknown>[];
    expect(v1).toMatchObject({
      id: 'v-1',
      status: 'stopped',
      lastSeen: new Date(T0 + 60_000).toISOString(),
      speedKmh: 0,
    });
    expect(v1?.headingDeg).toBe(90);
    expect(v2).toMatchObject({ id: 'v-2', status: 'offline' });
    const page = await get('/vehicles?limit=1');
    expect(page.body).toMatchObject({ next: 'v-1' });
    expect((await get('/vehicles?limit=1&after=v-1')).body.vehicles).toMatchObject([{ id: 'v-2' }]);
  });

  it('answers one vehicle, and 404 with problem+json for an unknown one', async () => {
    expect((await get('/vehicles/v-1')).body).toMatchObject({
      id: 'v-1',
      position: { latitude: expect.any(Number) },
    });
    const missing = await get('/vehicles/v-9');
    expect(missing.status).toBe(404);
    expect(missing.type).toContain('application/problem+json');
    expect(missing.body).toMatchObject({ status: 404, detail: 'no vehicle v-9' });
  });

  it('pages a vehicle’s history in a time range, with derived speeds', async () => {
    const from = new Date(T0 + 10_000).toISOString();
    const to = new Date(T0 + 20_000).toISOString();
    const first = await get(`/vehicles/v-1/positions?from=${from}&to=${to}&limit=4`);
    expect(first.status).toBe(200);
    const positions = first.body.positions as { time: string; speedKmh: number; kind: string }[];
    expect(positions.map((p) => p.time)).toEqual(
      [10, 11, 12, 13].map((s) => new Date(T0 + s * 1000).toISOString()),
    );
    expect(positions[0]?.speedKmh).toBeCloseTo(36, 1);
    let next = first.body.next as string | null;
    let count = positions.length;
    while (next !== null) {
      const more = await get(`/vehicles/v-1/positions?from=${from}&to=${to}&limit=4&after=${next}`);
      count += (more.body.positions as unknown[]).length;
      next = more.body.next as string | null;
    }
    expect(count).toBe(10);
  });

  it('lists trips with distance, duration and speeds', async () => {
    const { body } = await get('/vehicles/v-1/trips');
    expect(body.trips).toHaveLength(1);
    const [trip] = body.trips as Record<string, number>[];
    expect(trip?.distanceM).toBeCloseTo(300, -1);
    expect(trip?.durationS).toBe(30);
    expect(trip?.averageSpeedKmh).toBeCloseTo(36, 0);
  });

  it('refuses bad queries with every parameter at fault', async () => {
    const bad = await get('/vehicles/v-1/positions?from=yesterday&limit=0&after=x');
    expect(bad.status).toBe(400);
    expect((bad.body['invalid-params'] as { name: string }[]).map((p) => p.name).sort()).toEqual([
      'after',
      'from',
      'limit',
    ]);
    expect((await get('/vehicles/v-1/trips?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z')).status).toBe(
      400,
    );
    expect((await get('/vehicles/%24where')).status).toBe(404);
  });

  it('documents every route in its OpenAPI 3.1 document', async () => {
    const { body } = await get(DOCUMENT_PATH);
    expect(body).toEqual(openApiDocument());
    expect(openApiProblems(body)).toEqual([]);
    // The document itself is the one route it does not describe; HEAD, express's own, it leaves out.
    const options = { implicitHead: false, undocumented: [`GET ${DOCUMENT_PATH}`] };
    expect(routeProblems(served.router, openApiDocument(), options)).toEqual([]);
  });

  describe('GET /vehicles/stream', () => {
    /** Reads the stream until it ends (the server closes it after FLEET_STREAM_MAX), or `until` says enough. */
    async function read(
      headers: Record<string, string>,
      until?: (events: { id?: string; event: string; data: string }[]) => boolean,
    ) {
      const controller = new AbortController();
      const res = await fetch(`${served.base}/vehicles/stream`, { headers, signal: controller.signal });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const events: { id?: string; event: string; data: string }[] = [];
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const e: { id?: string; event: string; data: string } = { event: 'message', data: '' };
            for (const line of block.split('\n')) {
              const [k, ...v] = line.split(': ');
              if (k === 'id') e.id = v.join(': ');
              if (k === 'event') e.event = v.join(': ');
              if (k === 'data') e.data = v.join(': ');
            }
            if (e.data !== '') events.push(e);
            end = buffer.indexOf('\n\n');
          }
          if (until?.(events)) break;
        }
      } finally {
        controller.abort();
      }
      return events;
    }

    it('sends every vehicle first, then what changes, and a tick; ends itself so the client reconnects', async () => {
      const pending = read({}, (events) => events.filter((e) => e.event === 'vehicle').length >= 3);
      await new Promise((r) => setTimeout(r, 300));
      await tracker.record({
        vehicleId: 'v-3',
        t: Date.now() - 1000,
        lat: 52.08,
        lon: 5.13,
        event: { id: 'c', source: '/t' },
      });
      const events = await pending;
      const vehicles = events
        .filter((e) => e.event === 'vehicle')
        .map((e) => JSON.parse(e.data) as { id: string; serverTime: string });
      // By update time: as the tracker wrote them.
      expect(vehicles.map((v) => v.id)).toEqual(['v-1', 'v-2', 'v-3']);
      expect(events.some((e) => e.event === 'tick')).toBe(true);
      // Unread, a stream still ends: after FLEET_STREAM_MAX the server closes it.
      const all = await read({});
      expect(all.filter((e) => e.event === 'vehicle').length).toBeGreaterThanOrEqual(3);
    }, 20_000);

    it('resumes from Last-Event-ID: what changed since, and at most a repeat of a state already sent', async () => {
      const first = await read({}, (events) => events.filter((e) => e.event === 'vehicle').length >= 3);
      const seen = first.filter((e) => e.event === 'vehicle');
      const lastId = seen.at(-1)?.id ?? '';
      const states = new Set(seen.map((e) => JSON.stringify({ ...JSON.parse(e.data), serverTime: 0 })));
      await tracker.record({
        vehicleId: 'v-2',
        t: Date.now() - 500,
        lat: 52.1,
        lon: 5.1,
        event: { id: 'd', source: '/t' },
      });
      const resumed = await read({ 'last-event-id': lastId }, (events) =>
        events.some((e) => e.event === 'vehicle' && e.data.includes('"v-2"')),
      );
      const vehicles = resumed
        .filter((e) => e.event === 'vehicle')
        .map((e) => JSON.parse(e.data) as { id: string });
      const v2 = vehicles.find((v) => v.id === 'v-2');
      expect(v2).toMatchObject({ status: 'stopped' });
      // The resume reads a little back (writes land after their time): anything else it sends was sent already.
      for (const v of vehicles.filter((v) => v.id !== 'v-2'))
        expect(states.has(JSON.stringify({ ...v, serverTime: 0 }))).toBe(true);
      // A cursor far back in time: every vehicle again.
      const again = await read(
        { 'last-event-id': '1' },
        (events) => events.filter((e) => e.event === 'vehicle').length >= 3,
      );
      expect(
        new Set(
          again.filter((e) => e.event === 'vehicle').map((e) => (JSON.parse(e.data) as { id: string }).id),
        ),
      ).toEqual(new Set(['v-1', 'v-2', 'v-3']));
    }, 20_000);
  });
});
