/**
 * vehicles-api's routes on a memory store that the tests can take down (503) or break (500), with a test drive in
 * it; each answer checked against the OpenAPI document (body, status, headers), every route of the router found in
 * it, and every status it documents answered at least once.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { SluiceFunction } from '../../runtime/src/index.ts';
import { answerRecorder, expectServedDocument, routeProblems } from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { stubContext } from '../../runtime/test/support.ts';
import { expectStoreFailuresAnswered, SwitchableStore } from '../../runtime/test/switchable-store.ts';
import { FLEET_DEFAULTS } from '../lib/fleet.ts';
import { destination } from '../lib/geo.ts';
import { TrackerStore } from '../lib/tracker-store.ts';
import { accepts, init, routes } from './handler.ts';
import { MAX_PAGE, openApiDocument } from './openapi.ts';

type JsonObject = Record<string, unknown>;
const T0 = Date.now() - 90_000;
const store = new SwitchableStore();
let served: RoutesServer;
let tracker: TrackerStore;

beforeAll(async () => {
  process.env.FLEET_STREAM_MAX = '3s';
  process.env.FLEET_STREAM_POLL = '100ms';
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

/** Every answer a test reads, checked against the document (body, status, headers) and counted. */
const answers = answerRecorder(openApiDocument());

/** One request; its answer is checked against the document before a test reads it, so the document cannot drift. */
async function call(method: string, path: string) {
  const answer = await answers.send(served.base, method, path);
  return { ...answer, type: answer.contentType, body: answer.body as JsonObject };
}
const get = (path: string) => call('GET', path);

