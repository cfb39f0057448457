/**
 * The store port: the subset of MongoDB's collection API the functions use, so the same handler code
 * runs against MongoDB (or FerretDB) and against the in-memory store of the embedded default.
 * Filters and updates use MongoDB's query language; values that come from events must be placed
 * as values (never spread as keys), see `assertSafeDocument`.
 */
import { DuplicateKeyError } from '../errors.ts';

export type Doc = Record<string, unknown>;
export type Filter = Record<string, unknown>;
export type Update = Record<string, Record<string, unknown>>;
export type SortSpec = Record<string, 1 | -1>;

export interface FindOptions {
  readonly sort?: SortSpec;
  readonly limit?: number;
}

export interface UpdateResult {
  readonly matchedCount: number;
  readonly modifiedCount: number;
  readonly upsertedId: unknown;
}

export interface UpdateOptions {
  readonly upsert?: boolean;
  /**
   * Acknowledged only once the write is on disk on a majority (MongoDB write concern `majority` +
   * journal): for records that must survive a crash right after the answer (dead letters). Stores held
   * in memory ignore it.
   */
  readonly durable?: boolean;
}

export interface IndexSpec {
  readonly keys: Record<string, 1 | -1>;
  readonly unique?: boolean;
  readonly name?: string;
  /**
   * A TTL index: documents go once the indexed date is this many seconds past. Stores without TTL
   * indexes (FerretDB 1.24, the memory stores) reject the index; their owners purge instead.
   */
  readonly expireAfterSeconds?: number;
}

export interface CollectionOptions {
  /**
   * Deadline of every call made through this handle: past it the call rejects with
   * StoreUnavailableError (retriable). The operation may still complete in the store; callers that
   * set it make their writes safe to repeat. In-process stores, which cannot hang, ignore it.
   */
  readonly timeoutMs?: number;
}

/** One write of a `bulkWrite`, in MongoDB's own shape. */
export type BulkWriteOperation<T extends Doc = Doc> =
  | { readonly insertOne: { readonly document: T } }
  | {
      readonly updateOne: { readonly filter: Filter; readonly update: Update; readonly upsert?: boolean };
    };

export interface BulkWriteOptions {
  /** Stop at the first operation that fails, as MongoDB does by default. @default true */
  readonly ordered?: boolean;
}

/** Counts are left out: FerretDB 1.24 reports none for a batch that met a duplicate key. */
export interface BulkWriteResult {
  /**
   * The operations refused because `_id` or a unique index already held the key, ascending. Ordered: at
   * most one, and the operations after it were not tried. Any other failure rejects the whole call.
   */
  readonly duplicateKeyIndexes: readonly number[];
}

export interface Collection<T extends Doc = Doc> {
  findOne(filter: Filter): Promise<T | null>;
  find(filter: Filter, options?: FindOptions): Promise<T[]>;
  /** Throws `DuplicateKeyError` when `_id` or a unique index already holds the key. */
  insertOne(doc: T): Promise<void>;
  updateOne(filter: Filter, update: Update, options?: UpdateOptions): Promise<UpdateResult>;
  /** Returns the document after the update, or null when nothing matched. */
  findOneAndUpdate(filter: Filter, update: Update, options?: { upsert?: boolean }): Promise<T | null>;
  deleteOne(filter: Filter): Promise<number>;
  deleteMany(filter: Filter): Promise<number>;
  countDocuments(filter: Filter): Promise<number>;
  createIndex(spec: IndexSpec): Promise<void>;
  /**
   * Several inserts and updates in one round trip (one call to the store). Each operation is atomic on its
   * own, the batch is not: a crash may leave any prefix of an ordered batch applied.
   */
  bulkWrite(
    operations: readonly BulkWriteOperation<T>[],
    options?: BulkWriteOptions,
  ): Promise<BulkWriteResult>;
}

/**
 * The operations of a Collection, by their MongoDB command names: the dev store's wire ops (dev-store-wire.ts) and
 * the `db.operation.name` of every counted store call (store-calls.ts). `satisfies` keeps it to the interface.
 */
export const StoreOperation = {
  findOne: 'findOne',
  find: 'find',
  insertOne: 'insertOne',
  updateOne: 'updateOne',
  findOneAndUpdate: 'findOneAndUpdate',
  deleteOne: 'deleteOne',
  deleteMany: 'deleteMany',
  countDocuments: 'countDocuments',
  createIndex: 'createIndex',
  bulkWrite: 'bulkWrite',
} as const satisfies Record<keyof Collection, keyof Collection>;
export type StoreOperation = (typeof StoreOperation)[keyof typeof StoreOperation];

