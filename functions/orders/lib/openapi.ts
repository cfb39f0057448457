/**
 * What the orders system's two OpenAPI documents (inventory/openapi.ts, orders-api/openapi.ts) write the same way:
 * the runtime's problem answers every route may give, HEAD as GET without the body, the document's own operation.
 * Both APIs are behind api-gateway at the server `/api`.
 */
import {
  FAILURE_REFS,
  failureResponses,
  OPENAPI_DOCUMENT_OPERATION,
  type OpenApiObject,
  problemResponse,
} from '../../runtime/src/index.ts';
import { MAX_JSON_BYTES } from './http.ts';

/** Where both APIs are: api-gateway serves them below /api (functions/orders/routes.yaml). */
export const SERVERS = [{ url: '/api', description: 'api-gateway' }];

export const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });
export const json = (schema: OpenApiObject) => ({ 'application/json': { schema } });

/** The runtime's problems (route-answers.ts) an orders route may answer, by component name, in the API's words. */
export function routeProblemResponses(says: {
  readonly InvalidRequest: string;
  readonly NotFound: string;
  readonly Unavailable: string;
}) {
  return {
    InvalidRequest: problemResponse(400, says.InvalidRequest),
    NotFound: problemResponse(404, says.NotFound),
    PayloadTooLarge: problemResponse(413, `The body is over ${MAX_JSON_BYTES / 1024} KiB`),
    UnsupportedMediaType: problemResponse(415, 'The body is not `application/json`'),
    ...failureResponses(says.Unavailable),
  };
}

/** How a route that takes a JSON body refuses one: `$ref`s to `routeProblemResponses`. */
export const BODY_REFUSALS = {
  '400': responseRef('InvalidRequest'),
  '413': responseRef('PayloadTooLarge'),
  '415': responseRef('UnsupportedMediaType'),
};
/** What any route may fail with: a bug, something it needs unreachable. */
export const FAILURES = FAILURE_REFS;

/** An answer naming the resource it made (Location, relative to the request URL) and showing it. */
export const located = (
  description: string,
  location: { readonly description: string; readonly pattern: string },
  schema: OpenApiObject,
) => ({
  description,
  headers: {
    Location: {
      description: location.description,
      required: true,
      schema: { type: 'string', pattern: location.pattern },
    },
  },
  content: json(schema),
});

/** GET of the document itself. */
export const documentOperation = OPENAPI_DOCUMENT_OPERATION;
