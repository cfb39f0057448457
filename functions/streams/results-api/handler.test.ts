import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type CloudEvent,
  JsonLogger,
  MemoryDocumentStore,
  type SluiceFunction,
} from '../../runtime/src/index.ts';
import { answerOf, answerProblems, openApiProblems } from '../../runtime/test/openapi.ts';
import { serveRoutes } from '../../runtime/test/routes-server.ts';
import { exampleEvent, stubContext } from '../../runtime/test/support.ts';
import { type ReadingLate, StreamsEventType, type WindowClosed } from '../lib/streams.ts';
import { ASSETS, readAsset } from './docs-page.ts';
import type { Events, Handle } from './events.gen.ts';
import { accepts, handle, init, routes } from './handler.ts';
import { MAX_PAGE, openApiDocument } from './openapi.ts';

const closers: (() => void)[] = [];
let store: MemoryDocumentStore;
let base: string;

beforeEach(async () => {
  store = new MemoryDocumentStore();
  const log = new JsonLogger({ serviceName: 't', sink: { write: () => true } });
  await init?.({ store, log, functionName: 'results-api' });
  const served = await serveRoutes(routes, { store, log, functionName: 'results-api' });
  closers.push(() => served.close());
  base = served.base;
});

afterEach(() => {
  for (const close of closers.splice(0)) close();
});

const minute = (n: number) => new Date(Date.UTC(2026, 2, 1, 12, n)).toISOString();

function closed(
  sensorId: string,
  n: number,
  count = 2,
): CloudEvent<WindowClosed, typeof StreamsEventType.windowClosed> {
  return {
    specversion: '1.0',
    id: `window-closed-${sensorId}-${minute(n)}`,
    source: '/sluice/functions/window-closer',
    type: StreamsEventType.windowClosed,
    subject: sensorId,
    data: {
      sensorId,
      windowStart: minute(n),
      windowEnd: minute(n + 1),
      unit: 'C',
      count,
      sum: 40,
      min: 19,
      max: 21,
      mean: 40 / count,
    },
    extensions: {},
  };
}

function late(
  sensorId: string,
  id: string,
  second: number,
): CloudEvent<ReadingLate, typeof StreamsEventType.readingLate> {
  const time = new Date(Date.UTC(2026, 2, 1, 12, 0, second)).toISOString();
  return {
    specversion: '1.0',
    id: `late-${id}`,
    source: '/sluice/functions/window-aggregator',
    type: StreamsEventType.readingLate,
    subject: sensorId,
    data: {
      sensorId,
      time,
      value: 1,
      unit: 'C',
      windowStart: minute(0),
      windowEnd: minute(1),
      watermark: minute(3),
      reading: { id, source: '/gen' },
    },
    extensions: {},
  };
}

/** Every JSON answer a test reads is also checked against the OpenAPI document: the document cannot drift. */
const get = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  // The documented paths are below the server /streams (the gateway's /api/streams).
  const answer = await answerOf('GET', path.replace(/^\/streams/, ''), res);
  // The document, its Swagger UI and a path outside the API are the answers it does not describe.
  const described =
    answer.path !== '/openapi.json' && !answer.path.startsWith('/docs') && answer.path !== '/nothing';
  if (answer.contentType?.includes('json') && described)
    expect(answerProblems(openApiDocument(), answer)).toEqual([]);
  return { status: answer.status, type: answer.contentType ?? '', body: answer.text, res };
};
const getJson = async <T>(path: string): Promise<T> => JSON.parse((await get(path)).body) as T;

