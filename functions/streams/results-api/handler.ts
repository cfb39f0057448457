/**
 * results-api — the read side of the stream processor. Keeps its own view from the events (window.closed,
 * reading.late: inserts keyed by window and by reading, so a redelivery changes nothing) and serves it over
 * plain HTTP GET, behind the gateway at /api/streams (functions/streams/routes.yaml):
 *   GET /streams/sensors                         sensors with final windows (paged)
 *   GET /streams/sensors/:id/windows?from&to     a sensor's windows by start time (paged)
 *   GET /streams/late?sensor&from&to             late readings by event time (paged)
 *   GET /streams/openapi.json                    OpenAPI 3.1, generated from schemas/ (openapi.ts)
 *   GET /streams/docs                            Swagger UI from the swagger-ui-dist package (docs-page.ts)
 */
import type { Request, Response, Router } from 'express';
import {
  type Collection,
  type DocumentStore,
  DuplicateKeyError,
  openApiRoute,
  QueryReader,
  type SluiceFunction,
  sendProblem,
} from '../../runtime/src/index.ts';
import {
  Collections,
  type ReadingLate,
  SENSOR_ID_PATTERN,
  StreamsEventType,
  type WindowClosed,
} from '../lib/streams.ts';
import { readingKey } from '../lib/windows.ts';
import {
  ASSETS,
  type AssetName,
  CONTENT_SECURITY_POLICY,
  INITIALIZER,
  PAGE,
  readAsset,
} from './docs-page.ts';
import type { Handle } from './events.gen.ts';
import { DEFAULT_PAGE, MAX_PAGE, openApiDocument } from './openapi.ts';

export const accepts = [StreamsEventType.windowClosed, StreamsEventType.readingLate] as const;

interface WindowView extends WindowClosed, Record<string, unknown> {
  _id: string;
}
interface SensorView extends Record<string, unknown> {
  _id: string;
  unit: string;
  lastWindowStart: string;
}
interface LateView extends ReadingLate, Record<string, unknown> {
  _id: string;
}

const views = (store: DocumentStore) => ({
  windows: store.collection<WindowView>(Collections.viewWindows),
  sensors: store.collection<SensorView>(Collections.viewSensors),
  late: store.collection<LateView>(Collections.viewLate),
});

async function insertIfAbsent<T extends Record<string, unknown>>(c: Collection<T>, doc: T): Promise<boolean> {
  try {
    await c.insertOne(doc);
    return true;
  } catch (err) {
    if (err instanceof DuplicateKeyError) return false;
    throw err;
  }
}

export const init: SluiceFunction['init'] = async ({ store }) => {
  const v = views(store);
  await v.windows.createIndex({ keys: { sensorId: 1, windowStart: 1 }, name: 'sensor_start' });
  await v.late.createIndex({ keys: { sensorId: 1, time: 1 }, name: 'sensor_time' });
};

export const handle: Handle<typeof accepts> = async (event, { store }) => {
  const v = views(store);
  if (event.type === StreamsEventType.windowClosed) {
    const w = event.data;
    await insertIfAbsent(v.windows, { _id: `${w.sensorId}|${w.windowStart}`, ...w });
    if (
      !(await insertIfAbsent(v.sensors, { _id: w.sensorId, unit: w.unit, lastWindowStart: w.windowStart }))
    ) {
      // A view only: on FerretDB two racing updates may keep the older start until the next window (docs/streams.md).
      await v.sensors.updateOne(
        { _id: w.sensorId, lastWindowStart: { $lt: w.windowStart } },
        { $set: { lastWindowStart: w.windowStart } },
      );
    }
    return undefined;
  }
  const l = event.data;
  await insertIfAbsent(v.late, { _id: `${l.time}|${readingKey(l.reading.source, l.reading.id)}`, ...l });
  return undefined;
};

interface Query {
  readonly limit: number;
  readonly after: string | undefined;
  readonly from: string | undefined;
  readonly to: string | undefined;
}

/** A cursor as `next` writes it: at most 200 characters, none of them NUL. */
const CURSOR = /^[^\0]{0,200}$/;

/** `limit`, `after`, `from`, `to` (times normalised to ISO 8601 UTC); what is at fault is noted in `query`. */
function readPage(query: QueryReader): Query {
  const limit = query.limit(DEFAULT_PAGE, MAX_PAGE);
  const after = query.string('after', { pattern: CURSOR, reason: 'the `next` value of a previous page' });
  const time = (name: string): string | undefined => {
    const raw = query.string(name);
    if (raw === undefined) return undefined;
    const ms = /^\d{4}-\d\d-\d\dT/.test(raw) ? Date.parse(raw) : Number.NaN;
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
    query.invalid(name, 'an RFC 3339 date-time, e.g. 2026-03-01T12:00:00Z');
    return undefined;
  };
  return { limit, after, from: time('from'), to: time('to') };
}

