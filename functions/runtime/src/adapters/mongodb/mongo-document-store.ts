/**
 * DocumentStore on the official MongoDB driver. Also runs against FerretDB in tests; the features
 * FerretDB lacks and the code therefore avoids are listed in docs/ferretdb.md.
 */
import type { AnyBulkWriteOperation, Db, MongoClient, Collection as MongoCollection } from 'mongodb';
import { commonJsExports } from '../../commonjs-import.ts';
import { DuplicateKeyError, StoreUnavailableError } from '../../errors.ts';
import {
  assertSafeDocument,
  assertSafeUpdate,
  type BulkWriteOperation,
  type BulkWriteOptions,
  type BulkWriteResult,
  type Collection,
  type CollectionOptions,
  type Doc,
  type DocumentStore,
  type Filter,
  type FindOptions,
  type IndexSpec,
  type Update,
  type UpdateOptions,
  type UpdateResult,
} from '../../ports/document-store.ts';

// The server and driver codes a retry can outlive: failover (not primary, stepped down, shutting
// down), network, "interrupted due to replica state change". The list of the retryable-reads and
// retryable-writes specifications, which the driver keeps internally (lib/error.js).
const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  6, 7, 89, 91, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
]);
// Labels the server or the driver puts on errors that a retry of the same operation may overcome.
const RETRYABLE_LABELS = [
  'RetryableWriteError',
  'RetryableError',
  'TransientTransactionError',
  'PoolRequestedRetry',
  'ResetPool',
  'SystemOverloadedError',
  'InterruptInUseConnections',
] as const;
// Driver errors without a label that still mean "the database cannot be reached right now".
const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoTopologyClosedError',
  'MongoClientClosedError',
  'MongoServerClosedError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
  'MongoStalePrimaryError',
  'MongoOperationTimeoutError',
]);

/**
 * Driver errors to the runtime's: 11000 → DuplicateKeyError; a failover, network or overload error
 * (by its error labels first, then its class or code) → StoreUnavailableError, which answers 503 and
 * is retried by the broker; anything else is passed on (a bug: 500).
 */
export function translateMongoError(err: unknown): unknown {
  if (err === null || typeof err !== 'object') return err;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; hasErrorLabel?: unknown };
  if (e.code === 11000) return new DuplicateKeyError(String(e.message), { cause: err });
  const hasLabel =
    typeof e.hasErrorLabel === 'function' &&
    RETRYABLE_LABELS.some((label) => (e.hasErrorLabel as (l: string) => boolean).call(err, label));
  if (
    hasLabel ||
    UNAVAILABLE_NAMES.has(String(e.name)) ||
    (typeof e.code === 'number' && RETRYABLE_CODES.has(e.code))
  ) {
    return new StoreUnavailableError(`MongoDB unavailable: ${String(e.message)}`, {
      cause: err,
      retryAfterSeconds: 2,
    });
  }
  return err;
}

/**
 * Runs a driver call, translating its errors; with a deadline, gives up after `timeoutMs`. The
 * driver (7.x) has no per-operation deadline for writes (`timeoutMS` is deprecated there and does
 * nothing), so the deadline is explicit: the caller stops waiting, the operation may still finish.
 */
async function guarded<R>(op: () => Promise<R>, timeoutMs?: number): Promise<R> {
  try {
    if (timeoutMs === undefined) return await op();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StoreUnavailableError(`MongoDB did not answer within ${timeoutMs} ms`, {
              retryAfterSeconds: 1,
            }),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([op(), late]);
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    throw translateMongoError(err);
  }
}

export class MongoDocumentStore implements DocumentStore {
  readonly kind = 'mongodb';
  readonly #client: MongoClient;
  readonly #db: Db;

  constructor(client: MongoClient, dbName: string) {
    this.#client = client;
    this.#db = client.db(dbName);
  }

