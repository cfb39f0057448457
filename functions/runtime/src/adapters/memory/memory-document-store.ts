/**
 * In-process DocumentStore for the embedded default (`make dev` without MONGODB_URL) and unit tests.
 * Like Knative's InMemoryChannel it is for development: nothing survives a restart. MongoDB's query
 * and update languages come from `mingo`, so handlers behave the same here and on MongoDB.
 */
import { isDeepStrictEqual } from 'node:util';
import rfdc from 'rfdc';
import { commonJsExports } from '../../commonjs-import.ts';
import { DuplicateKeyError } from '../../errors.ts';
import {
  assertSafeDocument,
  assertSafeUpdate,
  type BulkWriteOperation,
  type BulkWriteOptions,
  type BulkWriteResult,
  bulkWriteOneByOne,
  type Collection,
  type Doc,
  type DocumentStore,
  type Filter,
  type FindOptions,
  type IndexSpec,
  type Update,
  type UpdateResult,
} from '../../ports/document-store.ts';
import type { StoredOutcome } from '../../ports/idempotency-store.ts';
import { FieldIndex, pinnedSlot } from './field-index.ts';
import { Chain, extendsChain, findSlot, packRecord, unpackRecord } from './record-chains.ts';

/**
 * Documents are copied in and out, so no caller can change what is stored behind the store's back.
 * rfdc copies plain objects, arrays, Dates and Buffers (what documents hold) several times faster
 * than structuredClone, which goes through V8's serializer.
 */
const copy: <V>(value: V) => V = rfdc();

/**
 * The copy a document is stored as: the same, except that its Dates are shared with stored documents
 * holding the same instant. Safe because the store never mutates a stored document (an update stores a
 * new one) and never hands one out (reads copy). A Date is ~80 bytes of heap, and the idempotency guard
 * stores three per event, two of them equal (the chain's `expiresAt`) and most equal to the neighbouring
 * events' (same millisecond): interned, the records each event leaves behind shrink by a quarter, and
 * with them the garbage collector's work (docs/performance.md).
 */
const copyIn: <V>(value: V) => V = rfdc({ constructorHandlers: [[Date, storedDate]] });

const DATE_SLOTS = 256;
const recentDates: (Date | undefined)[] = new Array(DATE_SLOTS);
/** A stored Date for the instant of `date`: one already stored when one of the recent ones holds it. */
function storedDate(date: Date): Date {
  const ms = date.getTime();
  const slot = (ms & (DATE_SLOTS - 1)) >>> 0;
  const recent = recentDates[slot];
  if (recent !== undefined && recent.getTime() === ms) return recent;
  const own = new Date(ms);
  if (!Number.isNaN(ms)) recentDates[slot] = own;
  return own;
}

/**
 * A completed record's outcome as stored: `{status}` alone (a 204, a 202: most events) is one shared
 * frozen object per status, anything else a copy. Reads copy it out, so sharing is never seen.
 */
const bareOutcomes = new Map<number, StoredOutcome>();
function storedOutcome(outcome: Record<string, unknown>): StoredOutcome {
  const status = outcome.status;
  let only = true;
  for (const field in outcome) if (field !== 'status') only = false;
  if (!only || typeof status !== 'number' || !Number.isInteger(status))
    return copyIn(outcome) as unknown as StoredOutcome;
  let shared = bareOutcomes.get(status);
  if (shared === undefined) {
    shared = Object.freeze({ status });
    bareOutcomes.set(status, shared);
  }
  return shared;
}
const copyOutcome = (outcome: StoredOutcome): StoredOutcome => copy(outcome);

export class MemoryDocumentStore implements DocumentStore {
  readonly kind = 'memory';
  readonly #collections = new Map<string, MemoryCollection<Doc>>();

