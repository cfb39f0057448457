/**
 * vehicles-api's OpenAPI 3.1 document, served at /api/vehicles/openapi.json. Written by hand beside the routes
 * (handler.ts) and the shapes (views.ts); handler.test.ts checks every answer it reads against it, that every route
 * the router has is in it, and that every status it documents is answered.
 */
import {
  FAILURE_REFS,
  failureResponses,
  type GetOperation,
  headOf,
  OPENAPI_DOCUMENT_OPERATION,
  type OpenApiObject,
  problemResponse,
  problemSchemas,
} from '../../runtime/src/index.ts';
import { VEHICLE_ID_PATTERN } from '../lib/fleet.ts';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;
/** `after` of a vehicle's positions and trips: the `next` of the previous page, a time in ms, 13 digits. */
export const TIME_CURSOR = /^\d{13}$/;

/** Every response a route refers to, by component name. */
const RESPONSES: Readonly<Record<string, OpenApiObject>> = {
  BadRequest: problemResponse(
    400,
    'A query parameter is not valid (`invalid-params` names each), or the path is not valid percent-encoding',
  ),
  NotFound: problemResponse(404, 'No such vehicle (ids are 1-64 letters, digits, _ or -)'),
  NotAVehicleId: problemResponse(
    404,
    'The id cannot be a vehicle’s (ids are 1-64 letters, digits, _ or -); under an id no vehicle reported with, ' +
      'the history is empty (200), not a 404',
  ),
  ...failureResponses(),
};
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** What any route that reads the store answers when it fails (the runtime's `route`). */
const failures = FAILURE_REFS;
const json = (schema: OpenApiObject) => ({ 'application/json': { schema } });

const position = {
  type: 'object',
  required: ['latitude', 'longitude'],
  properties: { latitude: { type: 'number' }, longitude: { type: 'number' } },
};
const page = (after: { readonly description: string; readonly pattern: RegExp }) => [
  {
    name: 'limit',
    in: 'query',
    description: `Page size, 1 to ${MAX_PAGE}`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
  },
  {
    name: 'after',
    in: 'query',
    description: after.description,
    schema: { type: 'string', pattern: after.pattern.source },
  },
];
const range = [
  {
    name: 'from',
    in: 'query',
    description: 'From this time on (RFC 3339, e.g. 2026-03-01T08:00:00Z)',
    schema: { type: 'string', format: 'date-time' },
  },
  {
    name: 'to',
    in: 'query',
    description: 'Before this time (RFC 3339), not before `from`',
    schema: { type: 'string', format: 'date-time' },
  },
];
const id = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The vehicle’s id',
  schema: { type: 'string', pattern: VEHICLE_ID_PATTERN.source },
};
/** A page of one vehicle's `items` (positions, trips). */
const vehiclePage = (items: string, schema: string, description: string) => ({
  description,
  content: json({
    type: 'object',
    required: ['vehicleId', items, 'next'],
    properties: {
      vehicleId: { type: 'string' },
      [items]: { type: 'array', items: { $ref: `#/components/schemas/${schema}` } },
      next: { type: ['string', 'null'], pattern: TIME_CURSOR.source },
    },
  }),
});
const timePage = page({
  description: 'The `next` of the previous page',
  pattern: TIME_CURSOR,
});

const getDocument: GetOperation = OPENAPI_DOCUMENT_OPERATION;

const listVehicles: GetOperation = {
  summary: 'Every vehicle: live position, speed, heading, status, last seen',
  parameters: page({
    description: 'The `next` of the previous page (a vehicle id)',
    pattern: VEHICLE_ID_PATTERN,
  }),
  responses: {
    '200': {
      description: 'A page of vehicles by id',
      content: json({
        type: 'object',
        required: ['vehicles', 'next'],
        properties: {
          vehicles: { type: 'array', items: { $ref: '#/components/schemas/Vehicle' } },
          next: { type: ['string', 'null'], pattern: VEHICLE_ID_PATTERN.source },
        },
      }),
    },
    '400': responseRef('BadRequest'),
    ...failures,
  },
};

const getVehicle: GetOperation = {
  summary: 'One vehicle',
  parameters: [id],
  responses: {
    '200': { description: 'The vehicle', content: json({ $ref: '#/components/schemas/Vehicle' }) },
    '400': responseRef('BadRequest'),
    '404': responseRef('NotFound'),
    ...failures,
  },
};

const getPositions: GetOperation = {
  summary: 'A vehicle’s history, oldest first: every fix with its derived speed and heading',
  parameters: [id, ...range, ...timePage],
  responses: {
    '200': vehiclePage('positions', 'Position', 'A page of positions'),
    '400': responseRef('BadRequest'),
    '404': responseRef('NotAVehicleId'),
    ...failures,
  },
};

const getTrips: GetOperation = {
  summary: 'A vehicle’s trips by start time (the one going on has no end)',
  parameters: [id, ...range, ...timePage],
  responses: {
    '200': vehiclePage('trips', 'Trip', 'A page of trips'),
    '400': responseRef('BadRequest'),
    '404': responseRef('NotAVehicleId'),
    ...failures,
  },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'sluice fleet vehicles API',
      version: '1.0.0',
      description:
        'Live positions, history and trips of the fleet, derived by position-tracker from the vehicles’ GPS fixes ' +
        '(docs/fleet.md). HEAD answers as GET, without the body. Every refusal is RFC 9457 problem+json.',
    },
    servers: [{ url: '/api' }],
    paths: {
      '/vehicles': { get: listVehicles, head: headOf(listVehicles, RESPONSES) },
      // Before /vehicles/{id} for readers; a literal segment wins over a parameter either way.
      '/vehicles/openapi.json': { get: getDocument, head: headOf(getDocument, RESPONSES) },
      '/vehicles/stream': {
        // GET only: the gateway routes nothing else to the stream (functions/fleet/routes.yaml).
        get: {
          summary:
            'Server-sent events of live positions (event: vehicle, event: tick), resumable with Last-Event-ID',
          description:
            'The server ends each stream after about 50 s; EventSource reconnects with Last-Event-ID and gets every ' +
            'vehicle updated since. The stream is answered before the store is read: a store that does not answer ' +
            'ends it (EventSource reconnects and resumes), it is never a 503.',
          parameters: [
            {
              name: 'Last-Event-ID',
              in: 'header',
              description:
                'The id of the last event received (an update time in ms): every vehicle updated since; any other ' +
                'value, every vehicle',
              schema: { type: 'string' },
            },
            {
              name: 'lastEventId',
              in: 'query',
              description: 'The same, for a client that cannot send the header (the header wins)',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': {
              description: 'The stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/vehicles/{id}': { get: getVehicle, head: headOf(getVehicle, RESPONSES) },
      '/vehicles/{id}/positions': { get: getPositions, head: headOf(getPositions, RESPONSES) },
      '/vehicles/{id}/trips': { get: getTrips, head: headOf(getTrips, RESPONSES) },
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
      responses: RESPONSES,
    },
  };
}
