/**
 * OpenAPI 3.1 building blocks for what the runtime's routes answer (route-answers.ts): the problem+json components
 * and one response per problem status, built from the vocabulary `sendProblem` writes with (route-problem-types.ts),
 * so a document cannot name a type or title the runtime does not send. Plain data from constants: a function builds
 * its document when it starts, and this must not add to its cold start.
 */
import { PROBLEM_CONTENT_TYPE } from './cloudevent/problem.ts';
import { Limits } from './limits.ts';
import {
  MAX_PROBLEM_DETAIL,
  PROBLEM_TYPE_BASE,
  ROUTE_PROBLEM_TYPES,
  type RouteProblemStatus,
} from './route-problem-types.ts';

/** A part of an OpenAPI document: plain JSON. */
export type OpenApiObject = Record<string, unknown>;

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const INVALID_PARAM_REF = { $ref: '#/components/schemas/InvalidParam' };

/** What the runtime sends with every 503 of a store outage (route-answers.ts `route`, `routeFallbacks`). */
export const RETRY_AFTER_HEADER: OpenApiObject = {
  description: 'Seconds to wait before retrying',
  required: true,
  schema: { type: 'integer', minimum: 1 },
};

export interface ProblemSchemaOptions {
  /** What the Problem component says of itself. */
  readonly description?: string;
  /** Members a hop in front of the function adds to the problems it answers itself (the gateway's), by name. */
  readonly extensions?: Readonly<Record<string, OpenApiObject>>;
}

/**
 * `Problem` and `InvalidParam`, for a document's `components.schemas`: the shape of every problem `sendProblem`
 * writes (the responses of `problemResponse` refer to them by these names).
 */
export function problemSchemas(options: ProblemSchemaOptions = {}): Record<string, OpenApiObject> {
  return {
    Problem: {
      type: 'object',
      description:
        options.description ?? 'RFC 9457 problem details, as the runtime writes them (sendProblem)',
      additionalProperties: false,
      required: ['type', 'title', 'status', 'detail'],
      properties: {
        type: {
          type: 'string',
          format: 'uri',
          pattern: `^${PROBLEM_TYPE_BASE.replaceAll('.', '\\.')}[a-z]+(-[a-z]+)*$`,
        },
        title: { type: 'string', minLength: 1 },
        status: { type: 'integer', minimum: 400, maximum: 599 },
        detail: { type: 'string', maxLength: MAX_PROBLEM_DETAIL },
        // sendProblem cuts the list at Limits.problems, the bound events' problems keep.
        'invalid-params': {
          type: 'array',
          minItems: 1,
          maxItems: Limits.problems,
          items: INVALID_PARAM_REF,
        },
        ...options.extensions,
      },
    },
    InvalidParam: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'reason'],
      properties: {
        name: { type: 'string', description: 'The field, query parameter or header at fault, or `(body)`' },
        reason: { type: 'string' },
      },
    },
  };
}

/**
 * A problem+json response of `status` whose `type` is one of `types` (slugs below PROBLEM_TYPE_BASE) and whose
 * `title` is `title` when given. For a status a hop in front of the function (the gateway) answers too, in its own
 * words; what the function alone answers is `problemResponse`.
 */
export function problemResponseOfTypes(
  status: number,
  description: string,
  spec: {
    readonly types: readonly string[];
    readonly title?: string;
    readonly headers?: Readonly<Record<string, unknown>>;
  },
): OpenApiObject {
  const types = spec.types.map((t) => `${PROBLEM_TYPE_BASE}${t}`);
  const headers = spec.headers ?? {};
  return {
    description,
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: {
          allOf: [
            PROBLEM_REF,
            {
              type: 'object',
              properties: {
                type: types.length === 1 ? { const: types[0] } : { enum: types },
                ...(spec.title === undefined ? {} : { title: { const: spec.title } }),
                status: { const: status },
              },
            },
          ],
        },
      },
    },
  };
}

