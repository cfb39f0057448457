/**
 * The memory store's secondary indexes: for the first field of each index a function declares, the documents
 * holding each scalar value. A find, count, update or delete whose filter pins that field to one value
 * (`{from: id}`, `{from: {$eq: id}}`) then runs mingo over those documents instead of the whole collection,
 * as MongoDB would use the index: accounts-api's recent transactions, the journal's look-ups, a sensor's
 * windows. Without it each such read scanned the collection, and slowed as it grew (docs/performance.md,
 * "The dev store's secondary indexes"). Only narrowing is done here: mingo still applies the whole filter,
 * the sort and the limit, so an index never changes an answer, only which documents are tried.
 */
import type { Doc } from '../../ports/document-store.ts';

/** The slot of documents whose field holds an array: a scalar may equal one of its elements (MongoDB's multikey match), so every equality tries them. */
const ARRAYS = 'a';

/**
 * The slot a document's field value is kept under, or undefined when no scalar equality can match it (missing,
 * null, an object, an invalid Date). Each kind has its own prefix, as MongoDB never finds a string by a number.
 */
function slotOf(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      return `n${value}`; // -0 prints as 0, which it equals
    case 'boolean':
      return value ? 'b1' : 'b0';
    case 'object':
      if (Array.isArray(value)) return ARRAYS;
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : `d${value.getTime()}`;
      return undefined;
    default:
      return undefined;
  }
}

/**
 * The slot a filter condition pins the field to — a string, number, boolean or Date, alone or as `{$eq: …}` —
 * else undefined (any other operator, null, which also matches a missing field, NaN, arrays and objects): the
 * query then takes the scan.
 */
export function pinnedSlot(condition: unknown): string | undefined {
  let value = condition;
  if (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof Date) &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    let eq: unknown;
    let ops = 0;
    for (const op in value) {
      if (op !== '$eq') return undefined;
      eq = (value as Record<string, unknown>).$eq;
      ops++;
    }
    if (ops !== 1) return undefined;
    value = eq;
  }
  if (typeof value === 'number' && Number.isNaN(value)) return undefined;
  const slot = slotOf(value);
  return slot === ARRAYS ? undefined : slot;
}

export class FieldIndex {
  readonly field: string;
  /** slot → the idKeys of the documents in it. */
  readonly #bySlot = new Map<string, Set<string>>();
  /** Slots a document moved into after it was stored: their sets are no longer in the collection's order. */
  readonly #disordered = new Set<string>();

  constructor(field: string) {
    this.field = field;
  }

  /** Keeps the index in step with the document under `key`: stored (`before` undefined), replaced, or removed (`after` undefined). */
  move(key: string, before: Doc | undefined, after: Doc | undefined): void {
    const from = before === undefined ? undefined : slotOf(before[this.field]);
    const to = after === undefined ? undefined : slotOf(after[this.field]);
    if (from === to) return;
    if (from !== undefined) {
      const set = this.#bySlot.get(from);
      set?.delete(key);
      if (set?.size === 0) {
        this.#bySlot.delete(from);
        this.#disordered.delete(from);
      }
    }
    if (to === undefined) return;
    let set = this.#bySlot.get(to);
    if (set === undefined) {
      set = new Set();
      this.#bySlot.set(to, set);
    }
    set.add(key);
    // A new document goes last in the collection too; one already stored keeps its place there.
    if (before !== undefined && set.size > 1) this.#disordered.add(to);
  }

  /** How many documents a find pinned to `slot` would try. */
  size(slot: string): number {
    return (
      (this.#bySlot.get(slot)?.size ?? 0) + (slot === ARRAYS ? 0 : (this.#bySlot.get(ARRAYS)?.size ?? 0))
    );
  }

  /**
   * The idKeys of the documents that may match an equality pinned to `slot`, in the collection's order (`stored`:
   * its keys), so that mingo's stable sort breaks ties as it would over the whole collection. The slot's own set
   * is in that order unless a stored document moved into it; only then, or when documents hold arrays in the
   * field (rare in what the functions store), does this walk the collection, and a moved-into set is put back in
   * order for the reads after.
   */
  candidates(slot: string, stored: Iterable<string>): string[] {
    const set = this.#bySlot.get(slot);
    const arrays = this.#bySlot.get(ARRAYS);
    if (arrays === undefined && !this.#disordered.has(slot)) return set === undefined ? [] : [...set];
    const keys: string[] = [];
    const own: string[] = [];
    for (const key of stored) {
      const mine = set?.has(key) === true;
      if (mine) own.push(key);
      if (mine || arrays?.has(key) === true) keys.push(key);
    }
    if (set !== undefined && this.#disordered.delete(slot)) {
      set.clear();
      for (const key of own) set.add(key);
    }
    return keys;
  }
}
