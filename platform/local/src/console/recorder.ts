/**
 * `make dev`'s one recorder: every event the broker accepted, every delivery (attempts, reply, dead letter), every
 * change of a Service's instances, in a bounded ring (the last `capacity` records; what the cap evicts is counted
 * in `dropped`). With a store (MONGODB_URL) the records are also written there, in the background and batched, and
 * the last `capacity` are read back at start, so the console survives a restart of `make dev`.
 *
 * Recording is on the broker's path (onAccepted / onTrail), so `add` does no I/O and calls no one: it fills a slot of
 * a preallocated ring and, when someone listens or a store is set, pushes the record onto a queue. Listeners (the
 * console's server-sent events) are told in batches every LISTENER_BATCH_MS, and the store gets one document per
 * batch, both off the broker's path. bench/ measures what it costs with a page watching (docs/performance.md).
 */
import type { DocumentStore } from '../../../../functions/runtime/src/index.ts';
import type { ConsoleRecord, RecorderStats, RecordInput, TrailRecord } from './records.ts';

export const RECORDER_CAPACITY = 5000;
/** MongoDB collection of the records (`make dev` only). */
export const CONSOLE_COLLECTION = 'sluice_console_records';
/** Records waiting for MongoDB beyond this are written off (counted in `unsaved`): the store is too slow or down. */
export const MAX_PENDING_WRITES = 10_000;
/** How often listeners hear of new records: live enough for a person, one write per page per batch. */
export const LISTENER_BATCH_MS = 50;
/** Records per stored document (one insert per batch, not one per record). */
const STORE_BATCH = 200;

/** Told of new records, oldest first, in batches. */
export type RecordListener = (records: readonly ConsoleRecord[]) => void;

/** One document per batch of records. */
interface StoredBatch extends Record<string, unknown> {
  /** `b-<first seq>`, zero-padded: unique, and in order. */
  readonly _id: string;
  /** The batch's last seq: what pruning and the read-back at start sort on. */
  readonly seq: number;
  /** The records as a JSON array: reply data may hold keys MongoDB refuses (`$x`, `a.b`). */
  readonly json: string;
}

export interface RecorderOptions {
  /** @default RECORDER_CAPACITY */
  readonly capacity?: number;
  /** Where records survive a restart (MONGODB_URL); the recorder does not close it. */
  readonly store?: DocumentStore;
  /** Told when a write to the store fails (once per failing batch). */
  readonly onStoreError?: (err: unknown) => void;
}

export class EventRecorder {
  readonly #ring: (ConsoleRecord | undefined)[];
  readonly #capacity: number;
  #next = 0;
  #size = 0;
  #seq = 0;
  #dropped = 0;
  readonly #listeners = new Set<RecordListener>();
  readonly #store: DocumentStore | undefined;
  readonly #onStoreError: ((err: unknown) => void) | undefined;
  readonly #pending: ConsoleRecord[] = [];
  #unsaved = 0;
  #writing: Promise<void> | undefined;
  /** Records the listeners have not been told of yet. */
  #unsent: ConsoleRecord[] = [];
  #telling: NodeJS.Timeout | undefined;

  constructor(options: RecorderOptions = {}) {
    this.#capacity = Math.max(1, options.capacity ?? RECORDER_CAPACITY);
    this.#ring = new Array<ConsoleRecord | undefined>(this.#capacity);
    this.#store = options.store;
    this.#onStoreError = options.onStoreError;
  }