describe('results-api', () => {
  it('is a SluiceFunction with read routes, fed by window.closed and reading.late', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts>>();
    expectTypeOf(routes).toEqualTypeOf<SluiceFunction['routes']>();
    expect(accepts).toEqual([StreamsEventType.windowClosed, StreamsEventType.readingLate]);
  });

  describe('handle', () => {
    it('keeps each example once, however often it comes', async () => {
      for (const event of [
        exampleEvent<Events, typeof StreamsEventType.windowClosed>(
          import.meta.dirname,
          StreamsEventType.windowClosed,
        ),
        exampleEvent<Events, typeof StreamsEventType.readingLate>(
          import.meta.dirname,
          StreamsEventType.readingLate,
        ),
      ]) {
        await handle(event, stubContext(store));
        await handle(event, stubContext(store));
      }
      const windows = await getJson<{ windows: WindowClosed[] }>('/streams/sensors/s-001/windows');
      expect(windows.windows).toHaveLength(1);
      const lateOnes = await getJson<{ late: ReadingLate[] }>('/streams/late');
      expect(lateOnes.late).toHaveLength(1);
    });
  });

  describe('routes', () => {
    it('GET /streams/sensors/{id}/windows: oldest first, from/to by window start, paged with next/after', async () => {
      for (const n of [3, 1, 0, 2]) await handle(closed('s-1', n), stubContext(store));
      await handle(closed('s-2', 0), stubContext(store));
      const all = await getJson<{ windows: WindowClosed[]; next: string | null }>(
        '/streams/sensors/s-1/windows',
      );
      expect(all.windows.map((w) => w.windowStart)).toEqual([0, 1, 2, 3].map(minute));
      expect(all.next).toBeNull();
      expect(all.windows[0]).toEqual(closed('s-1', 0).data);

      const range = await getJson<{ windows: WindowClosed[] }>(
        `/streams/sensors/s-1/windows?from=${minute(1)}&to=${minute(3)}`,
      );
      expect(range.windows.map((w) => w.windowStart)).toEqual([minute(1), minute(2)]);

      const page1 = await getJson<{ windows: WindowClosed[]; next: string }>(
        '/streams/sensors/s-1/windows?limit=3',
      );
      expect(page1.windows).toHaveLength(3);
      const page2 = await getJson<{ windows: WindowClosed[]; next: string | null }>(
        `/streams/sensors/s-1/windows?limit=3&after=${encodeURIComponent(page1.next)}`,
      );
      expect(page2.windows.map((w) => w.windowStart)).toEqual([minute(3)]);
      expect(page2.next).toBeNull();
    });

    it('GET /streams/sensors: the sensors with final windows, their last window start', async () => {
      await handle(closed('s-2', 0), stubContext(store));
      await handle(closed('s-1', 4), stubContext(store));
      await handle(closed('s-1', 2), stubContext(store)); // an older window delivered later
      const body = await getJson<{ sensors: { id: string; lastWindowStart: string }[] }>('/streams/sensors');
      expect(body.sensors).toEqual([
        { id: 's-1', unit: 'C', lastWindowStart: minute(4) },
        { id: 's-2', unit: 'C', lastWindowStart: minute(0) },
      ]);
    });

    it('GET /streams/late: by event time, one sensor or all, paged', async () => {
      await handle(late('s-1', 'a', 30), stubContext(store));
      await handle(late('s-2', 'b', 10), stubContext(store));
      await handle(late('s-1', 'c', 20), stubContext(store));
      const all = await getJson<{ late: ReadingLate[] }>('/streams/late');
      expect(all.late.map((l) => l.reading.id)).toEqual(['b', 'c', 'a']);
      const one = await getJson<{ late: ReadingLate[] }>('/streams/late?sensor=s-1');
      expect(one.late.map((l) => l.reading.id)).toEqual(['c', 'a']);
      const first = await getJson<{ late: ReadingLate[]; next: string }>('/streams/late?limit=2');
      const rest = await getJson<{ late: ReadingLate[]; next: string | null }>(
        `/streams/late?limit=2&after=${encodeURIComponent(first.next)}`,
      );
      expect(rest.late.map((l) => l.reading.id)).toEqual(['a']);
    });

    it('answers bad queries with 400 problem+json, an unknown sensor with 404', async () => {
      for (const path of [
        `/streams/sensors?limit=${MAX_PAGE + 1}`,
        '/streams/sensors?limit=0',
        '/streams/sensors?limit=1e1',
        '/streams/sensors/s-1/windows?from=yesterday',
        '/streams/sensors/s-1/windows?limit=1&limit=2',
        '/streams/sensors/$ne/windows',
        '/streams/late?sensor=a%20b',
      ]) {
        const r = await get(path);
        expect(r.status, path).toBe(400);
        expect(r.type, path).toContain('application/problem+json');
        expect(JSON.parse(r.body)).toMatchObject({ status: 400, title: 'Invalid Request' });
      }
      const missing = await get('/streams/sensors/nobody/windows');
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body).detail).toContain('nobody');
      expect((await get('/streams/nothing')).status).toBe(404);
    });

    it('GET /streams/openapi.json: OpenAPI 3.1 whose schemas are the ones the function validates its events with', async () => {
      const doc = await getJson<{
        openapi: string;
        paths: Record<string, unknown>;
        components: { schemas: Record<string, Record<string, unknown>> };
      }>('/streams/openapi.json');
      expect(doc.openapi).toBe('3.1.0');
      expect(openApiProblems(doc)).toEqual([]);
      expect(Object.keys(doc.paths).sort()).toEqual(['/late', '/sensors', '/sensors/{id}/windows']);
      const schemas = Object.values(doc.components.schemas);
      for (const file of readdirSync(join(import.meta.dirname, 'schemas'))) {
        const {
          $schema: _s,
          $id: _i,
          ...schema
        } = JSON.parse(readFileSync(join(import.meta.dirname, 'schemas', file), 'utf8')) as Record<
          string,
          unknown
        >;
        expect(schemas, file).toContainEqual(schema);
      }
    });

    it('GET /streams/docs: Swagger UI from the swagger-ui-dist package, scripts only from here', async () => {
      const page = await get('/streams/docs');
      expect(page.status).toBe(200);
      expect(page.type).toContain('text/html');
      expect(page.res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(page.body).not.toMatch(/https?:\/\//);
      const css = await get('/streams/docs/swagger-ui.css');
      expect(css.status).toBe(200);
      expect(css.type).toContain('text/css');
      expect(css.body.length).toBeGreaterThan(10_000);
      expect((await get('/streams/docs/initializer.js')).body).toContain('SwaggerUIBundle');
      expect((await get('/streams/docs/package.json')).status).toBe(404);
    });

    it('lists in bundle.json every Swagger UI file the page loads, so an image carries them', () => {
      const { packageFiles } = JSON.parse(readFileSync(join(import.meta.dirname, 'bundle.json'), 'utf8')) as {
        packageFiles: Record<string, string[]>;
      };
      expect(packageFiles['swagger-ui-dist']).toEqual(expect.arrayContaining(Object.keys(ASSETS)));
    });

    it('cannot serve a Swagger UI file that is not there', async () => {
      await expect(readAsset('swagger-ui-standalone-preset.js', '/nonexistent')).rejects.toThrow();
    });
  });
});