export interface ProblemResponseOptions {
  /** Type and title when the status alone does not say them: the `kind` the handler gives `sendProblem`. */
  readonly kind?: readonly [type: string, title: string];
  /** The response's headers; a 503 says Retry-After (RETRY_AFTER_HEADER) unless these name it. */
  readonly headers?: Readonly<Record<string, unknown>>;
}

/** What `sendProblem(res, status, …)` answers: the runtime's type and title for `status`, or the call's `kind`. */
export function problemResponse(
  status: RouteProblemStatus,
  description: string,
  options?: ProblemResponseOptions,
): OpenApiObject;
export function problemResponse(
  status: number,
  description: string,
  options: ProblemResponseOptions & { readonly kind: readonly [type: string, title: string] },
): OpenApiObject;
export function problemResponse(
  status: number,
  description: string,
  options: ProblemResponseOptions = {},
): OpenApiObject {
  const [type, title] = options.kind ?? ROUTE_PROBLEM_TYPES[status as RouteProblemStatus];
  const headers =
    status === 503 ? { 'Retry-After': RETRY_AFTER_HEADER, ...options.headers } : options.headers;
  return problemResponseOfTypes(status, description, {
    types: [type],
    title,
    ...(headers === undefined ? {} : { headers }),
  });
}

/**
 * A function's JSON Schema (schemas/*.json, what the runtime validates its events with, or a body's) as a component:
 * OpenAPI 3.1's schema dialect is JSON Schema 2020-12, so it is used as it is, without its `$schema` and `$id`.
 */
export function schemaComponent(schema: Readonly<Record<string, unknown>>): OpenApiObject {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

/**
 * The component responses of what the runtime answers for a route that failed (`route()` and the fallbacks behind
 * every function's routes): `Internal`, a bug, logged; `Unavailable`, 503 + Retry-After, in the API's words.
 */
export function failureResponses(
  unavailable = 'The store did not answer; retry after Retry-After',
): Record<'Internal' | 'Unavailable', OpenApiObject> {
  return {
    Internal: problemResponse(500, 'A bug: the function logged it'),
    Unavailable: problemResponse(503, unavailable),
  };
}

/** An operation's `$ref`s to `failureResponses`: what any route that reads the store may answer. */
export const FAILURE_REFS = {
  '500': { $ref: '#/components/responses/Internal' },
  '503': { $ref: '#/components/responses/Unavailable' },
} as const;

/** GET of an API's OpenAPI document itself (`openApiRoute` serves it). */
export const OPENAPI_DOCUMENT_OPERATION = {
  operationId: 'getOpenApiDocument',
  summary: 'This document',
  responses: {
    '200': {
      description: 'OpenAPI 3.1',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['openapi', 'info', 'paths'],
            properties: { openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } },
          },
        },
      },
    },
  },
} as const satisfies GetOperation;

/** A GET operation as `headOf` reads it. */
export interface GetOperation {
  readonly summary: string;
  readonly responses: Readonly<Record<string, OpenApiObject>>;
  readonly operationId?: string;
  readonly [field: string]: unknown;
}

/**
 * HEAD of a GET route, as express answers it (with the GET route): the same statuses and headers, no body. A response
 * given as a `$ref` to `#/components/responses/<name>` is looked up in `responses`; the operationId gets `Head`, as
 * operationIds are unique in a document.
 */
export function headOf(
  get: GetOperation,
  responses: Readonly<Record<string, OpenApiObject>> = {},
): OpenApiObject {
  const bodiless: Record<string, OpenApiObject> = {};
  for (const [status, response] of Object.entries(get.responses)) {
    const name = typeof response.$ref === 'string' ? response.$ref.split('/').at(-1) : undefined;
    const { content: _content, ...rest } = name === undefined ? response : (responses[name] ?? {});
    bodiless[status] = rest;
  }
  const { operationId, ...rest } = get;
  return {
    ...rest,
    ...(operationId === undefined ? {} : { operationId: `${operationId}Head` }),
    summary: `${get.summary}: headers only`,
    responses: bodiless,
  };
}
