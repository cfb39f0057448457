/**
 * vehicles-api — the fleet's read side, behind the gateway at /api/vehicles (functions/fleet/routes.yaml). It reads
 * what position-tracker writes (lib/tracker-store.ts); every query is an `_id` lookup or range, or the vehicles'
 * update-time index:
 *   GET /vehicles                          each vehicle: live position, speed, heading, moving/stopped/offline,
 *                                          last seen (paged by id: ?after&limit)
 *   GET /vehicles/stream                   server-sent events of live positions, resumable (stream.ts)
 *   GET /vehicles/{id}                     one vehicle
 *   GET /vehicles/{id}/positions?from&to   its history, oldest first (paged: ?after&limit)
 *   GET /vehicles/{id}/trips?from&to       its trips by start time (paged: ?after&limit)
 *   GET /vehicles/openapi.json             OpenAPI 3.1 (openapi.ts)
 * HEAD answers as GET without the body (express), but for the stream, which the gateway routes GET only. Consumes
 * no events. Every refusal is problem+json (RFC 9457) with the parameter at fault.
 */
import type { Request, Response, Router } from 'express';
import {
  route as answeredRoute,
  type Collection,
  ConfigError,
  type Doc,
  openApiRoute,
  PermanentError,
  parseDuration,
  QueryReader,
  type SluiceFunction,
  sendProblem,
} from '../../runtime/src/index.ts';
import {
  Collections,
  fleetConfig,
  ofVehicle,
  timeKey,
  VEHICLE_ID_PATTERN,
  vehicleRange,
  vehicleTimeId,
} from '../lib/fleet.ts';
import type { TrackDoc, TripDoc, VehicleDoc } from '../lib/tracker-store.ts';
import { DEFAULT_PAGE, MAX_PAGE, openApiDocument, TIME_CURSOR } from './openapi.ts';
import { parseLastEventId, STREAM_DEFAULTS, type StreamOptions, streamVehicles } from './stream.ts';
import { positionView, tripView, vehicleView } from './views.ts';

export const accepts = [] as const;

export const handle: SluiceFunction['handle'] = (event) => {
  throw new PermanentError('no-events', `vehicles-api consumes no events (got ${event.type})`);
};

/** Ended on SIGTERM, so an open stream does not hold the drain: the client reconnects to another instance. */
const stopping = new AbortController();

function streamOptions(
  env: Readonly<Record<string, string | undefined>>,
  offlineAfterMs: number,
): StreamOptions {
  const read = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const ms = parseDuration(raw);
    if (ms === undefined || ms < min)
      throw new ConfigError([`${name}="${raw}" must be a duration of at least ${min} ms`]);
    return ms;
  };
  return {
    ...STREAM_DEFAULTS,
    pollMs: read('FLEET_STREAM_POLL', STREAM_DEFAULTS.pollMs, 100),
    maxMs: read('FLEET_STREAM_MAX', STREAM_DEFAULTS.maxMs, 1000),
    offlineAfterMs,
  };
}

export const init: SluiceFunction['init'] = async ({ store }) => {
  fleetConfig(process.env);
  streamOptions(process.env, 0);
  await store.collection(Collections.vehicles).createIndex({ keys: { updatedAtMs: 1 }, name: 'updatedAtMs' });
  process.once('SIGTERM', () => stopping.abort());
};

/** RFC 3339 date-time: seconds required, `T` and `Z` in either case. */
const DATE_TIME = /^(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/;

/** The instant an RFC 3339 date-time names; undefined for anything else, a day or an hour that is not one too. */
function instantOf(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (m === null) return undefined;
  // Date.parse rolls 02-30 over to 03-02 and takes 24:00: the wall clock it read must be the one written.
  const wall = `${m[1]}T${m[2]}`;
  const ms = Date.parse(`${wall}Z`);
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 19) !== wall) return undefined;
  const at = Date.parse(text.toUpperCase());
  return Number.isFinite(at) ? at : undefined;
}

interface Paging {
  readonly limit: number;
  readonly after: string | undefined;
  readonly fromMs: number | undefined;
  readonly toMs: number | undefined;
}

/** `limit`, `after`, `from`, `to`, each checked; undefined once a 400 was sent. */
function paging(req: Request, res: Response, after: RegExp): Paging | undefined {
  const query = new QueryReader(req);
  const limit = query.limit(DEFAULT_PAGE, MAX_PAGE);
  const rawAfter = query.string('after', { pattern: after, reason: 'the `next` value of a previous page' });
  const time = (name: string): number | undefined => {
    const raw = query.string(name);
    if (raw === undefined) return undefined;
    const ms = instantOf(raw);
    if (ms === undefined) query.invalid(name, 'an RFC 3339 date-time, e.g. 2026-03-01T08:00:00Z');
    return ms;
  };
  const fromMs = time('from');
  const toMs = time('to');
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) query.invalid('to', 'before from');
  if (query.refused(res)) return undefined;
  return { limit, after: rawAfter, fromMs, toMs };
}

