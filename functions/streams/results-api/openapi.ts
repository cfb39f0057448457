/**
 * The results API's OpenAPI 3.1 document, generated from the same JSON Schemas the runtime validates the
 * function's events with (`schemas/*.json`, imported here): a window is exactly a `window.closed.v1` event's
 * data, a late reading a `reading.late.v1` event's data. OpenAPI 3.1's schema dialect is JSON Schema 2020-12,
 * so they are used as they are, only their `$schema`/`$id` left out (they are components here).
 */
import { problemResponse, problemSchemas, schemaComponent } from '../../runtime/src/index.ts';
import late from './schemas/dev.sluice.streams.reading.late.v1.json' with { type: 'json' };
import closed from './schemas/dev.sluice.streams.window.closed.v1.json' with { type: 'json' };

/** Where the gateway serves this API (functions/streams/routes.yaml). */
export const PUBLIC_PREFIX = '/api/streams';
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const page = (item: string, key: string) => ({
  type: 'object',
  additionalProperties: false,
  required: [key, 'next'],
  properties: {
    [key]: { type: 'array', items: ref(item) },
    next: {
      type: ['string', 'null'],
      description: 'Pass as `after` to get the next page; null on the last page',
    },
  },
});
const timeParam = (name: string, description: string) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type: 'string', format: 'date-time' },
});
const LIMIT = {
  name: 'limit',
  in: 'query',
  required: false,
  description: `Page size, 1 to ${MAX_PAGE}`,
  schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
};
const AFTER = {
  name: 'after',
  in: 'query',
  required: false,
  description: 'The `next` value of the previous page',
  schema: { type: 'string', maxLength: 200 },
};

export function openApiDocument(): Record<string, Json> {
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'sluice streams results',
      version: '1.0.0',
      description:
        'Per-sensor tumbling windows (count, sum, min, max, mean) by event time, and the readings that came after ' +
        'their window was final. Windows appear once the watermark has passed them and window-closer made them final.',
    },
    servers: [{ url: PUBLIC_PREFIX }],
    paths: {
      '/sensors': {
        get: {
          operationId: 'listSensors',
          summary: 'Sensors with at least one final window',
          parameters: [LIMIT, AFTER],
          responses: {
            '200': {
              description: 'A page of sensors',
              content: { 'application/json': { schema: ref('SensorPage') } },
            },
            '400': problemResponse(400, 'Invalid paging parameters'),
          },
        },
      },
      '/sensors/{id}/windows': {
        get: {
          operationId: 'listWindows',
          summary: "A sensor's final windows, oldest first",
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              schema: (closed.properties as Record<string, Json>).sensorId as Json,
            },
            timeParam('from', 'Windows starting at or after this time'),
            timeParam('to', 'Windows starting before this time'),
            LIMIT,
            AFTER,
          ],
          responses: {
            '200': {
              description: 'A page of windows',
              content: { 'application/json': { schema: ref('WindowPage') } },
            },
            '400': problemResponse(400, 'Invalid sensor id, time or paging parameter'),
            '404': problemResponse(404, 'No window of this sensor yet'),
          },
        },
      },
      '/late': {
        get: {
          operationId: 'listLateReadings',
          summary: 'Readings that came after their window was final, by event time',
          parameters: [
            {
              name: 'sensor',
              in: 'query',
              required: false,
              schema: (closed.properties as Record<string, Json>).sensorId as Json,
            },
            timeParam('from', 'Readings measured at or after this time'),
            timeParam('to', 'Readings measured before this time'),
            LIMIT,
            AFTER,
          ],
          responses: {
            '200': {
              description: 'A page of late readings',
              content: { 'application/json': { schema: ref('LatePage') } },
            },
            '400': problemResponse(400, 'Invalid sensor id, time or paging parameter'),
          },
        },
      },
    },
    components: {
      schemas: {
        Window: schemaComponent(closed),
        LateReading: schemaComponent(late),
        Sensor: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'unit', 'lastWindowStart'],
          properties: {
            id: (closed.properties as Record<string, Json>).sensorId as Json,
            unit: (closed.properties as Record<string, Json>).unit as Json,
            lastWindowStart: { type: 'string', format: 'date-time' },
          },
        },
        WindowPage: page('Window', 'windows'),
        LatePage: page('LateReading', 'late'),
        SensorPage: page('Sensor', 'sensors'),
        ...problemSchemas(),
      },
    },
  };
  return JSON.parse(JSON.stringify(doc)) as Record<string, Json>;
}
