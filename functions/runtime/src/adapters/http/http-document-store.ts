/**
 * DocumentStore client of the dev store: one MemoryDocumentStore hosted by the local platform
 * (`make dev` without MONGODB_URL), so every instance of every function shares state and keeps it
 * across scale-to-zero, as it would with MongoDB. Development only, like Knative's InMemoryChannel:
 * loopback, no auth, lost when `make dev` stops. Selected by SLUICE_DEV_STORE_URL (config.ts).
 */
import { DuplicateKeyError, StoreUnavailableError } from '../../errors.ts';
import type {
  Collection,
  CollectionOptions,
  Doc,
  DocumentStore,
  Filter,
  FindOptions,
  IndexSpec,
  Update,
  UpdateResult,
} from '../../ports/document-store.ts';
import {
  DEV_STORE_OPS,
  type DevStoreArgs,
  type DevStoreErrorBody,
  type DevStoreOp,
  DUPLICATE_KEY_CODE,
  decodeDevStore,
  encodeDevStore,
} from './dev-store-wire.ts';

export interface HttpDocumentStoreOptions {
  /** Per request; a store that does not answer in time is unavailable (503, retried). @default 10 000 */
  readonly timeoutMs?: number;
}

export class HttpDocumentStore implements DocumentStore {
  readonly kind = 'dev-shared-memory';
  readonly #base: string;
  readonly #timeoutMs: number;

  constructor(url: string, options: HttpDocumentStoreOptions = {}) {
    this.#base = url.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  collection<T extends Doc = Doc>(name: string, options: CollectionOptions = {}): Collection<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new HttpCollection<T>((op, args) =>
      this.#call(`/v1/${encodeURIComponent(name)}/${op}`, args, timeoutMs),
    );
  }

  async ping(options: CollectionOptions = {}): Promise<void> {
    await this.#call('/v1/ping', undefined, options.timeoutMs ?? this.#timeoutMs);
  }

  // Node's global fetch (undici) keeps connections alive in its process-wide pool; nothing of ours to close.
  async close(): Promise<void> {}

  async #call(path: string, args: DevStoreArgs | undefined, timeoutMs: number): Promise<unknown> {
    const body = args === undefined ? undefined : encodeDevStore(args);
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${this.#base}${path}`, {
        method: args === undefined ? 'GET' : 'POST',
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      throw new StoreUnavailableError(`dev store ${this.#base} unavailable: ${(err as Error).message}`, {
        cause: err,
        retryAfterSeconds: 1,
      });
    }
    if (status === 200) return (decodeDevStore(text) as { result?: unknown }).result;
    if (status === 204) return undefined;
    const answer = parseError(text);
    const message = answer?.message ?? `dev store answered ${status}`;
    if (status === 409 && answer?.code === DUPLICATE_KEY_CODE) throw new DuplicateKeyError(message);
    if (status === 400) throw new TypeError(message);
    if (status === 502 || status === 503 || status === 504) {
      throw new StoreUnavailableError(`dev store unavailable: ${message}`, { retryAfterSeconds: 1 });
    }
    throw new Error(`dev store ${status}: ${message}`);
  }
}

function parseError(text: string): Partial<DevStoreErrorBody> | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return body !== null && typeof body === 'object' ? (body as Partial<DevStoreErrorBody>) : undefined;
  } catch {
    return undefined;
  }
}

type Call = (op: DevStoreOp, args: DevStoreArgs) => Promise<unknown>;

class HttpCollection<T extends Doc> implements Collection<T> {
  readonly #call: Call;
  constructor(call: Call) {
    this.#call = call;
  }

  async findOne(filter: Filter): Promise<T | null> {
    return ((await this.#call(DEV_STORE_OPS.findOne, { filter })) as T | undefined) ?? null;
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    return (await this.#call(DEV_STORE_OPS.find, { filter, options })) as T[];
  }

  async insertOne(doc: T): Promise<void> {
    await this.#call(DEV_STORE_OPS.insertOne, { doc });
  }

  async updateOne(filter: Filter, update: Update, options: { upsert?: boolean } = {}): Promise<UpdateResult> {
    return (await this.#call(DEV_STORE_OPS.updateOne, { filter, update, options })) as UpdateResult;
  }

  async findOneAndUpdate(
    filter: Filter,
    update: Update,
    options: { upsert?: boolean } = {},
  ): Promise<T | null> {
    const doc = await this.#call(DEV_STORE_OPS.findOneAndUpdate, { filter, update, options });
    return (doc as T | undefined) ?? null;
  }

  async deleteOne(filter: Filter): Promise<number> {
    return (await this.#call(DEV_STORE_OPS.deleteOne, { filter })) as number;
  }

  async deleteMany(filter: Filter): Promise<number> {
    return (await this.#call(DEV_STORE_OPS.deleteMany, { filter })) as number;
  }

  async countDocuments(filter: Filter): Promise<number> {
    return (await this.#call(DEV_STORE_OPS.countDocuments, { filter })) as number;
  }

  async createIndex(spec: IndexSpec): Promise<void> {
    await this.#call(DEV_STORE_OPS.createIndex, { spec });
  }
}