  /** Connects lazily through the driver; `ping` is what proves the server is there. */
  static async connect(url: string, dbName: string): Promise<MongoDocumentStore> {
    const { MongoClient } = commonJsExports(await import('mongodb'), 'MongoClient');
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000, retryWrites: true });
    return new MongoDocumentStore(client, dbName);
  }

  get db(): Db {
    return this.#db;
  }

  collection<T extends Doc = Doc>(name: string, options: CollectionOptions = {}): Collection<T> {
    return new MongoCollectionAdapter<T>(this.#db.collection(name), options.timeoutMs);
  }

  /**
   * Connects first: the driver closes the topology of a client whose first connect failed (the store was
   * down when the process started), and its operations then fail with "Topology is closed" for good, even
   * once the server is back; `connect()` builds a new topology unless one is connected (a no-op then).
   */
  async ping(options: CollectionOptions = {}): Promise<void> {
    await guarded(async () => {
      await this.#client.connect();
      return await this.#db.command({ ping: 1 });
    }, options.timeoutMs);
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}

/** The indexes of a MongoBulkWriteError's write errors when every one is a duplicate key; else undefined. */
function duplicateKeyIndexesOf(err: unknown): number[] | undefined {
  if (err === null || typeof err !== 'object' || (err as { name?: unknown }).name !== 'MongoBulkWriteError') {
    return undefined;
  }
  const e = err as { writeErrors?: unknown; err?: unknown };
  // A write concern error means the batch's durability is unknown: a failure, not an answer.
  if (e.err !== undefined) return undefined;
  const writeErrors = (Array.isArray(e.writeErrors) ? e.writeErrors : [e.writeErrors]) as {
    index?: unknown;
    code?: unknown;
  }[];
  if (writeErrors.length === 0) return undefined;
  const indexes: number[] = [];
  for (const w of writeErrors) {
    if (w?.code !== 11000 || typeof w.index !== 'number') return undefined;
    indexes.push(w.index);
  }
  return indexes.sort((a, b) => a - b);
}

class MongoCollectionAdapter<T extends Doc> implements Collection<T> {
  readonly #c: MongoCollection<Doc>;
  readonly #timeoutMs: number | undefined;
  constructor(c: MongoCollection<Doc>, timeoutMs: number | undefined) {
    this.#c = c;
    this.#timeoutMs = timeoutMs;
  }

  #run<R>(op: () => Promise<R>): Promise<R> {
    return guarded(op, this.#timeoutMs);
  }

  findOne(filter: Filter): Promise<T | null> {
    return this.#run(() => this.#c.findOne(filter) as Promise<T | null>);
  }

  find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    return this.#run(() => {
      let cursor = this.#c.find(filter);
      if (options.sort !== undefined) cursor = cursor.sort(options.sort);
      if (options.limit !== undefined) cursor = cursor.limit(options.limit);
      return cursor.toArray() as Promise<T[]>;
    });
  }

  async insertOne(doc: T): Promise<void> {
    assertSafeDocument(doc);
    await this.#run(() => this.#c.insertOne({ ...doc }));
  }

  async updateOne(filter: Filter, update: Update, options: UpdateOptions = {}): Promise<UpdateResult> {
    assertSafeUpdate(update);
    const r = await this.#run(() =>
      this.#c.updateOne(filter, update, {
        upsert: options.upsert === true,
        ...(options.durable === true ? { writeConcern: { w: 'majority', journal: true } } : {}),
      }),
    );
    return { matchedCount: r.matchedCount, modifiedCount: r.modifiedCount, upsertedId: r.upsertedId };
  }

  // async, so an unsafe update rejects the promise like every other failure instead of throwing.
  async findOneAndUpdate(
    filter: Filter,
    update: Update,
    options: { upsert?: boolean } = {},
  ): Promise<T | null> {
    assertSafeUpdate(update);
    return this.#run(
      () =>
        this.#c.findOneAndUpdate(filter, update, {
          upsert: options.upsert === true,
          returnDocument: 'after',
        }) as Promise<T | null>,
    );
  }

  async deleteOne(filter: Filter): Promise<number> {
    return (await this.#run(() => this.#c.deleteOne(filter))).deletedCount;
  }

  async deleteMany(filter: Filter): Promise<number> {
    return (await this.#run(() => this.#c.deleteMany(filter))).deletedCount;
  }

  countDocuments(filter: Filter): Promise<number> {
    return this.#run(() => this.#c.countDocuments(filter));
  }

  /**
   * One `insert` or `update` command per run of operations of one kind (the driver's batching), so one
   * round trip for a batch. Duplicate keys come back per operation (the driver's MongoBulkWriteError) and
   * are returned, not thrown: in a batch they are an answer, not a failure. FerretDB 1.24 stops an
   * unordered batch of updates at its first error (inserts it continues), so a batch with updates is sent
   * ordered and resumed after each duplicate key: the same result on both, one more round trip per duplicate.
   */
  async bulkWrite(
    operations: readonly BulkWriteOperation<T>[],
    options: BulkWriteOptions = {},
  ): Promise<BulkWriteResult> {
    const ops: AnyBulkWriteOperation<Doc>[] = operations.map((op) => {
      if ('insertOne' in op) {
        assertSafeDocument(op.insertOne.document);
        return { insertOne: { document: { ...op.insertOne.document } } };
      }
      assertSafeUpdate(op.updateOne.update);
      const { filter, update, upsert } = op.updateOne;
      return { updateOne: { filter, update, upsert: upsert === true } };
    });
    const ordered = options.ordered !== false;
    const resume = !ordered && ops.some((op) => 'updateOne' in op);
    return this.#run(async () => {
      const duplicateKeyIndexes: number[] = [];
      for (let start = 0; start < ops.length; ) {
        try {
          await this.#c.bulkWrite(start === 0 ? ops : ops.slice(start), { ordered: ordered || resume });
          break;
        } catch (err) {
          const duplicates = duplicateKeyIndexesOf(err);
          if (duplicates === undefined) throw err;
          for (const i of duplicates) duplicateKeyIndexes.push(start + i);
          if (!resume) break;
          start += (duplicates[0] ?? 0) + 1;
        }
      }
      return { duplicateKeyIndexes };
    });
  }

  async createIndex(spec: IndexSpec): Promise<void> {
    const options: { unique?: boolean; name?: string; expireAfterSeconds?: number } = {};
    if (spec.unique !== undefined) options.unique = spec.unique;
    if (spec.name !== undefined) options.name = spec.name;
    if (spec.expireAfterSeconds !== undefined) options.expireAfterSeconds = spec.expireAfterSeconds;
    await this.#run(() => this.#c.createIndex(spec.keys, options));
  }
}
