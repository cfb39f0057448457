/**
 * Exactly-once effect under at-least-once delivery (after Powertools for AWS Lambda's idempotency
 * utility): before a handler runs, the runtime claims the key (function, source, id). A completed
 * claim replays the recorded outcome; a live claim held by another request answers "in progress"
 * (retriable); a claim whose lock has passed (its holder crashed) is taken over. The record lives in
 * the function's own store, so it is as durable as the data the handler writes.
 */
import { hash, randomUUID } from 'node:crypto';
import { DuplicateKeyError } from '../errors.ts';
import type { Collection, DocumentStore } from '../ports/document-store.ts';
import {
  type ClaimResult,
  type IdempotencyRecord,
  IdempotencyStatus,
  type StoredOutcome,
} from '../ports/idempotency-store.ts';

export interface IdempotencyOptions {
  /** How long a completed record is honoured. @default 86400 (24 h) */
  readonly ttlSeconds?: number;
  /** How long an in-progress claim blocks duplicates before it counts as abandoned. @default 30 */
  readonly lockSeconds?: number;
  /** Collection that holds the records. @default 'sluice_idempotency' */
  readonly collection?: string;
  /** Injected clock for tests. @default Date.now */
  readonly now?: () => number;
}

export type IdempotencyConfig = Readonly<Required<IdempotencyOptions>>;

/** Status of the marker document that makes a lock takeover a unique insert (see claim). */
const TAKEOVER_MARKER = 'TAKEOVER';

export const IDEMPOTENCY_DEFAULTS: IdempotencyConfig = {
  ttlSeconds: 86_400,
  lockSeconds: 30,
  collection: 'sluice_idempotency',
  now: Date.now,
};

/** The key: a hash, so long sources and ids index well; the parts are kept in the record for operators. */
export function idempotencyKey(functionName: string, source: string, id: string): string {
  // One-shot crypto.hash: ~7× cheaper than a createHash object per event (docs/performance.md).
  return hash('sha256', `${functionName}\0${source}\0${id}`, 'base64url');
}

type RecordDoc = IdempotencyRecord & Record<string, unknown>;

export class IdempotencyGuard {
  readonly #records: Collection<RecordDoc>;
  readonly #config: IdempotencyConfig;
  readonly #functionName: string;

  constructor(store: DocumentStore, functionName: string, options: IdempotencyOptions = {}) {
    this.#config = {
      ttlSeconds: options.ttlSeconds ?? IDEMPOTENCY_DEFAULTS.ttlSeconds,
      lockSeconds: options.lockSeconds ?? IDEMPOTENCY_DEFAULTS.lockSeconds,
      collection: options.collection ?? IDEMPOTENCY_DEFAULTS.collection,
      now: options.now ?? IDEMPOTENCY_DEFAULTS.now,
    };
    this.#functionName = functionName;
    this.#records = store.collection(this.#config.collection);
  }

  get config(): IdempotencyConfig {
    return this.#config;
  }

  /** Creates the expiry index. TTL clean-up is an optimisation: expiry is also checked on read. */
  async init(): Promise<void> {
    await this.#records.createIndex({ keys: { expiresAt: 1 }, name: 'expiresAt' });
  }

  async claim(source: string, id: string): Promise<ClaimResult> {
    const key = idempotencyKey(this.#functionName, source, id);
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#config.now();
      const fresh = this.#inProgress(key, source, id, now);
      try {
        await this.#records.insertOne(fresh);
        return { kind: 'claimed', key };
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
      }
      const existing = await this.#records.findOne({ _id: key });
      if (existing === null) continue; // released between our insert and read: try again
      const live = existing.expiresAt.getTime() > now;
      if (live && existing.status === IdempotencyStatus.completed && existing.outcome !== undefined) {
        return { kind: 'completed', key, outcome: existing.outcome };
      }
      if (live && existing.status === IdempotencyStatus.inProgress && existing.lockedUntil.getTime() > now) {
        return { kind: 'in-progress', key };
      }
      // Expired, or an abandoned claim: take it over only if nobody else did first. The compare-and-set
      // is the insert of a marker named after this generation of the record: a unique insert is atomic on
      // every backend, a conditional update is not on FerretDB 1.24 (docs/ferretdb.md).
      const generation = existing.claimId ?? String(existing.lockedUntil.getTime());
      try {
        await this.#records.insertOne({ ...fresh, _id: `${key}/${generation}`, status: TAKEOVER_MARKER });
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
        continue; // another request took this generation over; look again
      }
      const taken = await this.#records.updateOne(
        { _id: key },
        {
          $set: {
            status: fresh.status,
            claimId: fresh.claimId,
            lockedUntil: fresh.lockedUntil,
            expiresAt: fresh.expiresAt,
          },
        },
      );
      if (taken.matchedCount === 1) return { kind: 'claimed', key };
    }
    return { kind: 'in-progress', key };
  }

  /**
   * Removes expired records and takeover markers (what a TTL index would do; FerretDB has none). Expiry is
   * also checked on read, so this only bounds the collection's size. Returns how many went.
   */
  async purgeExpired(): Promise<number> {
    return this.#records.deleteMany({ expiresAt: { $lte: new Date(this.#config.now()) } });
  }

  /** Records the outcome. */
  async complete(key: string, outcome: StoredOutcome): Promise<void> {
    const now = this.#config.now();
    await this.#records.updateOne(
      { _id: key },
      {
        $set: {
          status: IdempotencyStatus.completed,
          outcome,
          expiresAt: new Date(now + this.#config.ttlSeconds * 1000),
        },
      },
    );
  }

  /** A failed (retriable) invocation gives the key back so the redelivery runs the handler again. */
  async release(key: string): Promise<void> {
    await this.#records.deleteOne({ _id: key, status: IdempotencyStatus.inProgress });
  }

  #inProgress(
    key: string,
    source: string,
    id: string,
    now: number,
  ): RecordDoc & { readonly claimId: string } {
    return {
      _id: key,
      status: IdempotencyStatus.inProgress,
      functionName: this.#functionName,
      eventSource: source,
      eventId: id,
      claimId: randomUUID(),
      lockedUntil: new Date(now + this.#config.lockSeconds * 1000),
      expiresAt: new Date(now + this.#config.ttlSeconds * 1000),
    };
  }
}