/** The names `invalid-params` of a 400 gives, sorted. */
const refused = (answer: { readonly body: JsonObject }) =>
  ((answer.body['invalid-params'] ?? []) as { name: string }[]).map((p) => p.name).sort();

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
    expect(refused(bad)).toEqual(['after', 'from', 'limit']);
    expect((await get('/vehicles/v-1/trips?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z')).status).toBe(
      400,
    );
    for (const [query, names] of [
      ['limit=0', ['limit']],
      [`limit=${MAX_PAGE + 1}`, ['limit']],
      ['limit=0x10', ['limit']],
      ['limit=1e2', ['limit']],
      ['limit=1&limit=2', ['limit']],
      ['after=%24where', ['after']],
      [`after=${'v'.repeat(65)}`, ['after']],
    ] as const) {
      const answer = await get(`/vehicles?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.type, query).toContain('application/problem+json');
      expect(refused(answer), query).toEqual(names);
    }
    expect((await call('HEAD', '/vehicles?limit=0')).status).toBe(400);
    expect((await call('HEAD', '/vehicles/v-1/trips?after=1')).status).toBe(400);
  });

  it('takes from and to as RFC 3339 date-times only, and no day or hour that is not one', async () => {
    for (const time of [
      '2026-03-01T08:00:00Z',
      '2026-03-01t08:00:00.250z',
      '2026-03-01T09:00:00+01:00',
      '2024-02-29T00:00:00Z',
    ])
      expect((await get(`/vehicles/v-1/positions?from=${encodeURIComponent(time)}`)).status, time).toBe(200);
    for (const time of [
      '2026-02-30T00:00:00Z',
      '2026-03-01T24:00:00Z',
      '2026-03-01T08:00Z',
      '2026-03-01 08:00:00Z',
      '2026-03-01T08:00:00',
      '1772352000000',
    ]) {
      const answer = await get(`/vehicles/v-1/trips?to=${encodeURIComponent(time)}`);
      expect(answer.status, time).toBe(400);
      expect(refused(answer), time).toEqual(['to']);
    }
  });

  it('answers 404 for an id no vehicle can have, an empty history for one no vehicle reported with', async () => {
    expect((await get('/vehicles/%24where')).status).toBe(404);
    for (const what of ['positions', 'trips']) {
      const missing = await get(`/vehicles/%24where/${what}`);
      expect(missing.status, what).toBe(404);
      expect(missing.body.detail, what).toMatch(/no such vehicle/);
      expect((await call('HEAD', `/vehicles/%24where/${what}`)).status, what).toBe(404);
      expect((await get(`/vehicles/v-9/${what}`)).body, what).toEqual({
        vehicleId: 'v-9',
        [what]: [],
        next: null,
      });
    }
  });

  it('answers 400 for an id that is not even percent-encoding', async () => {
    for (const path of ['/vehicles/%E0', '/vehicles/%E0/positions', '/vehicles/%E0/trips']) {
      const answer = await get(path);
      expect(answer.status, path).toBe(400);
      expect(answer.body.detail, path).toBe('the path could not be decoded'); // the runtime's fallback
      expect((await call('HEAD', path)).status, path).toBe(400);
    }
  });

  it('answers HEAD as GET, without the body', async () => {
    for (const path of [
      '/vehicles',
      '/vehicles/v-1',
      '/vehicles/v-1/positions?limit=1',
      '/vehicles/v-1/trips',
    ]) {
      const head = await call('HEAD', path);
      expect(head.status, path).toBe(200);
      expect(head.text, path).toBe('');
      expect(head.type, path).toContain('application/json');
    }
    expect((await call('HEAD', '/vehicles/v-9')).status).toBe(404);
  });

  it('answers 503 + Retry-After while its store is unavailable, and 500 for a bug', async () => {
    const requests: Record<string, () => ReturnType<typeof call>> = {};
    for (const path of ['/vehicles', '/vehicles/v-1', '/vehicles/v-1/positions', '/vehicles/v-1/trips'])
      for (const method of ['GET', 'HEAD']) requests[`${method} ${path}`] = () => call(method, path);
    await expectStoreFailuresAnswered(store, requests);
    expect((await get('/vehicles/v-1')).body).toMatchObject({ id: 'v-1' });
  });

  it('serves its OpenAPI 3.1 document at GET /vehicles/openapi.json', async () => {
    expectServedDocument(await get(DOCUMENT_PATH), openApiDocument());
    expect((await call('HEAD', DOCUMENT_PATH)).status).toBe(200);
  });

  it('documents every route its router has, and no other', () => {
    // HEAD of the stream, express's own, is no public operation: the gateway routes GET only to it.
    const options = { undocumented: ['HEAD /vehicles/stream'] };
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
      let text = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          const read = decoder.decode(chunk, { stream: true });
          text += read;
          buffer += read;
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
      const { status, headers: answered } = res;
      const contentType = answered.get('content-type');
      const answer = {
        method: 'GET',
        path: '/vehicles/stream',
        status,
        contentType,
        headers: answered,
        body: text,
      };
      expect(answers.check(answer)).toEqual([]);
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

    it('is answered before the store is read: a store that fails ends it, for EventSource to reconnect', async () => {
      for (const state of ['unavailable', 'broken'] as const) {
        const ended = await store.failing(state, () => call('GET', '/vehicles/stream'));
        expect(ended.status, state).toBe(200);
        expect(ended.text, state).toBe('retry: 1000\n\n');
      }
    });

    it('answers HEAD with the headers, and ends the answer at once: no stream held open', async () => {
      const head = await fetch(`${served.base}/vehicles/stream`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toContain('text/event-stream');
      expect(await head.text()).toBe('');
      // The server closes a `Connection: close` exchange once its answer has ended: at once, not after
      // FLEET_STREAM_MAX (3 s here) of polling the store for nobody.
      const started = Date.now();
      const { port } = new URL(served.base);
      await new Promise<void>((closed, failed) => {
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.write('HEAD /vehicles/stream HTTP/1.1\r\nHost: vehicles-api\r\nConnection: close\r\n\r\n'),
        );
        socket
          .on('data', () => {})
          .on('close', () => closed())
          .on('error', failed);
      });
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });

  // Last in the file: the tests run in order, and this one reads what the others answered.
  it('has answered every status its document gives, for every operation', () => {
    expect(answers.unanswered()).toEqual([]);
  });
});
