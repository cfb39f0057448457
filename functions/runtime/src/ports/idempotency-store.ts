/**
 * Idempotency records: one per (function, event source, event id). Shared logic (claiming, expiry,
 * stale locks after a crash) lives in `idempotency/idempotency-store.ts`; adapters implement the
 * primitives below.
 */
import type { ExtensionValue } from '../types.ts';

export const IdempotencyStatus = { inProgress: 'IN_PROGRESS', completed: 'COMPLETED' } as const;
export type IdempotencyStatus = (typeof IdempotencyStatus)[keyof typeof IdempotencyStatus];

/** A reply event as stored, so a replay answers byte-for-byte what the first run answered. */
export interface StoredReply {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly subject?: string;
  readonly datacontenttype?: string;
  /** JSON text of the data (kept as text so no user key ever becomes a stored document key). */
  readonly data?: string;
  readonly extensions: Readonly<Record<string, ExtensionValue>>;
}

export interface StoredOutcome {
  readonly status: number;
  readonly reply?: StoredReply;
  /** Problem body (JSON text) for a recorded permanent rejection. */
  readonly problem?: string;
}

export interface IdempotencyRecord {
  readonly _id: string;
  /** IN_PROGRESS or COMPLETED; `TAKEOVER` marks a `<key>/<claimId>` document that fenced a takeover. */
  readonly status: IdempotencyStatus | 'TAKEOVER';
  readonly functionName: string;
  readonly eventSource: string;
  readonly eventId: string;
  /** Random per claim (and per takeover): names the generation a takeover marker fences. */
  readonly claimId?: string;
  /** While IN_PROGRESS: after this instant a crashed holder's claim may be taken over. */
  readonly lockedUntil: Date;
  /** After this instant the record is ignored (and removed by the TTL index where supported). */
  readonly expiresAt: Date;
  readonly outcome?: StoredOutcome;
}

export type ClaimResult =
  | { readonly kind: 'claimed'; readonly key: string }
  | { readonly kind: 'completed'; readonly key: string; readonly outcome: StoredOutcome }
  | { readonly kind: 'in-progress'; readonly key: string };
