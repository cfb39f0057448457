/**
 * Counts the calls a function makes to its store, by collection and operation, so that "how many round
 * trips does one event cost" is a metric (`sluice_store_calls_total`), not a guess: each call to MongoDB
 * or the dev store is one network round trip. A decorator over the store port: the handler and the
 * idempotency guard see the same interface. Only stores across the network are counted (runtime.ts);
 * the in-process memory store has no round trips worth a metric, and its hot path stays untouched.
 */
import type {
  BulkWriteOperation,
  BulkWriteOptions,
  BulkWriteResult,
  Collection,
  CollectionOptions,
  Doc,
  DocumentStore,
  Filter,
  FindOptions,
  IndexSpec,
  Update,
  UpdateOptions,
  UpdateResult,
} from './ports/document-store.ts';
import { StoreOperation } from './ports/document-store.ts';

// The store operations, as OpenTelemetry's `db.operation.name` values (the MongoDB command names).
export { StoreOperation };

export type OnStoreCall = (collection: string, operation: StoreOperation) => void;

export function countStoreCalls(store: DocumentStore, onCall: OnStoreCall): DocumentStore {
  return {
    kind: store.kind,
    collection<T extends Doc = Doc>(name: string, options?: CollectionOptions): Collection<T> {
      return new CountedCollection(store.collection<T>(name, options), name, onCall);
    },
    ping: (options) => store.ping(options),
    close: () => store.close(),
  };
}

class CountedCollection<T extends Doc> implements Collection<T> {
  readonly #inner: Collection<T>;
  readonly #name: string;
  readonly #onCall: OnStoreCall;

  constructor(inner: Collection<T>, name: string, onCall: OnStoreCall) {
    this.#inner = inner;
    this.#name = name;
    this.#onCall = onCall;
  }

  findOne(filter: Filter): Promise<T | null> {
    this.#onCall(this.#name, StoreOperation.findOne);
    return this.#inner.findOne(filter);
  }

  find(filter: Filter, options?: FindOptions): Promise<T[]> {
    this.#onCall(this.#name, StoreOperation.find);
    return this.#inner.find(filter, options);
  }

  insertOne(doc: T): Promise<void> {
    this.#onCall(this.#name, StoreOperation.insertOne);
    return this.#inner.insertOne(doc);
  }

  updateOne(filter: Filter, update: Update, options?: UpdateOptions): Promise<UpdateResult> {
    this.#onCall(this.#name, StoreOperation.updateOne);
    return this.#inner.updateOne(filter, update, options);
  }

  findOneAndUpdate(filter: Filter, update: Update, options?: { upsert?: boolean }): Promise<T | null> {
    this.#onCall(this.#name, StoreOperation.findOneAndUpdate);
    return this.#inner.findOneAndUpdate(filter, update, options);
  }

  deleteOne(filter: Filter): Promise<number> {
    this.#onCall(this.#name, StoreOperation.deleteOne);
    return this.#inner.deleteOne(filter);
  }

  deleteMany(filter: Filter): Promise<number> {
    this.#onCall(this.#name, StoreOperation.deleteMany);
    return this.#inner.deleteMany(filter);
  }

  countDocuments(filter: Filter): Promise<number> {
    this.#onCall(this.#name, StoreOperation.countDocuments);
    return this.#inner.countDocuments(filter);
  }

  createIndex(spec: IndexSpec): Promise<void> {
    this.#onCall(this.#name, StoreOperation.createIndex);
    return this.#inner.createIndex(spec);
  }

  /** One call however many operations: what is counted is round trips. */
  bulkWrite(
    operations: readonly BulkWriteOperation<T>[],
    options?: BulkWriteOptions,
  ): Promise<BulkWriteResult> {
    this.#onCall(this.#name, StoreOperation.bulkWrite);
    return this.#inner.bulkWrite(operations, options);
  }
}
