/**
 * Group commit for a function's writes: the writes its concurrent events ask for while one batch is on its
 * way to the store go together in the next batch, one `bulkWrite` (one round trip) for all of them. Alone,
 * an event's write leaves at once (after the current I/O callbacks, never after a timer); under load, N
 * events in flight cost about one round trip instead of N. Each write is answered on its own: written, or
 * refused for a duplicate key (what the journal and accounts-api, idempotent by their keys, expect).
 */
import type { BulkWriteOperation, Collection, Doc, DocumentStore } from '../../runtime/src/index.ts';
import { StoreUnavailableError } from '../../runtime/src/index.ts';

export type WriteOutcome = 'written' | 'duplicate';

interface Pending<T extends Doc> {
  readonly op: BulkWriteOperation<T>;
  readonly resolve: (outcome: WriteOutcome) => void;
  readonly reject: (err: unknown) => void;
}

/** A batch stays well under the dev store's 16 MiB body and MongoDB's 100,000 writes per command. */
const MAX_BATCH = 500;

/**
 * Batches on their way at once. One: the writes asked for meanwhile wait and go together, so a slower store
 * gets bigger batches rather than more of them. Four were kept while accounts-api updated documents (each
 * update its own statement on FerretDB); with inserts only, one batch at a time made fewer, larger writes and
 * the pipeline faster on FerretDB's PostgreSQL and SQLite backends, and no slower on the dev store
 * (docs/performance.md, "One batch on its way").
 */
const DEFAULT_IN_FLIGHT = 1;

export class BatchedWriter<T extends Doc> {
  readonly #collection: Pick<Collection<T>, 'bulkWrite'>;
  readonly #maxInFlight: number;
  #queue: Pending<T>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(collection: Pick<Collection<T>, 'bulkWrite'>, maxInFlight = DEFAULT_IN_FLIGHT) {
    this.#collection = collection;
    this.#maxInFlight = maxInFlight;
  }

  insert(document: T): Promise<WriteOutcome> {
    return this.write({ insertOne: { document } });
  }

  write(op: BulkWriteOperation<T>): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.#schedule();
    });
  }

  /** A batch leaves when one may (fewer than the maximum on their way), after the current I/O callbacks. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    // setImmediate, not a timer: the events whose requests arrived in the same I/O phase join this batch.
    setImmediate(() => {
      this.#scheduled = false;
      const batch = this.#queue.splice(0, MAX_BATCH);
      if (batch.length === 0) return;
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#schedule();
      });
      this.#schedule();
    });
  }

  async #send(batch: readonly Pending<T>[]): Promise<void> {
    try {
      const { duplicateKeyIndexes } = await this.#collection.bulkWrite(
        batch.map((p) => p.op),
        { ordered: false },
      );
      const duplicates = new Set(duplicateKeyIndexes);
      for (const [i, p] of batch.entries()) p.resolve(duplicates.has(i) ? 'duplicate' : 'written');
    } catch (err) {
      // The store is down: every event of the batch answers 503 and is redelivered.
      if (batch.length === 1 || err instanceof StoreUnavailableError) {
        for (const p of batch) p.reject(err);
        return;
      }
      // Anything else may be one bad write: each alone, so it fails only its own event.
      await Promise.all(batch.map((p) => this.#send([p])));
    }
  }
}

const writers = new WeakMap<DocumentStore, Map<string, BatchedWriter<Doc>>>();

/** The process's one writer for a collection of a store: every event's writes to it share its batches. */
export function batchedWriter<T extends Doc>(store: DocumentStore, collection: string): BatchedWriter<T> {
  let byName = writers.get(store);
  if (byName === undefined) {
    byName = new Map();
    writers.set(store, byName);
  }
  let writer = byName.get(collection);
  if (writer === undefined) {
    writer = new BatchedWriter(store.collection<Doc>(collection));
    byName.set(collection, writer);
  }
  return writer as unknown as BatchedWriter<T>;
}
