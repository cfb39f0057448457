/**
 * The idempotency guard's records, packed: one small object per key's chain instead of one document
 * per generation (docs/runtime.md, "Fencing"). The guard leaves every event's records in the store for
 * their TTL (24 h), and in this store they are what the garbage collector keeps walking: as documents
 * they were ~530 bytes in five objects and three strings per event; a chain is one object plus its key
 * (docs/performance.md). The memory store packs a record only when it is exactly the shape the guard
 * writes and extends its chain by one generation; anything else stays a plain document, and every
 * read hands out the same document either way.
 */
import { IdempotencyStatus, type StoredOutcome } from '../../ports/idempotency-store.ts';

/** What a generation holds: its lock (in progress), its outcome (completed), or RELEASED. */
type Slot = Date | StoredOutcome | typeof RELEASED;
const RELEASED = null;

export class Chain {
  readonly key: string;
  readonly functionName: string;
  readonly eventSource: string;
  readonly eventId: string;
  readonly expiresAt: Date;
  readonly slot0: Slot;
  slot1: Slot = RELEASED;
  more: Slot[] | undefined;
  /** How many generations: `<key>`, `<key>/1`, … up to `<key>/<length - 1>`. */
  length = 1;

  /** `eventSource`: the record's, or an equal string already stored (see MemoryCollection#insertPacked). */
  constructor(record: PackedRecord, eventSource: string) {
    this.key = record.key;
    this.functionName = record.functionName;
    this.eventSource = eventSource;
    this.eventId = record.eventId;
    this.expiresAt = record.expiresAt;
    this.slot0 = record.slot;
  }

  slot(generation: number): Slot {
    if (generation === 0) return this.slot0;
    if (generation === 1) return this.slot1;
    return (this.more as Slot[])[generation - 2] as Slot;
  }

  push(slot: Slot): void {
    if (this.length === 1) this.slot1 = slot;
    else if (this.more === undefined) this.more = [slot];
    else this.more.push(slot);
    this.length++;
  }
}

/** A record the guard wrote, taken apart: its key, generation, shared fields and slot. */
export interface PackedRecord {
  readonly key: string;
  readonly generation: number;
  readonly functionName: string;
  readonly eventSource: string;
  readonly eventId: string;
  readonly expiresAt: Date;
  readonly slot: Slot;
}

/** The fields of a record the guard writes (ports/idempotency-store.ts). */
const GUARD_FIELDS = [
  '_id',
  'key',
  'generation',
  'status',
  'functionName',
  'eventSource',
  'eventId',
  'lockedUntil',
  'expiresAt',
  'outcome',
] as const;

const isDate = (v: unknown): v is Date => v instanceof Date && !Number.isNaN(v.getTime());
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/**
 * `doc` as a packed record when it has exactly the guard's fields and types (an in-progress record has
 * its lock and no outcome, a completed one its outcome and no lock, a released one neither) and its
 * `_id` is its slot; else undefined. `keep(date)` and `keepOutcome(outcome)` make the stored copies.
 * The key has no `/` and does not start with NUL, so a slot `_id` never reads as another key's slot
 * nor as the memory store's map key of a non-string `_id`.
 */
export function packRecord(
  doc: Record<string, unknown>,
  keep: (date: Date) => Date,
  keepOutcome: (outcome: Record<string, unknown>) => StoredOutcome,
): PackedRecord | undefined {
  const { key, generation, functionName, eventSource, eventId, expiresAt } = doc;
  if (typeof key !== 'string' || key.length === 0 || key.charCodeAt(0) === 0 || key.includes('/')) {
    return undefined;
  }
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) return undefined;
  if (doc._id !== (generation === 0 ? key : `${key}/${generation}`)) return undefined;
  if (typeof functionName !== 'string' || typeof eventSource !== 'string' || typeof eventId !== 'string') {
    return undefined;
  }
  if (!isDate(expiresAt)) return undefined;
  const { status, lockedUntil, outcome } = doc;
  const inProgress = status === IdempotencyStatus.inProgress && isDate(lockedUntil) && outcome === undefined;
  const completed =
    status === IdempotencyStatus.completed && isPlainObject(outcome) && lockedUntil === undefined;
  const released =
    status === IdempotencyStatus.released && lockedUntil === undefined && outcome === undefined;
  if (!(inProgress || completed || released)) return undefined;
  // Only the guard's fields, none of them undefined: the 8 checked above plus the slot's own (`lockedUntil` or
  // `outcome`; neither when released) are defined, so any other key, or one of theirs present as undefined,
  // makes the count differ. Counted, not looked up field by field: the guard writes two records per event.
  let fields = 0;
  for (const _ in doc) fields++;
  if (fields !== (released ? GUARD_FIELDS.length - 2 : GUARD_FIELDS.length - 1)) return undefined;
  const slot: Slot = inProgress
    ? keep(lockedUntil as Date)
    : completed
      ? keepOutcome(outcome as Record<string, unknown>)
      : RELEASED;
  return { key, generation, functionName, eventSource, eventId, expiresAt: keep(expiresAt), slot };
}

/** True when `record` is the next generation of `chain` (same key, function, event and expiry). */
export const extendsChain = (chain: Chain, record: PackedRecord): boolean =>
  record.generation === chain.length &&
  record.functionName === chain.functionName &&
  record.eventSource === chain.eventSource &&
  record.eventId === chain.eventId &&
  record.expiresAt.getTime() === chain.expiresAt.getTime();

/** The chain and generation an `_id` names, when `chains` holds that slot. */
export function findSlot(
  chains: ReadonlyMap<string, Chain>,
  id: string,
): { readonly chain: Chain; readonly generation: number } | undefined {
  const first = chains.get(id);
  if (first !== undefined) return { chain: first, generation: 0 };
  const slash = id.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const chain = chains.get(id.slice(0, slash));
  if (chain === undefined) return undefined;
  const suffix = id.slice(slash + 1);
  const generation = Number(suffix);
  return generation >= 1 && generation < chain.length && String(generation) === suffix
    ? { chain, generation }
    : undefined;
}

/** Generation `generation` of `chain` as the document the guard wrote (fresh: the caller may keep it). */
export function unpackRecord(
  chain: Chain,
  generation: number,
  copyOutcome: (outcome: StoredOutcome) => StoredOutcome,
): Record<string, unknown> {
  const slot = chain.slot(generation);
  const doc: Record<string, unknown> = {
    _id: generation === 0 ? chain.key : `${chain.key}/${generation}`,
    key: chain.key,
    generation,
    status:
      slot === RELEASED
        ? IdempotencyStatus.released
        : slot instanceof Date
          ? IdempotencyStatus.inProgress
          : IdempotencyStatus.completed,
    functionName: chain.functionName,
    eventSource: chain.eventSource,
    eventId: chain.eventId,
  };
  if (slot instanceof Date) doc.lockedUntil = new Date(slot.getTime());
  doc.expiresAt = new Date(chain.expiresAt.getTime());
  if (slot !== RELEASED && !(slot instanceof Date)) doc.outcome = copyOutcome(slot);
  return doc;
}
