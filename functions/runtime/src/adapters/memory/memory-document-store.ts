/**
 * In-process DocumentStore for the embedded default (`make dev` without MONGODB_URL) and unit tests.
 * Like Knative's InMemoryChannel it is for development: nothing survives a restart. MongoDB's query
 * and update languages come from `mingo`, so handlers behave the same here and on MongoDB.
 */
import { update as applyUpdate, Query } from 'mingo';
import { DuplicateKeyError } from '../../errors.ts';
import {
  assertSafeDocument,
  assertSafeUpdate,
  type Collection,
  type Doc,
  type DocumentStore,
  type Filter,
  type FindOptions,
  type IndexSpec,
  type Update,
  type UpdateResult,
} from '../../ports/document-store.ts';

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

const idKey = (id: unknown): string => (typeof id === 'string' ? `s:${id}` : `j:${JSON.stringify(id)}`);

class MemoryCollection<T extends Doc> implements Collection<T> {
  readonly #docs = new Map<string, T>();
  readonly #unique: IndexSpec[] = [];

  async findOne(filter: Filter): Promise<T | null> {
    const doc = this.#first(filter);
    return doc === undefined ? null : structuredClone(doc);
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    let cursor = new Query(filter).find<T>([...this.#docs.values()]);
    if (options.sort !== undefined) cursor = cursor.sort(options.sort);
    if (options.limit !== undefined) cursor = cursor.limit(options.limit);
    return cursor.all().map((d) => structuredClone(d));
  }

  async insertOne(doc: T): Promise<void> {
    assertSafeDocument(doc);
    const copy = structuredClone(doc) as T & { _id?: unknown };
    if (copy._id === undefined) copy._id = crypto.randomUUID();
    this.#assertUnique(copy, undefined);
    this.#docs.set(idKey(copy._id), copy);
  }

  async updateOne(filter: Filter, update: Update, options: { upsert?: boolean } = {}): Promise<UpdateResult> {
    const r = this.#update(filter, update, options.upsert === true);
    return { matchedCount: r.matched ? 1 : 0, modifiedCount: r.modified ? 1 : 0, upsertedId: r.upsertedId };
  }

  async findOneAndUpdate(
    filter: Filter,
    update: Update,
    options: { upsert?: boolean } = {},
  ): Promise<T | null> {
    const r = this.#update(filter, update, options.upsert === true);
    return r.doc === undefined ? null : structuredClone(r.doc);
  }

  async deleteOne(filter: Filter): Promise<number> {
    const doc = this.#first(filter);
    if (doc === undefined) return 0;
    this.#docs.delete(idKey(doc._id));
    return 1;
  }

  async deleteMany(filter: Filter): Promise<number> {
    const matches = new Query(filter).find<T>([...this.#docs.values()]).all();
    for (const doc of matches) this.#docs.delete(idKey(doc._id));
    return matches.length;
  }

  async countDocuments(filter: Filter): Promise<number> {
    return new Query(filter).find<T>([...this.#docs.values()]).all().length;
  }

  async createIndex(spec: IndexSpec): Promise<void> {
    if (spec.unique === true) this.#unique.push(spec);
  }

  #first(filter: Filter): T | undefined {
    const id = filter._id;
    if (id !== undefined && (typeof id !== 'object' || id === null)) {
      const doc = this.#docs.get(idKey(id));
      return doc !== undefined && new Query(filter).test(doc) ? doc : undefined;
    }
    const query = new Query(filter);
    for (const doc of this.#docs.values()) if (query.test(doc)) return doc;
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
      this.#assertUnique(doc, undefined);
      this.#docs.set(idKey(doc._id), doc);
      return { matched: false, modified: false, upsertedId: doc._id, doc };
    }
    const { $setOnInsert: _ignored, ...rest } = update;
    const next = structuredClone(existing);
    const changed = applyUpdate(next, rest, undefined, undefined, { cloneMode: 'deep' });
    this.#assertUnique(next, existing._id);
    this.#docs.set(idKey(existing._id), next);
    return { matched: true, modified: changed.length > 0, upsertedId: null, doc: next };
  }

  #assertUnique(doc: T, selfId: unknown): void {
    const self = selfId === undefined ? undefined : idKey(selfId);
    if (self === undefined && this.#docs.has(idKey(doc._id))) {
      throw new DuplicateKeyError(`duplicate key _id ${JSON.stringify(doc._id)}`);
    }
    for (const index of this.#unique) {
      const fields = Object.keys(index.keys);
      for (const [key, other] of this.#docs) {
        if (key === self) continue;
        if (fields.every((f) => JSON.stringify(other[f]) === JSON.stringify(doc[f]))) {
          throw new DuplicateKeyError(`duplicate key for unique index on ${fields.join(', ')}`);
        }
      }
    }
  }
}