export interface DocumentStore {
  /** `memory`, `mongodb` or `dev-shared-memory` (the local platform's dev store), for logs and readiness. */
  readonly kind: string;
  collection<T extends Doc = Doc>(name: string, options?: CollectionOptions): Collection<T>;
  /** Resolves when the store answers within `timeoutMs` (else StoreUnavailableError); used at start. */
  ping(options?: CollectionOptions): Promise<void>;
  close(): Promise<void>;
}

/**
 * `bulkWrite` as a loop over `insertOne` and `updateOne`, for stores in this process (no round trip to
 * save): the same results and the same stop at the first failure when ordered.
 */
export async function bulkWriteOneByOne<T extends Doc>(
  collection: Pick<Collection<T>, 'insertOne' | 'updateOne'>,
  operations: readonly BulkWriteOperation<T>[],
  options: BulkWriteOptions = {},
): Promise<BulkWriteResult> {
  // The whole batch is checked before any of it is written, as the MongoDB adapter does.
  for (const op of operations) {
    if ('insertOne' in op) assertSafeDocument(op.insertOne.document);
    else assertSafeUpdate(op.updateOne.update);
  }
  const ordered = options.ordered !== false;
  const duplicateKeyIndexes: number[] = [];
  for (let i = 0; i < operations.length; i++) {
    const op = operations[i] as BulkWriteOperation<T>;
    try {
      if ('insertOne' in op) await collection.insertOne(op.insertOne.document);
      else {
        const { filter, update, upsert } = op.updateOne;
        await collection.updateOne(filter, update, { upsert: upsert === true });
      }
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      duplicateKeyIndexes.push(i);
      if (ordered) break;
    }
  }
  return { duplicateKeyIndexes };
}

/**
 * Rejects documents whose keys start with `$` or contain `.`: such keys would be read as operators or
 * paths by MongoDB. Event data is validated by schema first; this is the last line of defence.
 */
export function assertSafeDocument(value: unknown, path = ''): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertSafeDocument(value[i], `${path}[${i}]`);
    return;
  }
  if (value instanceof Date || value instanceof Uint8Array) return;
  for (const key of Object.keys(value)) {
    if (key.startsWith('$') || key.includes('.') || key.includes('\0')) {
      throw new TypeError(
        `unsafe key "${key}" at ${path || '/'}: keys must not start with $ or contain . or NUL`,
      );
    }
    assertSafeDocument((value as Doc)[key], path ? `${path}.${key}` : key);
  }
}

// Update modifiers MongoDB reads inside an array operator's value (`$push: {a: {$each: [...], $slice: -5}}`).
const ARRAY_MODIFIERS: Readonly<Record<string, ReadonlySet<string>>> = {
  $push: new Set(['$each', '$slice', '$sort', '$position']),
  $addToSet: new Set(['$each']),
};

/**
 * Values set by an update must be safe documents too; operator keys at the top level are expected,
 * and so are the array modifiers of `$push`/`$addToSet` (only `$each`'s items are data).
 * `$pull` takes a query condition, like a filter, and is passed through as filters are.
 */
export function assertSafeUpdate(update: Update): void {
  for (const op of Object.keys(update)) {
    if (!op.startsWith('$')) throw new TypeError(`update must use operators, got field "${op}"`);
    if (op === '$pull') continue;
    const fields = update[op] ?? {};
    const modifiers = ARRAY_MODIFIERS[op];
    for (const field of Object.keys(fields)) {
      // A path may contain `.` (nested field) but never start with `$`: that is a key taken from data.
      if (field.startsWith('$') || field.includes('\0')) {
        throw new TypeError(
          `unsafe key "${field}" in ${op}: field paths must not start with $ or contain NUL`,
        );
      }
      const value = fields[field];
      if (modifiers !== undefined && isModifierDocument(value, modifiers)) {
        assertSafeDocument((value as Doc).$each, `${field}.$each`);
      } else {
        assertSafeDocument(value, field);
      }
    }
  }
}

function isModifierDocument(value: unknown, modifiers: ReadonlySet<string>): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.includes('$each') && keys.every((k) => modifiers.has(k));
}
