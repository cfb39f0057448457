/**
 * Exactly-once effect under at-least-once delivery (after Powertools for AWS Lambda's idempotency
 * utility): before a handler runs, the runtime claims the key (function, source, id). A completed
 * key replays the recorded outcome; a live claim held by another request answers "in progress"
 * (retriable); a claim whose lock has passed (its holder crashed or stalled) is taken over.
 *
 * Fencing. The records of one key are a chain of generations, `<key>`, `<key>/1`, `<key>/2`, …, and
 * every transition of generation n (complete, release, take over) is the insert of generation n+1.
 * A unique `_id` insert is atomic on MongoDB, FerretDB and the memory stores, where a conditional
 * update is not (FerretDB 1.24 reads, then writes back: docs/ferretdb.md). So exactly one transition
 * wins per generation: a holder whose claim was taken over cannot complete or release the newer
 * claim, because the slot it would write is taken. Records are never updated, only inserted and, once
 * expired, deleted.
 */
import { DuplicateKeyError, StoreUnavailableError, TransientError } from '../errors.ts';
import { sha256 } from '../lazy-crypto.ts';
import type { Collection, DocumentStore } from '../ports/document-store.ts';
import {
  type Claim,
  type ClaimResult,
  type IdempotencyRecord,
  IdempotencyStatus,
  type StoredOutcome,
} from '../ports/idempotency-store.ts';
import { InsertBatch } from './insert-batch.ts';

export interface IdempotencyOptions {
  /** How long a key's records are honoured, from its first claim. @default 86400 (24 h) */
  readonly ttlSeconds?: number;
  /** How long an in-progress claim blocks duplicates before it counts as abandoned. @default 30 */
  readonly lockSeconds?: number;
  /** Deadline of each store call the guard makes. @default 5 */
  readonly storeTimeoutSeconds?: number;
  /** Collection that holds the records. @default 'sluice_idempotency' */
  readonly collection?: string;
  /** Injected clock for tests. @default Date.now */
  readonly now?: () => number;
  /**
   * Send the inserts of one event-loop turn as one unordered bulkWrite (insert-batch.ts): for a store
   * across the network, where each call is a round trip. @default false (an in-process store)
   */
  readonly batchInserts?: boolean;
}

export type IdempotencyConfig = Readonly<Required<IdempotencyOptions>>;

export const IDEMPOTENCY_DEFAULTS: IdempotencyConfig = {
  ttlSeconds: 86_400,
  lockSeconds: 30,
  storeTimeoutSeconds: 5,
  collection: 'sluice_idempotency',
  now: Date.now,
  batchInserts: false,
};

/** How expired records leave the store: decided by `init()`, from what the store supports. */
export const ExpiryMode = {
  /** A TTL index (`expireAfterSeconds`): the server removes them (MongoDB's TTL monitor, every 60 s). */
  ttlIndex: 'ttl-index',
  /** No TTL index (FerretDB 1.24, the memory stores): the runtime purges at start and on a timer. */
  purge: 'purge',
} as const;
export type ExpiryMode = (typeof ExpiryMode)[keyof typeof ExpiryMode];

/** The claim's generation was ended by someone else (taken over after its lock passed). Retried. */
export class ClaimLostError extends TransientError {
  override name = 'ClaimLostError';
}

/** The key: a hash, so long sources and ids index well; the parts are kept in the record for operators. */
export function idempotencyKey(functionName: string, source: string, id: string): string {
  // One-shot crypto.hash (lazy-crypto.ts): ~7× cheaper than a createHash object per event (docs/performance.md).
  return sha256(`${functionName}\0${source}\0${id}`, 'base64url');
}

/** `_id` of generation `n` of a key's chain. */
export const slotId = (key: string, generation: number): string =>
  generation === 0 ? key : `${key}/${generation}`;

type RecordDoc = IdempotencyRecord & Record<string, unknown>;
type RecordFields = Pick<IdempotencyRecord, 'expiresAt'> &
  Partial<Pick<IdempotencyRecord, 'lockedUntil' | 'outcome'>>;
/** The purge lease: one purge per interval across every instance (see purgeExpired). */
type LeaseDoc = { _id: string; expiresAt: Date } & Record<string, unknown>;

/** How many transitions a claim tries before it answers "in progress" (each loss means progress). */
const CLAIM_ATTEMPTS = 3;

