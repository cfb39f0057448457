/**
 * Idempotency records: what the guard (`idempotency/idempotency-store.ts`) writes for each (function,
 * event source, event id). The records of one key form a chain of generations; every change is the
 * insert of the next generation, never an update (docs/runtime.md, "Fencing").
 */
import type { ExtensionValue } from '../types.ts';

export const IdempotencyStatus = {
  /** A claim: a handler runs (or ran and crashed) under it until `lockedUntil`. */
  inProgress: 'IN_PROGRESS',
  /** The outcome of the claim before it; replayed to every redelivery. */
  completed: 'COMPLETED',
  /** The claim before it failed in a retriable way; the next delivery claims again. */
  released: 'RELEASED',
} as const;
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

/** One generation of a key's chain. Written once, never updated; removed when it expires. */
export interface IdempotencyRecord {
  /** `<key>` for generation 0, `<key>/<generation>` after: the unique insert is the fence. */
  readonly _id: string;
  readonly key: string;
  readonly generation: number;
  readonly status: IdempotencyStatus;
  readonly functionName: string;
  readonly eventSource: string;
  readonly eventId: string;
  /** IN_PROGRESS only: after this instant the claim counts as abandoned and may be taken over. */
  readonly lockedUntil?: Date;
  /** The chain's: first claim + TTL, the same on every generation, so a chain expires as a whole. */
  readonly expiresAt: Date;
  /** COMPLETED only. */
  readonly outcome?: StoredOutcome;
}

/** A claim held by this request: the generation that only it may end (complete or release). */
export interface Claim {
  readonly key: string;
  readonly generation: number;
  readonly expiresAt: Date;
  readonly eventSource: string;
  readonly eventId: string;
}

export type ClaimResult =
  | ({ readonly kind: 'claimed' } & Claim)
  | { readonly kind: 'completed'; readonly key: string; readonly outcome: StoredOutcome }
  /** Another request holds a live claim: retry later. */
  | { readonly kind: 'in-progress'; readonly key: string }
  /** The record outlived its TTL and waits for removal; a retry after that runs the event anew. */
  | { readonly kind: 'expired'; readonly key: string };
