/**
 * Wire format of the dev store: `make dev`'s shared in-memory store, hosted by the local platform
 * (platform/local/src/dev-store-server.ts) and used by function processes through HttpDocumentStore.
 *
 *   POST /v1/<collection>/<op>  body {filter?, update?, options?, doc?, spec?, operations?}  → 200 {result}
 *   GET  /v1/ping                                                              → 204
 *   errors: 409 {error: 'DuplicateKeyError', code: 11000}, 400 {error: 'TypeError'}, 500 {error}
 *
 * JSON plus tagged values for what JSON loses (Date, RegExp, Uint8Array). Not EJSON from `bson`: EJSON
 * reads `{$regex: '^A', $options: 'i'}` — a query operator — as a BSONRegExp value, which mingo does not
 * understand. The tags are keys that start with NUL: MongoDB forbids NUL in every key (documents,
 * filters, update paths), so no real key can collide; the encoder rejects NUL keys outright.
 */
import { StoreOperation } from '../../ports/document-store.ts';

/** One op of the wire per operation of the store port. */
export const DEV_STORE_OPS = StoreOperation;
export type DevStoreOp = StoreOperation;

/** MongoDB's duplicate key error code, sent with 409 so the client can rebuild DuplicateKeyError. */
export const DUPLICATE_KEY_CODE = 11000;

export interface DevStoreArgs {
  readonly filter?: unknown;
  readonly update?: unknown;
  readonly options?: unknown;
  readonly doc?: unknown;
  readonly spec?: unknown;
  /** bulkWrite's operations, in MongoDB's shape. */
  readonly operations?: unknown;
}

export interface DevStoreErrorBody {
  readonly error: string;
  readonly message: string;
  readonly code?: number;
}

const TAG = { date: '\0date', regexp: '\0regexp', bytes: '\0bytes' } as const;
const wrappers = new WeakSet<object>();

function wrap(tag: string, value: unknown): object {
  const w = { [tag]: value };
  wrappers.add(w);
  return w;
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  if (key.includes('\0')) {
    if (typeof this === 'object' && this !== null && wrappers.has(this)) return value;
    throw new TypeError(`unsafe key "${key.replaceAll('\0', '\\0')}": keys must not contain NUL`);
  }
  // `value` is after toJSON (a Date is already a string); the holder still has the original.
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return wrap(TAG.date, raw.toISOString());
  if (raw instanceof RegExp) return wrap(TAG.regexp, [raw.source, raw.flags]);
  if (raw instanceof Uint8Array) {
    return wrap(TAG.bytes, Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64'));
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const tag = keys[0];
  if (keys.length !== 1 || tag === undefined || !tag.startsWith('\0')) return value;
  const v = (value as Record<string, unknown>)[tag];
  if (tag === TAG.date && typeof v === 'string') return new Date(v);
  if (tag === TAG.regexp && Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') {
    return new RegExp(v[0], v[1]);
  }
  if (tag === TAG.bytes && typeof v === 'string') return new Uint8Array(Buffer.from(v, 'base64'));
  throw new TypeError(`malformed dev store value tagged ${tag.slice(1)}`);
}

/** Nesting past which `plain` stops looking (and a cycle ends): the replacer then decides, or throws. */
const PLAIN_DEPTH = 64;

/**
 * True when JSON.stringify alone writes what the replacer would: no Date, RegExp, bytes, `toJSON` (its
 * result is not looked into here) or NUL key anywhere. A replacer function takes V8 off its fast
 * serializer (2–3× slower on a ledger batch), and most documents are strings and numbers only.
 */
function plain(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth > PLAIN_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (value instanceof RegExp || value instanceof Uint8Array) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!plain(item, depth + 1)) return false;
    return true;
  }
  for (const key of Object.keys(value)) {
    if (key.includes('\0') || !plain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

/** JSON text with Date, RegExp and Uint8Array kept; throws TypeError for keys containing NUL. */
export function encodeDevStore(value: unknown): string {
  return plain(value, 0) ? JSON.stringify(value) : JSON.stringify(value, replacer);
}

/** Inverse of `encodeDevStore`; throws SyntaxError or TypeError on malformed input. */
export function decodeDevStore(text: string): unknown {
  // Every tag key starts with NUL, which JSON text can only write as the escape \u0000 (a raw one is a
  // SyntaxError either way): without it there is nothing to revive, and a reviver is 4–5× slower.
  return text.includes('\\u0000') ? JSON.parse(text, reviver) : JSON.parse(text);
}