function range(q: Query): Record<string, string> | undefined {
  const r: Record<string, string> = {};
  if (q.from !== undefined) r.$gte = q.from;
  if (q.to !== undefined) r.$lt = q.to;
  return Object.keys(r).length === 0 ? undefined : r;
}

const publicWindow = ({ _id, ...w }: WindowView): WindowClosed => w;
const publicLate = ({ _id, ...l }: LateView): ReadingLate => l;

export const routes: SluiceFunction['routes'] = (router: Router, { store }) => {
  const v = views(store);

  router.get('/streams/openapi.json', openApiRoute(openApiDocument()));
  router.get('/streams/docs', (_req, res) => {
    res.set('content-security-policy', CONTENT_SECURITY_POLICY).type('text/html; charset=utf-8').send(PAGE);
  });
  router.get('/streams/docs/initializer.js', (_req, res) => {
    res.type('text/javascript; charset=utf-8').send(INITIALIZER);
  });
  router.get('/streams/docs/:asset', async (req, res) => {
    const name = req.params.asset as string;
    if (!Object.hasOwn(ASSETS, name)) {
      sendProblem(res, 404, `no such file: ${name}`);
      return;
    }
    const asset = name as AssetName;
    try {
      const body = await readAsset(asset);
      res.set('cache-control', 'public, max-age=86400').type(ASSETS[asset]).send(body);
    } catch {
      sendProblem(
        res,
        503,
        'the swagger-ui-dist files are not installed beside this function (bundle.json)',
        {
          kind: ['docs-unavailable', 'Service Unavailable'],
        },
      );
    }
  });

  router.get('/streams/sensors', async (req, res) => {
    const query = new QueryReader(req);
    const q = readPage(query);
    if (query.refused(res)) return;
    const filter = q.after === undefined ? {} : { _id: { $gt: q.after } };
    const list = await v.sensors.find(filter, { sort: { _id: 1 }, limit: q.limit });
    const last = list.at(-1);
    res.json({
      sensors: list.map((s) => ({ id: s._id, unit: s.unit, lastWindowStart: s.lastWindowStart })),
      next: list.length === q.limit && last !== undefined ? last._id : null,
    });
  });

  router.get('/streams/sensors/:id/windows', async (req, res) => {
    const id = req.params.id;
    // Ids are matched with $eq: nothing from the URL can become a query operator.
    if (typeof id !== 'string' || !SENSOR_ID_PATTERN.test(id)) {
      sendProblem(res, 400, 'sensor ids are 1-64 letters, digits, _ or -');
      return;
    }
    const query = new QueryReader(req);
    const q = readPage(query);
    if (query.refused(res)) return;
    const starts: Record<string, string> = { ...range(q) };
    if (q.after !== undefined && (starts.$gte === undefined || q.after >= starts.$gte)) {
      delete starts.$gte;
      starts.$gt = q.after;
    }
    const filter =
      Object.keys(starts).length === 0
        ? { sensorId: { $eq: id } }
        : { sensorId: { $eq: id }, windowStart: starts };
    const list = await v.windows.find(filter, { sort: { windowStart: 1 }, limit: q.limit });
    if (
      list.length === 0 &&
      q.after === undefined &&
      (await v.sensors.findOne({ _id: { $eq: id } })) === null
    ) {
      sendProblem(res, 404, `no final window of sensor ${id} yet`);
      return;
    }
    const last = list.at(-1);
    res.json({
      windows: list.map(publicWindow),
      next: list.length === q.limit && last !== undefined ? last.windowStart : null,
    });
  });

  router.get('/streams/late', async (req, res) => {
    const query = new QueryReader(req);
    const q = readPage(query);
    const sensor = query.string('sensor', {
      pattern: SENSOR_ID_PATTERN,
      reason: 'one sensor id: 1-64 letters, digits, _ or -',
    });
    if (query.refused(res)) return;
    const ids: Record<string, string> = {};
    if (q.from !== undefined) ids.$gte = q.from;
    if (q.to !== undefined) ids.$lt = q.to;
    if (q.after !== undefined) ids.$gt = q.after;
    const filter: Record<string, unknown> = {};
    if (Object.keys(ids).length > 0) filter._id = ids;
    if (sensor !== undefined) filter.sensorId = { $eq: sensor };
    const list = await v.late.find(filter, { sort: { _id: 1 }, limit: q.limit });
    const last = list.at(-1);
    res.json({
      late: list.map(publicLate),
      next: list.length === q.limit && last !== undefined ? last._id : null,
    });
  });

  router.use((_req: Request, res: Response) => {
    sendProblem(
      res,
      404,
      'GET /streams/sensors, /streams/sensors/{id}/windows, /streams/late, /streams/openapi.json or /streams/docs',
    );
  });
};