  collection<T extends Doc = Doc>(name: string): Collection<T> {
    let c = this.#collections.get(name);
    if (c === undefined) {
      c = new MemoryCollection();
      this.#collections.set(name, c);
    }
    return c as unknown as Collection<T>;
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

type Mingo = typeof import('mingo');
let mingo: Mingo | undefined;
/**
 * mingo is loaded on first use, not at start-up (~50 ms of a cold start): the idempotency guard's hot
 * path (insert, find and $set by _id) never needs it.
 */
async function loadMingo(): Promise<void> {
  mingo ??= commonJsExports<Mingo>(await import('mingo'), 'Query');
}
function m(): Mingo {
  if (mingo === undefined) throw new Error('mingo used before loadMingo()');
  return mingo;
}
// A function, not an arrow: it is called with `new`, and returning an object from it yields that object.
const Query = function Query(filter: Filter) {
  return new (m().Query)(filter);
} as unknown as Mingo['Query'];
const applyUpdate: Mingo['update'] = (...args) => m().update(...args);
const needsMingo = (filter: Filter, update?: Update, upsert?: boolean): boolean =>
  !(onlyId(filter) && pinnedId(filter) !== UNPINNED) ||
  (update !== undefined && (upsert === true || plainSet(update) === undefined));

function onlyId(filter: Filter): boolean {
  for (const key in filter) if (key !== '_id') return false;
  return true;
}

const UNPINNED = Symbol('unpinned');
/**
 * The `_id` a filter pins — `{_id: v}` with v not an object, or `{_id: {$eq: v}}` with v a string, number or
 * boolean (how the APIs read a client's id without letting it smuggle in an operator) — else UNPINNED: a map
 * lookup answers it, where mingo would test every document.
 */
function pinnedId(filter: Filter): unknown {
  const id = filter._id;
  if (id === undefined) return UNPINNED;
  if (typeof id !== 'object' || id === null) return id;
  if (Object.getPrototypeOf(id) !== Object.prototype) return UNPINNED;
  let eq: unknown = UNPINNED;
  for (const op in id) {
    if (op !== '$eq') return UNPINNED;
    eq = (id as Record<string, unknown>).$eq;
  }
  return typeof eq === 'string' || typeof eq === 'number' || typeof eq === 'boolean' ? eq : UNPINNED;
}

/** The `$set` of an update that only sets top-level fields (no dotted paths, no operators, not _id). */
function plainSet(update: Update): Readonly<Record<string, unknown>> | undefined {
  let set: Record<string, unknown> | undefined;
  for (const op in update) {
    if (op === '$set') set = update.$set as Record<string, unknown>;
    else if (op !== '$setOnInsert') return undefined;
  }
  if (set === undefined || set === null || typeof set !== 'object') return undefined;
  for (const key in set) if (key === '_id' || key.includes('.') || key.startsWith('$')) return undefined;
  return set;
}

/**
 * The map key of an `_id`: a string is its own key (no copy per insert and lookup: the idempotency guard's
 * two inserts per event); anything else is NUL + its JSON, and so is a string that starts with NUL, so
 * the two kinds never meet (JSON text never starts with NUL).
 */
const idKey = (id: unknown): string =>
  typeof id === 'string' && id.charCodeAt(0) !== 0 ? id : `\u0000${JSON.stringify(id)}`;

/**
 * A unique index: its key (the indexed fields' values, a missing field counting as null, as in MongoDB)
 * → the `idKey` of the document holding it. A map, so an insert checks it in O(1): comparing against
 * every stored document made each insert O(n), and the banking ledger's entries slowed as they grew.
 */
interface UniqueIndex {
  readonly fields: readonly string[];
  readonly owners: Map<string, string>;
}

/** The instant of a `{expiresAt: {$lte: <Date>}}` filter (the guard's purge), else undefined. */
function expiredBefore(filter: Filter): number | undefined {
  let only = false;
  for (const key in filter) {
    if (key !== 'expiresAt') return undefined;
    only = true;
  }
  const condition = filter.expiresAt;
  if (!only || condition === null || typeof condition !== 'object') return undefined;
  let lte: unknown;
  for (const op in condition) {
    if (op !== '$lte') return undefined;
    lte = (condition as Record<string, unknown>).$lte;
  }
  return lte instanceof Date && !Number.isNaN(lte.getTime()) ? lte.getTime() : undefined;
}

const uniqueKey = (index: UniqueIndex, doc: Doc): string =>
  JSON.stringify(index.fields.map((f) => (doc[f] === undefined ? null : doc[f])));

/** A range of string `_id`s: each bound undefined (open ended), inclusive or exclusive. */
interface IdRange {
  readonly from: string | undefined;
  readonly fromInclusive: boolean;
  readonly to: string | undefined;
  readonly toInclusive: boolean;
}

/**
 * The `_id` range of a filter — `{}` or `{_id: {$gt|$gte|$lt|$lte: <string>, …}, …}`, at most one bound per side,
 * other fields beside it tested on each document in the range — else undefined. These are the keyset reads the
 * functions page and fold with (a vehicle's fixes, a term's postings, the next page of a listing).
 */
function idRangeOf(filter: Filter): IdRange | undefined {
  const condition = filter._id;
  if (condition === undefined && !onlyId(filter)) return undefined;
  if (condition === undefined)
    return { from: undefined, fromInclusive: true, to: undefined, toInclusive: true };
  if (
    condition === null ||
    typeof condition !== 'object' ||
    Object.getPrototypeOf(condition) !== Object.prototype
  )
    return undefined;
  let from: string | undefined;
  let fromInclusive = true;
  let to: string | undefined;
  let toInclusive = true;
  let bounds = 0;
  for (const op in condition) {
    const value = (condition as Record<string, unknown>)[op];
    if (typeof value !== 'string') return undefined;
    bounds++;
    if ((op === '$gt' || op === '$gte') && from === undefined) {
      from = value;
      fromInclusive = op === '$gte';
    } else if ((op === '$lt' || op === '$lte') && to === undefined) {
      to = value;
      toInclusive = op === '$lte';
    } else return undefined;
  }
  if (bounds === 0) return undefined;
  return { from, fromInclusive, to, toInclusive };
}

/** 1 or -1 when a find is ordered by `_id` alone (or not at all: the `_id` index order, as on MongoDB), else undefined. */
function idOrderOf(sort: FindOptions['sort']): 1 | -1 | undefined {
  if (sort === undefined) return 1;
  let order: 1 | -1 | undefined;
  for (const field in sort) {
    if (field !== '_id') return undefined;
    order = sort[field];
  }
  return order;
}

/** The first index of sorted `ids` whose id is ≥ `id` (> `id` when `after`). */
function searchIds(ids: readonly string[], id: string, after: boolean): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = ids[mid] as string;
    if (at < id || (after && at === id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The test of a range read's other fields: `===` when each is a top-level equality to a string, boolean or number
 * (`{vehicleId: {$eq: v}}`, the fleet's reads), mingo otherwise and for a document holding an array there (which
 * an equality may match inside). A mingo Query copies its operator table when built (docs/performance.md), more
 * than the whole range read costs.
 */
function restTest(rest: Record<string, unknown>): (doc: Doc) => boolean {
  const pairs: [string, unknown][] = [];
  for (const field in rest) {
    let value = rest[field];
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const ops = Object.keys(value);
      if (ops.length !== 1 || ops[0] !== '$eq') return queryTest(rest);
      value = (value as { $eq: unknown }).$eq;
    }
    const plain =
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && !Number.isNaN(value));
    if (!plain || field.startsWith('$') || field.includes('.')) return queryTest(rest);
    pairs.push([field, value]);
  }
  let query: ((doc: Doc) => boolean) | undefined;
  return (doc) => {
    for (const [field, value] of pairs) {
      const held = doc[field];
      if (held === value) continue;
      if (!Array.isArray(held)) return false;
      query ??= queryTest(rest);
      return query(doc);
    }
    return true;
  };
}
function queryTest(rest: Record<string, unknown>): (doc: Doc) => boolean {
  const query = new Query(rest);
  return (doc) => query.test(doc);
}

class MemoryCollection<T extends Doc> implements Collection<T> {
  readonly #docs = new Map<string, T>();
  readonly #unique: UniqueIndex[] = [];
  /**
   * The string `_id`s of #docs in order: an `_id` index for range reads (`#findIdRange`), built on the first one
   * and kept in step by #put and #remove from then on. Without it every range read copied and filtered the whole
   * collection, and a vehicle's fold (two range reads per fix) slowed as history grew (docs/performance.md,
   * "Fleet"). A sorted array with binary search, written here: an insert moves the ids after it (a memmove of
   * 8 bytes each), far less than the scan it replaces.
   */
  #ids: string[] | undefined;
  /** Documents whose `_id` is not a plain string (map key NUL + JSON): range reads then take mingo's path. */
  #otherIds = 0;
  /** One per field that leads a declared index (field-index.ts); they cover #docs, not the packed records. */
  readonly #fieldIndexes: FieldIndex[] = [];
  /**
   * The idempotency guard's records, packed per key (record-chains.ts). Inserts and reads by `_id` and
   * the guard's purge use them as they are; any other write first turns them back into documents for
   * good (`#unpackAll`), so only the guard's own traffic takes the packed path.
   */
  readonly #chains = new Map<string, Chain>();
  #packing = true;
  #lastSource = '';

  /** Every document, the packed ones rebuilt: what a query other than by `_id` runs over. */
  #all(): T[] {
    const docs = [...this.#docs.values()];
    for (const chain of this.#chains.values()) {
      for (let g = 0; g < chain.length; g++) docs.push(unpackRecord(chain, g, copyOutcome) as T);
    }
    return docs;
  }

  /** The document under a string `_id` among the packed ones (a fresh copy), or undefined. */
  #packed(id: unknown): T | undefined {
    if (this.#chains.size === 0 || typeof id !== 'string') return undefined;
    const at = findSlot(this.#chains, id);
    return at === undefined ? undefined : (unpackRecord(at.chain, at.generation, copyOutcome) as T);
  }

  /** Before a write the packed form does not cover: every chain back to documents, and no packing after. */
  #unpackAll(): void {
    this.#packing = false;
    if (this.#chains.size === 0) return;
    const chains = [...this.#chains.values()];
    this.#chains.clear();
    for (const chain of chains) {
      for (let g = 0; g < chain.length; g++) {
        const doc = unpackRecord(chain, g, copyOutcome) as T;
        this.#put(idKey(doc._id), doc);
      }
    }
  }

  /**
   * Inserts `doc` packed when it is a guard record that starts or extends its chain: true when done.
   * Throws DuplicateKeyError when its `_id` is taken; false when it is to be stored as a document.
   */
  #insertPacked(doc: T): boolean {
    const record = packRecord(doc, storedDate, storedOutcome);
    if (record === undefined) return false;
    // packRecord took only the guard's own fields, of their own types: the outcome is the one value left to check.
    assertSafeDocument(doc.outcome, 'outcome');
    const chain = this.#chains.get(record.key);
    if (chain === undefined ? record.generation !== 0 : !extendsChain(chain, record)) {
      if (chain !== undefined && record.generation < chain.length) {
        throw new DuplicateKeyError(`duplicate key _id ${JSON.stringify(doc._id)}`);
      }
      return false;
    }
    if (this.#docs.size > 0 && this.#docs.has(doc._id as string)) {
      throw new DuplicateKeyError(`duplicate key _id ${JSON.stringify(doc._id)}`);
    }
    if (chain === undefined) {
      // Most events of a function come from one source, each parsed into its own string: keep one.
      if (record.eventSource !== this.#lastSource) this.#lastSource = record.eventSource;
      this.#chains.set(record.key, new Chain(record, this.#lastSource));
    } else {
      chain.push(record.slot);
    }
    return true;
  }

  /** Stores `doc` under `key`, replacing what was there, and keeps the unique indexes in step. */
  #put(key: string, doc: T): void {
    const previous = this.#docs.get(key);
    for (const index of this.#unique) {
      if (previous !== undefined) index.owners.delete(uniqueKey(index, previous));
      index.owners.set(uniqueKey(index, doc), key);
    }
    this.#docs.set(key, doc);
    for (const index of this.#fieldIndexes) index.move(key, previous, doc);
    if (previous !== undefined) return;
    if (key.charCodeAt(0) === 0) this.#otherIds++;
    else if (this.#ids !== undefined) this.#ids.splice(searchIds(this.#ids, key, false), 0, key);
  }

  #remove(key: string): void {
    const previous = this.#docs.get(key);
    if (previous === undefined) return;
    for (const index of this.#unique) index.owners.delete(uniqueKey(index, previous));
    for (const index of this.#fieldIndexes) index.move(key, previous, undefined);
    this.#docs.delete(key);
    if (key.charCodeAt(0) === 0) this.#otherIds--;
    else if (this.#ids !== undefined) this.#ids.splice(searchIds(this.#ids, key, false), 1);
  }

  /**
   * A find over an `_id` range in `_id` order, through #ids: the same documents, in the same order, as mingo's
   * filter and sort over the whole collection; the filter's other fields (a vehicle's id beside its `_id`
   * range) are tested on each document in the range. Undefined when the read is not one (another filter or
   * order, a limit of 0, which MongoDB reads as none) or the collection holds what #ids does not (packed guard
   * records, non-string ids): mingo's path then. mingo is loaded when the filter has other fields.
   */
  #findIdRange(filter: Filter, options: FindOptions): T[] | undefined {
    if (this.#chains.size > 0 || this.#otherIds > 0 || (options.limit !== undefined && options.limit <= 0))
      return undefined;
    const range = idRangeOf(filter);
    // `{}` unsorted is a listing in no order: mingo's path, so a collection only read that way keeps no #ids.
    if (range === undefined || (filter._id === undefined && options.sort === undefined)) return undefined;
    const order = idOrderOf(options.sort);
    if (order === undefined) return undefined;
    // Plain string keys only (#otherIds is 0): each key is its document's `_id`.
    this.#ids ??= [...this.#docs.keys()].sort();
    const ids = this.#ids;
    const start = range.from === undefined ? 0 : searchIds(ids, range.from, !range.fromInclusive);
    const end = range.to === undefined ? ids.length : searchIds(ids, range.to, range.toInclusive);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let rest: Record<string, unknown> | undefined;
    for (const key in filter) {
      if (key === '_id') continue;
      rest ??= {};
      rest[key] = filter[key];
    }
    const test = rest === undefined ? undefined : restTest(rest);
    const out: T[] = [];
    for (let i = order === 1 ? start : end - 1; i >= start && i < end && out.length < limit; i += order) {
      const doc = this.#docs.get(ids[i] as string) as T;
      if (test === undefined || test(doc)) out.push(copy(doc));
    }
    return out;
  }

  /**
   * The documents a filter can match, in #docs' order, when it pins a field that leads a declared index to one
   * value (the smallest such set); undefined when none does, or packed records (which no index covers) exist.
   */
  #narrowed(filter: Filter): T[] | undefined {
    if (this.#fieldIndexes.length === 0 || this.#chains.size > 0) return undefined;
    let best: FieldIndex | undefined;
    let bestSlot = '';
    for (const index of this.#fieldIndexes) {
      if (!Object.hasOwn(filter, index.field)) continue;
      const slot = pinnedSlot(filter[index.field]);
      if (slot === undefined || (best !== undefined && index.size(slot) >= best.size(bestSlot))) continue;
      best = index;
      bestSlot = slot;
    }
    if (best === undefined) return undefined;
    return best.candidates(bestSlot, this.#docs.keys()).map((key) => this.#docs.get(key) as T);
  }

  /** What a query other than by `_id` runs over: the narrowed documents, else all of them. */
  #scanned(filter: Filter): T[] {
    return this.#narrowed(filter) ?? this.#all();
  }

  async findOne(filter: Filter): Promise<T | null> {
    if (needsMingo(filter)) await loadMingo();
    if (this.#chains.size > 0) {
      const id = pinnedId(filter);
      if (onlyId(filter) && id !== UNPINNED) {
        const packed = this.#packed(id);
        if (packed !== undefined) return packed;
      } else {
        const query = new Query(filter);
        for (const doc of this.#all()) if (query.test(doc)) return copy(doc);
        return null;
      }
    }
    const doc = this.#first(filter);
    return doc === undefined ? null : copy(doc);
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    const byIdAlone = onlyId(filter);
    if (!byIdAlone) await loadMingo(); // the range path tests the other fields with it
    const inRange = this.#findIdRange(filter, options);
    if (inRange !== undefined) return inRange;
    if (byIdAlone) await loadMingo();
    let cursor = new Query(filter).find<T>(this.#scanned(filter));
    if (options.sort !== undefined) cursor = cursor.sort(options.sort);
    if (options.limit !== undefined) cursor = cursor.limit(options.limit);
    return cursor.all().map((d) => copy(d));
  }

  async insertOne(doc: T): Promise<void> {
    if (this.#packing && this.#unique.length === 0 && this.#insertPacked(doc)) return;
    assertSafeDocument(doc);
    if (this.#chains.size > 0 && this.#packed(doc._id) !== undefined) {
      throw new DuplicateKeyError(`duplicate key _id ${JSON.stringify(doc._id)}`);
    }
    const stored = copyIn(doc) as T & { _id?: unknown };
    if (stored._id === undefined) stored._id = crypto.randomUUID();
    const key = idKey(stored._id);
    this.#assertUnique(stored, key, undefined);
    this.#put(key, stored);
  }

  async updateOne(filter: Filter, update: Update, options: { upsert?: boolean } = {}): Promise<UpdateResult> {
    this.#unpackAll();
    if (needsMingo(filter, update, options.upsert)) await loadMingo();
    const r = this.#update(filter, update, options.upsert === true);
    return { matchedCount: r.matched ? 1 : 0, modifiedCount: r.modified ? 1 : 0, upsertedId: r.upsertedId };
  }

  async findOneAndUpdate(
    filter: Filter,
    update: Update,
    options: { upsert?: boolean } = {},
  ): Promise<T | null> {
    this.#unpackAll();
    if (needsMingo(filter, update, options.upsert)) await loadMingo();
    const r = this.#update(filter, update, options.upsert === true);
    return r.doc === undefined ? null : copy(r.doc);
  }

  async deleteOne(filter: Filter): Promise<number> {
    this.#unpackAll();
    if (needsMingo(filter)) await loadMingo();
    const doc = this.#first(filter);
    if (doc === undefined) return 0;
    this.#remove(idKey(doc._id));
    return 1;
  }

  async deleteMany(filter: Filter): Promise<number> {
    await loadMingo();
    let removed = 0;
    const before = expiredBefore(filter);
    if (before === undefined) this.#unpackAll();
    else {
      // The guard's purge: a chain shares one expiry, so it goes as a whole.
      for (const [key, chain] of this.#chains) {
        if (chain.expiresAt.getTime() <= before) {
          removed += chain.length;
          this.#chains.delete(key);
        }
      }
    }
    const matches = new Query(filter).find<T>(this.#narrowed(filter) ?? [...this.#docs.values()]).all();
    // Removing many ids one splice at a time is quadratic: drop the sorted ids, the next range read sorts again.
    if (matches.length > 64) this.#ids = undefined;
    for (const doc of matches) this.#remove(idKey(doc._id));
    return removed + matches.length;
  }

  async countDocuments(filter: Filter): Promise<number> {
    await loadMingo();
    return new Query(filter).find<T>(this.#scanned(filter)).all().length;
  }

  async createIndex(spec: IndexSpec): Promise<void> {
    // No TTL monitor here, and silently accepting the index would leave expired documents forever.
    if (spec.expireAfterSeconds !== undefined) {
      throw new TypeError('the memory store has no TTL indexes: purge expired documents instead');
    }
    const fields = Object.keys(spec.keys);
    this.#indexField(fields[0]);
    if (spec.unique !== true) return;
    this.#unpackAll();
    if (this.#unique.some((i) => i.fields.join('\0') === fields.join('\0'))) return; // already there
    const index: UniqueIndex = { fields, owners: new Map() };
    for (const [key, doc] of this.#docs) index.owners.set(uniqueKey(index, doc), key);
    this.#unique.push(index);
  }

  /** A field index on `field` (top-level, not `_id`, which has its own paths), over what #docs holds now. */
  #indexField(field: string | undefined): void {
    if (field === undefined || field === '_id' || field.includes('.') || field.startsWith('$')) return;
    if (this.#fieldIndexes.some((i) => i.field === field)) return;
    const index = new FieldIndex(field);
    for (const [key, doc] of this.#docs) index.move(key, undefined, doc);
    this.#fieldIndexes.push(index);
  }

  bulkWrite(
    operations: readonly BulkWriteOperation<T>[],
    options?: BulkWriteOptions,
  ): Promise<BulkWriteResult> {
    return bulkWriteOneByOne(this, operations, options);
  }

  #first(filter: Filter): T | undefined {
    const id = pinnedId(filter);
    if (id !== UNPINNED) {
      const doc = this.#docs.get(idKey(id));
      // By _id alone (the idempotency guard's hot path) the map lookup is the answer: a mingo Query
      // copies mingo's whole operator table on construction (~27% of CPU under load, docs/performance.md).
      return doc !== undefined && (onlyId(filter) || new Query(filter).test(doc)) ? doc : undefined;
    }
    const query = new Query(filter);
    for (const doc of this.#narrowed(filter) ?? this.#docs.values()) if (query.test(doc)) return doc;
    return undefined;
  }

  #update(
    filter: Filter,
    update: Update,
    upsert: boolean,
  ): { matched: boolean; modified: boolean; upsertedId: unknown; doc?: T } {
    assertSafeUpdate(update);
    const existing = this.#first(filter);
    if (existing === undefined) {
      if (!upsert) return { matched: false, modified: false, upsertedId: null };
      // Upsert: equality fields of the filter seed the new document, as in MongoDB.
      const seed: Doc = {};
      for (const [k, v] of Object.entries(filter)) {
        if (!k.startsWith('$') && (v === null || typeof v !== 'object' || Array.isArray(v))) seed[k] = v;
      }
      const { $setOnInsert, ...rest } = update;
      const doc = { ...seed, ...($setOnInsert ?? {}) } as T & { _id?: unknown };
      applyUpdate(doc, rest, undefined, undefined, { cloneMode: 'deep' });
      if (doc._id === undefined) doc._id = crypto.randomUUID();
      const key = idKey(doc._id);
      this.#assertUnique(doc, key, undefined);
      this.#put(key, doc);
      return { matched: false, modified: false, upsertedId: doc._id, doc };
    }
    const set = plainSet(update);
    if (set !== undefined) {
      // Top-level $set (how the idempotency guard completes a record): no mingo on the hot path. The old
      // version is replaced, never mutated, so a shallow copy plus cloned new values is enough.
      const next = { ...existing } as Doc;
      let modified = false;
      for (const [k, v] of Object.entries(set)) {
        if (!modified && !isDeepStrictEqual(next[k], v)) modified = true;
        next[k] = copyIn(v);
      }
      const key = idKey(existing._id);
      this.#assertUnique(next as T, key, key);
      this.#put(key, next as T);
      return { matched: true, modified, upsertedId: null, doc: next as T };
    }
    const { $setOnInsert: _ignored, ...rest } = update;
    const next = copy(existing);
    const changed = applyUpdate(next, rest, undefined, undefined, { cloneMode: 'deep' });
    const key = idKey(existing._id);
    this.#assertUnique(next, key, key);
    this.#put(key, next);
    return { matched: true, modified: changed.length > 0, upsertedId: null, doc: next };
  }

  /** `key`: the idKey of `doc`; `self`: the idKey of the document it replaces (undefined for an insert). */
  #assertUnique(doc: T, key: string, self: string | undefined): void {
    if (self === undefined && this.#docs.has(key)) {
      throw new DuplicateKeyError(`duplicate key _id ${JSON.stringify(doc._id)}`);
    }
    for (const index of this.#unique) {
      const owner = index.owners.get(uniqueKey(index, doc));
      if (owner !== undefined && owner !== self) {
        throw new DuplicateKeyError(`duplicate key for unique index on ${index.fields.join(', ')}`);
      }
    }
  }
}