  /** Reads back the last `capacity` records of the store (call once, before recording). */
  async restore(): Promise<number> {
    if (this.#store === undefined) return 0;
    const collection = this.#store.collection<StoredBatch>(CONSOLE_COLLECTION);
    await collection.createIndex({ keys: { seq: 1 }, name: 'seq' });
    // Every batch holds at least one record, so `capacity` batches hold the last `capacity` records.
    const rows = await collection.find({}, { sort: { seq: -1 }, limit: this.#capacity });
    const records = rows.reverse().flatMap((row) => JSON.parse(row.json) as ConsoleRecord[]);
    for (const record of records.slice(-this.#capacity)) {
      this.#put(record);
      this.#seq = Math.max(this.#seq, record.seq);
    }
    return Math.min(records.length, this.#capacity);
  }

  #put(record: ConsoleRecord): void {
    if (this.#size === this.#capacity) this.#dropped++;
    else this.#size++;
    this.#ring[this.#next] = record;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  /** Records one fact; never throws, never waits. */
  add(input: RecordInput): ConsoleRecord {
    const record = { ...input, seq: ++this.#seq } as ConsoleRecord;
    this.#put(record);
    if (this.#listeners.size > 0) {
      this.#unsent.push(record);
      this.#telling ??= setTimeout(() => this.#tell(), LISTENER_BATCH_MS).unref();
    }
    if (this.#store !== undefined) {
      if (this.#pending.length >= MAX_PENDING_WRITES) this.#unsaved++;
      else {
        this.#pending.push(record);
        this.#writing ??= this.#drain();
      }
    }
    return record;
  }

  /** Tells every listener of the records since the last batch (a listener's failure is its own). */
  #tell(): void {
    this.#telling = undefined;
    const batch = this.#unsent;
    this.#unsent = [];
    for (const listener of this.#listeners) {
      try {
        listener(batch);
      } catch {
        // an observer never touches recording
      }
    }
  }

  /** Writes queued records one document per batch; the queue is drained in the background. */
  async #drain(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    const collection = store.collection<StoredBatch>(CONSOLE_COLLECTION);
    try {
      while (this.#pending.length > 0) {
        // Let the broker's callers go first: one macrotask per batch.
        await new Promise((r) => setImmediate(r));
        const batch = this.#pending.splice(0, STORE_BATCH);
        try {
          const last = batch.at(-1)?.seq ?? 0;
          await collection.insertOne({
            _id: `b-${String(batch[0]?.seq ?? 0).padStart(12, '0')}`,
            seq: last,
            json: JSON.stringify(batch),
          });
          if (last > this.#capacity) await collection.deleteMany({ seq: { $lte: last - this.#capacity } });
        } catch (err) {
          this.#unsaved += batch.length;
          this.#onStoreError?.(err);
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  /** Resolves once what was recorded so far is in the store and told to the listeners (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.#telling !== undefined) {
      clearTimeout(this.#telling);
      this.#tell();
    }
    while (this.#writing !== undefined) await this.#writing;
  }

  /** Told of every record from now on, in batches; returns the unsubscribe. */
  subscribe(listener: RecordListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size > 0 || this.#telling === undefined) return;
      clearTimeout(this.#telling);
      this.#telling = undefined;
      this.#unsent = [];
    };
  }

  /** The records held, oldest first; only those after `seq` when given. */
  records(afterSeq = 0): ConsoleRecord[] {
    const out: ConsoleRecord[] = [];
    const start = (this.#next - this.#size + this.#capacity) % this.#capacity;
    for (let i = 0; i < this.#size; i++) {
      const r = this.#ring[(start + i) % this.#capacity];
      if (r !== undefined && r.seq > afterSeq) out.push(r);
    }
    return out;
  }

  /** The delivery records of one event or one flow, oldest first (`make try`'s GET /v1/trail). */
  trail(query: { readonly event?: string; readonly correlation?: string }): TrailRecord[] {
    return this.records().filter(
      (r): r is TrailRecord & { seq: number } =>
        r.kind === 'delivery' &&
        (query.event === undefined || r.eventId === query.event) &&
        (query.correlation === undefined || r.correlationId === query.correlation),
    );
  }

  stats(): RecorderStats {
    return {
      capacity: this.#capacity,
      size: this.#size,
      total: this.#seq,
      dropped: this.#dropped,
      store: this.#store === undefined ? 'memory' : 'mongodb',
      pending: this.#pending.length,
      unsaved: this.#unsaved,
    };
  }
}