/** A vehicle id from the path, else a 404 (ids are letters, digits, _ and -). */
function vehicleId(req: Request, res: Response): string | undefined {
  const id = req.params.id;
  if (typeof id === 'string' && VEHICLE_ID_PATTERN.test(id)) return id;
  sendProblem(res, 404, 'no such vehicle (ids are 1-64 letters, digits, _ or -)');
  return undefined;
}

/**
 * One page of a vehicle's documents keyed by time (`<vehicle>|<13-digit ms>`: track points by fix time, trips by
 * start time), oldest first, in [from, to) and after the cursor; `next` is the last one's time as 13 digits, the
 * cursor of the following page (null after the last page).
 */
async function timePage<T extends Doc>(
  collection: Collection<T>,
  id: string,
  page: Paging,
  timeOf: (doc: T) => number,
): Promise<{ items: T[]; next: string | null }> {
  const range = vehicleRange(id, page.fromMs, page.toMs);
  const after = page.after === undefined ? undefined : vehicleTimeId(id, Number(page.after));
  const from = after !== undefined && after >= range.$gte ? { $gt: after } : { $gte: range.$gte };
  const items = await collection.find(ofVehicle(id, { ...from, $lt: range.$lt }), {
    sort: { _id: 1 },
    limit: page.limit,
  });
  const last = items.at(-1);
  return { items, next: items.length === page.limit && last !== undefined ? timeKey(timeOf(last)) : null };
}

export const routes: SluiceFunction['routes'] = (router: Router, { store, log }) => {
  const config = fleetConfig(process.env);
  const options = streamOptions(process.env, config.offlineAfterMs);
  const vehicles = store.collection<VehicleDoc>(Collections.vehicles);
  const track = store.collection<TrackDoc>(Collections.track);
  const trips = store.collection<TripDoc>(Collections.trips);
  /** A store outage answers 503 + Retry-After, a bug 500 (logged): the runtime's `route`. */
  const route = (fn: (req: Request, res: Response) => Promise<void>) =>
    answeredRoute(fn, (err) =>
      log.error(`vehicles-api route failed: ${(err as Error).message}`, { 'event.action': 'route-failed' }),
    );

  router.get('/vehicles/openapi.json', openApiRoute(openApiDocument()));

  router.get(
    '/vehicles',
    route(async (req, res) => {
      const page = paging(req, res, VEHICLE_ID_PATTERN);
      if (page === undefined) return;
      const filter = page.after === undefined ? {} : { _id: { $gt: page.after } };
      const list = await vehicles.find(filter, { sort: { _id: 1 }, limit: page.limit });
      const now = Date.now();
      res.json({
        vehicles: list.map((v) => vehicleView(v, now, config.offlineAfterMs)),
        next: list.length === page.limit ? (list.at(-1)?._id ?? null) : null,
      });
    }),
  );

  router.get(
    '/vehicles/stream',
    route(async (req, res) => {
      const header = req.get('last-event-id');
      const query = typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined;
      await streamVehicles(vehicles, res, parseLastEventId(header ?? query), options, stopping.signal);
    }),
  );

  router.get(
    '/vehicles/:id',
    route(async (req, res) => {
      const id = vehicleId(req, res);
      if (id === undefined) return;
      const v = await vehicles.findOne({ _id: { $eq: id } });
      if (v === null) return sendProblem(res, 404, `no vehicle ${id}`);
      res.json(vehicleView(v, Date.now(), config.offlineAfterMs));
    }),
  );

  router.get(
    '/vehicles/:id/positions',
    route(async (req, res) => {
      const id = vehicleId(req, res);
      if (id === undefined) return;
      const page = paging(req, res, TIME_CURSOR);
      if (page === undefined) return;
      const { items, next } = await timePage(track, id, page, (p) => p.t);
      res.json({ vehicleId: id, positions: items.map(positionView), next });
    }),
  );

  router.get(
    '/vehicles/:id/trips',
    route(async (req, res) => {
      const id = vehicleId(req, res);
      if (id === undefined) return;
      const page = paging(req, res, TIME_CURSOR);
      if (page === undefined) return;
      const { items, next } = await timePage(trips, id, page, (t) => t.startT);
      res.json({ vehicleId: id, trips: items.map(tripView), next });
    }),
  );
};
