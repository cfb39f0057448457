/**
 * The idempotency guard's inserts to a store across the network, batched: every insert asked for in one
 * turn of the event loop goes out as one unordered `bulkWrite`, so N events claimed (or completed) in
 * the same turn cost one round trip instead of N. The issue it answers: a function's own work is a
 * fraction of what it spends waiting on, and paying for, two store round trips per event.
 *
 * Each insert keeps its own result: an unordered batch goes on past a duplicate `_id` and says which
 * operations met one (`BulkWriteResult.duplicateKeyIndexes`), which is exactly the answer the guard's
 * fencing needs per record. A batch is never ordered across events: each insert is atomic on its own
 * and no event's insert depends on another's. The flush is scheduled with `setImmediate`, which runs
 * once the poll phase has handed over every request that arrived together: one event alone waits for
 * nothing but the end of its own turn.
 *
 * Hand-written: DataLoader (the well-known library for this) batches loads by key and caches them; here
 * there is nothing to cache and the batch is a write with a per-operation outcome: one short class.
 */
import { DuplicateKeyError, StoreUnavailableError } from '../errors.ts';
import type { Collection, Doc } from '../ports/document-store.ts';

/** Most inserts in one batch, and most bytes (estimated): well under MongoDB's and the dev store's limits. */
export const MAX_BATCH_INSERTS = 64;
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

interface Pending<T> {
  readonly doc: T;
  resolve(inserted: boolean): void;
  reject(err: unknown): void;
}

export class InsertBatch<T extends Doc> {
  readonly #collection: Pick<Collection<T>, 'bulkWrite' | 'insertOne'>;
  readonly #sizeOf: (doc: T) => number;
  #pending: Pending<T>[] = [];
  #bytes = 0;
  #scheduled = false;

  /** `sizeOf`: a cheap upper-bound estimate of a document's encoded size (the guard knows where its large strings are). */
  constructor(collection: Pick<Collection<T>, 'bulkWrite' | 'insertOne'>, sizeOf: (doc: T) => number) {
    this.#collection = collection;
    this.#sizeOf = sizeOf;
  }

  /** Resolves true when `doc` was inserted, false when its `_id` was taken; rejects when the store failed. */
  insert(doc: T): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const size = this.#sizeOf(doc);
      if (this.#pending.length > 0 && this.#bytes + size > MAX_BATCH_BYTES) this.#flush();
      this.#pending.push({ doc, resolve, reject });
      this.#bytes += size;
      if (this.#pending.length >= MAX_BATCH_INSERTS) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flushScheduled);
      }
    });
  }

  readonly #flushScheduled = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  #flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.#bytes = 0;
    if (batch.length === 1) {
      this.#one(batch[0] as Pending<T>);
      return;
    }
    this.#collection
      .bulkWrite(
        batch.map((p) => ({ insertOne: { document: p.doc } })),
        { ordered: false },
      )
      .then(
        ({ duplicateKeyIndexes }) => {
          // A Set, not a walk in step: the port says ascending, but a wrong order must not turn a
          // duplicate into "inserted" (that would run a handler twice).
          const taken = duplicateKeyIndexes.length === 0 ? undefined : new Set(duplicateKeyIndexes);
          for (let i = 0; i < batch.length; i++) (batch[i] as Pending<T>).resolve(taken?.has(i) !== true);
        },
        (err: unknown) => {
          // The store is down or did not answer in time: every insert of the batch fails with it, as each
          // would have alone (asking again now would only double the wait). Any other failure of the whole
          // batch (a document the store refused): each insert is tried on its own, so one record cannot
          // fail the other events' claims.
          if (err instanceof StoreUnavailableError) for (const p of batch) p.reject(err);
          else for (const p of batch) this.#one(p);
        },
      );
  }

  #one(p: Pending<T>): void {
    this.#collection.insertOne(p.doc).then(
      () => p.resolve(true),
      (err: unknown) => {
        if (err instanceof DuplicateKeyError) p.resolve(false);
        else p.reject(err);
      },
    );
  }
}
