/**
 * The runtime's public index: the only module of functions/runtime/src that code outside the runtime
 * imports (checked by `make check-imports`). Two audiences:
 *
 * - function authors (`functions/<system>/<function>/handler.ts` and a system's `lib/`): the contract,
 *   the errors that drive redelivery, the store port;
 * - the platform, the broker and the tools (`platform/`, `eventing/`, `bench/`, CLIs): the CloudEvents
 *   HTTP binding, the logger, stores, function discovery, the dead-letter model, `make dev`'s endpoints.
 *
 * Everything else under `src/` is the runtime's own and may change without notice.
 */

export {
  DEV_STORE_OPS,
  type DevStoreArgs,
  type DevStoreErrorBody,
  type DevStoreOp,
  DUPLICATE_KEY_CODE,
  decodeDevStore,
  encodeDevStore,
} from './adapters/http/dev-store-wire.ts';
export { MemoryDocumentStore } from './adapters/memory/memory-document-store.ts';
export { MongoDocumentStore } from './adapters/mongodb/mongo-document-store.ts';
export { type ConfirmedMessage, publishConfirmed } from './amqp-publish.ts';
// ── For the platform, the broker and the tools ───────────────────────────────────────────────────
export {
  type BinaryOptions,
  encodeHeaderValue,
  HEADER_ENCODING,
  type HeaderEncoding,
  type HttpMessage,
  toBinary,
  toStructured,
} from './cloudevent/encode.ts';
export { decodePercentLenient, headerText, rawHeaderValue } from './cloudevent/header-value.ts';
export {
  PROBLEM_CONTENT_TYPE,
  type Problem,
  type ProblemAnswer,
  problemBody,
  toProblem,
} from './cloudevent/problem.ts';
export {
  isJsonMediaType,
  looksLikeCloudEvent,
  mediaType,
  type Received,
  type ReceiveOptions,
  receive,
  receiveVerbatim,
  STRUCTURED_CONTENT_TYPE,
  type VerbatimOptions,
} from './cloudevent/receive.ts';
export { commonJsExports } from './commonjs-import.ts';
export { durationSettings, loadConfig, parseDuration, type RuntimeConfig } from './config.ts';
export {
  CAUSATION_EXTENSION,
  CAUSATION_FIELD,
  CORRELATION_EXTENSION,
  CORRELATION_FIELD,
  correlationOf,
} from './correlation.ts';
export {
  DEAD_LETTER_STATUS,
  DEAD_LETTERS_COLLECTION,
  type DeadLetter,
  type DeadLetterStatus,
  deadLetterId,
  decodeErrorData,
  KNATIVE_ERROR_EXTENSIONS,
} from './dead-letter.ts';
export {
  type DevEndpoints,
  ENDPOINTS_STATE,
  endpointsFilePath,
  isProcessAlive,
  type ResolvedDevStore,
  type ResolvedEndpoint,
  readDevEndpoints,
  resolveDevStore,
  resolveEndpoint,
  unreadExchange,
  writeEndpointsFile,
} from './dev-endpoints.ts';
// ── For function authors ─────────────────────────────────────────────────────────────────────────
export {
  ConfigError,
  DuplicateKeyError,
  InvalidEventError,
  type InvalidParam,
  PermanentError,
  RouteTableError,
  StoreUnavailableError,
  TransientError,
} from './errors.ts';
export {
  connectExchangePublisher,
  type ExchangeMessage,
  type ExchangePublisher,
  type ExchangePublisherOptions,
  UnroutableError,
} from './exchange-publisher.ts';
export {
  describeFunction,
  type FunctionDescription,
  type FunctionFolder,
  findFunction,
  listFunctions,
  listSystems,
} from './function-loader.ts';
export {
  GATEWAY_PROBLEM_TYPES,
  type GatewayProblem,
  type GatewayProblemType,
  gatewayProblemSlugs,
} from './gateway/problem-types.ts';
export {
  type AuthRef,
  buildRouteTable,
  directoryRouteSources,
  type GatewayRoute,
  type HookRef,
  type ProxyRoute,
  type PublishRoute,
  parseRouteTable,
  RATE_LIMIT_KEY,
  type RateLimitKey,
  type RateLimitRef,
  RESERVED_PREFIXES,
  ROUTE_DEFAULTS,
  ROUTE_KIND,
  ROUTE_TABLE_API_VERSION,
  ROUTE_TABLE_KIND,
  ROUTES_FILE,
  type RouteDocument,
  type RouteKind,
  type RouteSource,
  type RouteTable,
  repositoryRouteSources,
} from './gateway/route-table.ts';
export {
  type IngressAnswer,
  type IngressPostOptions,
  notStoredReason,
  type PostUntilStoredOptions,
  postToIngress,
  postUntilStored,
  type StoreOutcome,
  storedByBroker,
} from './ingress-client.ts';
export { CLIENT_IDLE_SOCKET_MS, closedOnReuse, SERVER_KEEP_ALIVE_MS } from './keep-alive.ts';
export { DEAD_LETTERED_HEADER, isFinalRefusal } from './keep-rejected.ts';
export { ECS_VERSION, errorFields, JsonLogger, type LogSink } from './log.ts';
export type {
  BulkWriteOperation,
  BulkWriteOptions,
  BulkWriteResult,
  Collection,
  Doc,
  DocumentStore,
  Filter,
  FindOptions,
  IndexSpec,
  SortSpec,
  Update,
  UpdateOptions,
  UpdateResult,
} from './ports/document-store.ts';
export { isListeningMessage, type ListeningMessage, portsReported } from './report-ports.ts';
export {
  bodyErrors,
  DEFAULT_PAGE,
  jsonBody,
  MAX_PAGE,
  openApiRoute,
  parseLimit,
  QueryReader,
  type QueryStringOptions,
  type RouteProblemOptions,
  requireJson,
  route,
  sendProblem,
} from './route-answers.ts';
export {
  FAILURE_REFS,
  failureResponses,
  type GetOperation,
  headOf,
  OPENAPI_DOCUMENT_OPERATION,
  type OpenApiObject,
  type ProblemResponseOptions,
  type ProblemSchemaOptions,
  problemResponse,
  problemResponseOfTypes,
  problemSchemas,
  RETRY_AFTER_HEADER,
  schemaComponent,
} from './route-openapi.ts';
export {
  MAX_PROBLEM_DETAIL,
  PROBLEM_TYPE_BASE,
  ROUTE_PROBLEM_TYPES,
  type RouteProblemStatus,
} from './route-problem-types.ts';
export { type RunningFunction, type StartOptions, startFunction } from './runtime.ts';
export { seededUniform } from './seeded-random.ts';
export {
  loadStaticFiles,
  MAX_STATIC_BYTES,
  STATIC_CONTENT_SECURITY_POLICY,
  STATIC_CONTENT_TYPES,
  type StaticFiles,
  StaticFilesError,
  type StaticFilesOptions,
} from './static-files.ts';
export { openStore, openToolStore, type StoreOptions, type ToolStore } from './store.ts';
export { continueTrace, formatTraceparent, type TraceContext } from './trace.ts';
export type {
  CloudEvent,
  Context,
  EventOf,
  EventTypes,
  ExtensionValue,
  Handler,
  HttpFunction,
  HttpHandler,
  HttpRequestMetrics,
  InitContext,
  LogFields,
  Logger,
  ReplyEvent,
  ReplyOf,
  ServeContext,
  SluiceFunction,
} from './types.ts';
export { createAjv, loadSchemas, type SchemaSet } from './validate.ts';
