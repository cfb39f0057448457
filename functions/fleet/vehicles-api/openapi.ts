/**
 * vehicles-api's OpenAPI 3.1 document, served at /api/vehicles/openapi.json. Written by hand beside the routes
 * (handler.ts) and the shapes (views.ts); a test checks that every route the router has is in it.
 */
import { problemResponse, problemSchemas } from '../../runtime/src/index.ts';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

const badRequest = { $ref: '#/components/responses/BadRequest' };
const notFound = { $ref: '#/components/responses/NotFound' };
/** What any route answers when its store fails (the runtime's `route`). */
const failures = {
  '500': { $ref: '#/components/responses/Internal' },
  '503': { $ref: '#/components/responses/Unavailable' },
};
const position = {
  type: 'object',
  required: ['latitude', 'longitude'],
  properties: { latitude: { type: 'number' }, longitude: { type: 'number' } },
};
const page = [
  {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
  },
  {
    name: 'after',
    in: 'query',
    description: 'The `next` value of the previous page',
    schema: { type: 'string' },
  },
];
const range = [
  {
    name: 'from',
    in: 'query',
    description: 'From this time on (RFC 3339)',
    schema: { type: 'string', format: 'date-time' },
  },
  {
    name: 'to',
    in: 'query',
    description: 'Before this time (RFC 3339)',
    schema: { type: 'string', format: 'date-time' },
  },
];
const id = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'sluice fleet vehicles API',
      version: '1.0.0',
      description:
        'Live positions, history and trips of the fleet, derived by position-tracker from the vehicles’ GPS fixes (docs/fleet.md).',
    },
    servers: [{ url: '/api' }],
    paths: {
      '/vehicles': {
        get: {
          summary: 'Every vehicle: live position, speed, heading, status, last seen',
          parameters: page,
          responses: {
            ...failures,
            200: {
              description: 'A page of vehicles by id',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['vehicles', 'next'],
                    properties: {
                      vehicles: { type: 'array', items: { $ref: '#/components/schemas/Vehicle' } },
                      next: { type: ['string', 'null'] },
                    },
                  },
                },
              },
            },
            400: badRequest,
          },
        },
      },
      '/vehicles/stream': {
        get: {
          summary:
            'Server-sent events of live positions (event: vehicle, event: tick), resumable with Last-Event-ID',
          description:
            'The server ends each stream after about 50 s; EventSource reconnects with Last-Event-ID and gets every vehicle updated since.',
          parameters: [
            { name: 'Last-Event-ID', in: 'header', schema: { type: 'string', pattern: '^\\d+$' } },
          ],
          responses: {
            ...failures,
            200: {
              description: 'The stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/vehicles/{id}': {
        get: {
          summary: 'One vehicle',
          parameters: [id],
          responses: {
            ...failures,
            200: {
              description: 'The vehicle',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Vehicle' } } },
            },
            404: notFound,
          },
        },
      },
      '/vehicles/{id}/positions': {
        get: {
          summary: 'A vehicle’s history, oldest first: every fix with its derived speed and heading',
          parameters: [id, ...range, ...page],
          responses: {
            ...failures,
            200: {
              description: 'A page of positions',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['vehicleId', 'positions', 'next'],
                    properties: {
                      vehicleId: { type: 'string' },
                      positions: { type: 'array', items: { $ref: '#/components/schemas/Position' } },
                      next: { type: ['string', 'null'] },
                    },
                  },
                },
              },
            },
            400: badRequest,
            404: notFound,
          },
        },
      },
      '/vehicles/{id}/trips': {
        get: {
          summary: 'A vehicle’s trips by start time (the one going on has no end)',
          parameters: [id, ...range, ...page],
          responses: {
            ...failures,
            200: {
              description: 'A page of trips',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['vehicleId', 'trips', 'next'],
                    properties: {
                      vehicleId: { type: 'string' },
                      trips: { type: 'array', items: { $ref: '#/components/schemas/Trip' } },
                      next: { type: ['string', 'null'] },
                    },
                  },
                },
              },
            },
            400: badRequest,
            404: notFound,
          },
        },
      },
    },
    components: {
      schemas: {
        Vehicle: {
          type: 'object',
          required: ['id', 'status', 'lastSeen', 'position', 'speedKmh', 'headingDeg', 'trip'],
          properties: {
            id: { type: 'string' },
            status: { enum: ['moving', 'stopped', 'offline'] },
            lastSeen: { type: 'string', format: 'date-time' },
            position,
            speedKmh: { type: 'number' },
            headingDeg: { type: 'number', minimum: 0, exclusiveMaximum: 360 },
            trip: {
              oneOf: [
                {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    startTime: { type: 'string', format: 'date-time' },
                    distanceM: { type: 'number' },
                  },
                },
                { type: 'null' },
              ],
            },
          },
        },
        Position: {
          type: 'object',
          required: ['time', 'latitude', 'longitude', 'kind', 'speedKmh', 'headingDeg', 'moving'],
          properties: {
            time: { type: 'string', format: 'date-time' },
            latitude: { type: 'number' },
            longitude: { type: 'number' },
            kind: { enum: ['accepted', 'jitter', 'rejected'] },
            reason: {
              type: 'string',
              description: 'Why a rejected fix was not believed (implausible-speed)',
            },
            speedKmh: { type: 'number' },
            headingDeg: { type: 'number' },
            moving: { type: 'boolean' },
          },
        },
        Trip: {
          type: 'object',
          required: [
            'id',
            'startTime',
            'start',
            'endTime',
            'end',
            'distanceM',
            'durationS',
            'maxSpeedKmh',
            'averageSpeedKmh',
          ],
          properties: {
            id: { type: 'string' },
            startTime: { type: 'string', format: 'date-time' },
            start: position,
            endTime: { type: ['string', 'null'], format: 'date-time' },
            end: { oneOf: [position, { type: 'null' }] },
            distanceM: { type: 'number' },
            durationS: { type: ['number', 'null'] },
            maxSpeedKmh: { type: 'number' },
            averageSpeedKmh: { type: ['number', 'null'] },
          },
        },
        ...problemSchemas(),
      },
      responses: {
        BadRequest: problemResponse(
          400,
          'The query is not valid: `invalid-params` names each parameter at fault',
        ),
        NotFound: problemResponse(404, 'No such vehicle (ids are 1-64 letters, digits, _ or -)'),
        Internal: problemResponse(500, 'A bug: the function logged it'),
        Unavailable: problemResponse(503, 'The store did not answer; retry after Retry-After'),
      },
    },
  };
}