export class IdempotencyGuard {
  readonly #records: Collection<RecordDoc>;
  readonly #config: IdempotencyConfig;
  readonly #functionName: string;
  readonly #batch: InsertBatch<RecordDoc> | undefined;

  constructor(store: DocumentStore, functionName: string, options: IdempotencyOptions = {}) {
    this.#config = {
      ttlSeconds: options.ttlSeconds ?? IDEMPOTENCY_DEFAULTS.ttlSeconds,
      lockSeconds: options.lockSeconds ?? IDEMPOTENCY_DEFAULTS.lockSeconds,
      storeTimeoutSeconds: options.storeTimeoutSeconds ?? IDEMPOTENCY_DEFAULTS.storeTimeoutSeconds,
      collection: options.collection ?? IDEMPOTENCY_DEFAULTS.collection,
      now: options.now ?? IDEMPOTENCY_DEFAULTS.now,
      batchInserts: options.batchInserts ?? IDEMPOTENCY_DEFAULTS.batchInserts,
    };
    this.#functionName = functionName;
    this.#records = store.collection(this.#config.collection, {
      timeoutMs: this.#config.storeTimeoutSeconds * 1000,
    });
    this.#batch = this.#config.batchInserts ? new InsertBatch(this.#records, recordSize) : undefined;
  }

  get config(): IdempotencyConfig {
    return this.#config;
  }

  /**
   * Creates the expiry index: a TTL index where the store has them, else a plain one the purge uses.
   * Returns which of the two expiry modes applies.
   */
  async init(): Promise<ExpiryMode> {
    try {
      await this.#records.createIndex({
        keys: { expiresAt: 1 },
        name: 'expiresAt_ttl',
        expireAfterSeconds: 0,
      });
      return ExpiryMode.ttlIndex;
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
    }
    await this.#records.createIndex({ keys: { expiresAt: 1 }, name: 'expiresAt' });
    return ExpiryMode.purge;
  }

  async claim(source: string, id: string): Promise<ClaimResult> {
    const key = idempotencyKey(this.#functionName, source, id);
    const now = this.#config.now();
    const first = this.#record(key, 0, IdempotencyStatus.inProgress, source, id, {
      lockedUntil: new Date(now + this.#config.lockSeconds * 1000),
      expiresAt: new Date(now + this.#config.ttlSeconds * 1000),
    });
    if (await this.#insert(first)) return claimed(first);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const head = await this.#head(key);
      if (head === undefined) {
        // Purged between our insert and this read: the key is new again.
        if (await this.#insert(first)) return claimed(first);
        continue;
      }
      const at = this.#config.now();
      // An expired chain is removed as a whole (TTL index or purge) before the key is claimed again:
      // continuing it would let the removal of its first record reopen generation 0 under a live claim.
      if (head.expiresAt.getTime() <= at) return { kind: 'expired', key };
      if (head.status === IdempotencyStatus.completed && head.outcome !== undefined) {
        return { kind: 'completed', key, outcome: head.outcome };
      }
      if (head.status === IdempotencyStatus.inProgress && (head.lockedUntil?.getTime() ?? 0) > at) {
        return { kind: 'in-progress', key };
      }
      // Released, or abandoned (its lock passed): claim the next generation. Losing this insert means
      // another request moved the chain on first; look again.
      const next = this.#record(key, head.generation + 1, IdempotencyStatus.inProgress, source, id, {
        lockedUntil: new Date(at + this.#config.lockSeconds * 1000),
        expiresAt: head.expiresAt,
      });
      if (await this.#insert(next)) return claimed(next);
    }
    return { kind: 'in-progress', key };
  }

  /**
   * Records the outcome of `claim`. Throws ClaimLostError when its generation was already ended by
   * another request (a takeover after the lock passed): the outcome of the newer claim stands.
   */
  async complete(claim: Claim, outcome: StoredOutcome): Promise<void> {
    const done = this.#next(claim, IdempotencyStatus.completed, {
      expiresAt: claim.expiresAt,
      outcome,
    });
    if (!(await this.#insert(done))) {
      throw new ClaimLostError(
        'the claim on this event was taken over while its handler ran; a retry answers the recorded outcome',
        { retryAfterSeconds: 1 },
      );
    }
  }

  /**
   * A failed (retriable) invocation gives the key back so the redelivery runs the handler again.
   * Returns false when the generation had already moved on (a stale release frees nothing).
   */
  async release(claim: Claim): Promise<boolean> {
    return this.#insert(this.#next(claim, IdempotencyStatus.released, { expiresAt: claim.expiresAt }));
  }

  /**
   * Removes expired records (what a TTL index does; FerretDB 1.24 and the memory stores have none).
   * Expired chains share one `expiresAt`, so each goes in one `deleteMany`. A lease (a unique insert
   * per interval) lets one instance purge at a time: FerretDB's delete reads, then deletes by `_id`,
   * so two purges at once could delete a record re-created between the read and the delete of the
   * second. Returns how many records went, or undefined when another instance holds this interval.
   */
  async purgeExpired(intervalSeconds = 60): Promise<number | undefined> {
    const now = this.#config.now();
    const bucket = Math.floor(now / (intervalSeconds * 1000));
    const lease: LeaseDoc = {
      _id: `purge/${bucket}`,
      expiresAt: new Date((bucket + 2) * intervalSeconds * 1000),
    };
    if (!(await this.#insert(lease as unknown as RecordDoc))) return undefined;
    return this.#records.deleteMany({ expiresAt: { $lte: new Date(now) } });
  }

  /**
   * The chain's latest generation, or undefined when the key has no records. Found by point reads by
   * `_id`, generation after generation, from the first: the one query every store answers from its
   * primary index (FerretDB 1.24 would scan the collection for any other filter). A completed
   * generation ends the chain, so a replay costs two reads; records from before chains (no
   * `generation`) count as generation 0.
   */
  async #head(key: string): Promise<RecordDoc | undefined> {
    let head = await this.#records.findOne({ _id: slotId(key, 0) });
    if (head === null) return undefined;
    for (;;) {
      const generation = head.generation ?? 0;
      if (head.status === IdempotencyStatus.completed) return { ...head, generation };
      const next = await this.#records.findOne({ _id: slotId(key, generation + 1) });
      if (next === null) return { ...head, generation };
      head = next;
    }
  }

  /** True when `doc` was inserted, false when its `_id` was taken. One `then`, no async frame: twice per event. */
  #insert(doc: RecordDoc): Promise<boolean> {
    if (this.#batch !== undefined) return this.#batch.insert(doc);
    return this.#records.insertOne(doc).then(inserted, duplicate);
  }

  /** The record that ends `claim`'s generation. */
  #next(claim: Claim, status: IdempotencyStatus, fields: RecordFields): RecordDoc {
    return this.#record(claim.key, claim.generation + 1, status, claim.eventSource, claim.eventId, fields);
  }

  #record(
    key: string,
    generation: number,
    status: IdempotencyStatus,
    source: string,
    id: string,
    fields: RecordFields,
  ): RecordDoc {
    // Written out, not spread (`...fields` copied key by key, for two records per event); the slot's own
    // field only when it has one, as the spread did: a lock while in progress, the outcome once completed.
    const doc: { -readonly [F in keyof IdempotencyRecord]: IdempotencyRecord[F] } = {
      _id: slotId(key, generation),
      key,
      generation,
      status,
      functionName: this.#functionName,
      eventSource: source,
      eventId: id,
      expiresAt: fields.expiresAt,
    };
    if (fields.lockedUntil !== undefined) doc.lockedUntil = fields.lockedUntil;
    if (fields.outcome !== undefined) doc.outcome = fields.outcome;
    return doc;
  }
}

/** A record's size, over-estimated cheaply: its fixed fields, and the outcome's texts where it has any. */
function recordSize(doc: RecordDoc): number {
  const outcome = doc.outcome;
  if (outcome === undefined) return 512;
  return 1024 + (outcome.problem?.length ?? 0) * 3 + (outcome.reply?.data?.length ?? 0) * 3;
}

const inserted = (): boolean => true;
const duplicate = (err: unknown): boolean => {
  if (err instanceof DuplicateKeyError) return false;
  throw err;
};

function claimed(record: IdempotencyRecord): ClaimResult {
  return {
    kind: 'claimed',
    key: record.key,
    generation: record.generation,
    expiresAt: record.expiresAt,
    eventSource: record.eventSource,
    eventId: record.eventId,
  };
}
