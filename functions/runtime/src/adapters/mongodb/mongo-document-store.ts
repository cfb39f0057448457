/**
 * DocumentStore on the official MongoDB driver. Also runs against FerretDB in tests; the features
 * FerretDB lacks and the code therefore avoids are listed in docs/ferretdb.md.
 */
import type { Db, MongoClient, Collection as MongoCollection } from 'mongodb';
import { DuplicateKeyError, StoreUnavailableError } from '../../errors.ts';
import {
  assertSafeDocument,
  assertSafeUpdate,
  type Collection,
  type Doc,
  type DocumentStore,
  type Filter,
  type FindOptions,
  type IndexSpec,
  type Update,
  type UpdateOptions,
  type UpdateResult,
} from '../../ports/document-store.ts';

/** Driver errors to the runtime's: 11000 → DuplicateKeyError; network and selection errors → transient. */
export function translateMongoError(err: unknown): unknown {
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; name?: unknown; message?: unknown };
    if (e.code === 11000) return new DuplicateKeyError(String(e.message), { cause: err });
    const name = String(e.name);
    if (
      name === 'MongoNetworkError' ||
      name === 'MongoServerSelectionError' ||
      name === 'MongoNetworkTimeoutError' ||
      name === 'MongoTopologyClosedError' ||
      name === 'MongoPoolClearedError' ||
      name === 'MongoNotConnectedError'
    ) {
      return new StoreUnavailableError(`MongoDB unavailable: ${String(e.message)}`, {
        cause: err,
        retryAfterSeconds: 2,
      });
    }
  }
  return err;
}

async function guarded<R>(op: () => Promise<R>): Promise<R> {
  try {
    return await op();
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
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000, retryWrites: true });
    return new MongoDocumentStore(client, dbName);
  }

  get db(): Db {
    return this.#db;
  }

  collection<T extends Doc = Doc>(name: string): Collection<T> {
    return new MongoCollectionAdapter<T>(this.#db.collection(name));
  }

  async ping(): Promise<void> {
    await guarded(() => this.#db.command({ ping: 1 }));
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}

class MongoCollectionAdapter<T extends Doc> implements Collection<T> {
  readonly #c: MongoCollection<Doc>;
  constructor(c: MongoCollection<Doc>) {
    this.#c = c;
  }

  findOne(filter: Filter): Promise<T | null> {
    return guarded(() => this.#c.findOne(filter) as Promise<T | null>);
  }

  find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    return guarded(() => {
      let cursor = this.#c.find(filter);
      if (options.sort !== undefined) cursor = cursor.sort(options.sort);
      if (options.limit !== undefined) cursor = cursor.limit(options.limit);
      return cursor.toArray() as Promise<T[]>;
    });
  }

  async insertOne(doc: T): Promise<void> {
    assertSafeDocument(doc);
    await guarded(() => this.#c.insertOne({ ...doc }));
  }

  async updateOne(filter: Filter, update: Update, options: UpdateOptions = {}): Promise<UpdateResult> {
    assertSafeUpdate(update);
    const r = await guarded(() =>
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
    return guarded(
      () =>
        this.#c.findOneAndUpdate(filter, update, {
          upsert: options.upsert === true,
          returnDocument: 'after',
        }) as Promise<T | null>,
    );
  }

  async deleteOne(filter: Filter): Promise<number> {
    return (await guarded(() => this.#c.deleteOne(filter))).deletedCount;
  }

  async deleteMany(filter: Filter): Promise<number> {
    return (await guarded(() => this.#c.deleteMany(filter))).deletedCount;
  }

  countDocuments(filter: Filter): Promise<number> {
    return guarded(() => this.#c.countDocuments(filter));
  }

  async createIndex(spec: IndexSpec): Promise<void> {
    const options: { unique?: boolean; name?: string } = {};
    if (spec.unique !== undefined) options.unique = spec.unique;
    if (spec.name !== undefined) options.name = spec.name;
    await guarded(() => this.#c.createIndex(spec.keys, options));
  }
}
