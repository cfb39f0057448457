/**
 * Which store a process uses, in one place: a MongoDB URL wins; else the local platform's shared dev
 * store (`make dev` without MONGODB_URL); else an in-process memory store (when `memory` is allowed).
 * The runtime opens a function's store through it, and so do the CLIs (`make verify`, `make dlq`).
 * The adapters are imported when chosen, so a function never loads the MongoDB driver it does not use.
 */
import { MemoryDocumentStore } from './adapters/memory/memory-document-store.ts';
import { resolveDevStore } from './dev-endpoints.ts';
import type { DocumentStore } from './ports/document-store.ts';

export interface StoreOptions {
  readonly mongodbUrl?: string | undefined;
  /** @default 'sluice' */
  readonly mongodbDb?: string | undefined;
  readonly devStoreUrl?: string | undefined;
  /** The dev store's per-run token (SLUICE_DEV_STORE_TOKEN). */
  readonly devStoreToken?: string | undefined;
  /** Fall back to a store in this process's memory when neither is set. @default true */
  readonly memory?: boolean;
}

export async function openStore(options: StoreOptions): Promise<DocumentStore | undefined> {
  if (options.mongodbUrl !== undefined && options.mongodbUrl !== '') {
    const { MongoDocumentStore } = await import('./adapters/mongodb/mongo-document-store.ts');
    return MongoDocumentStore.connect(options.mongodbUrl, options.mongodbDb ?? 'sluice');
  }
  if (options.devStoreUrl !== undefined && options.devStoreUrl !== '') {
    const { HttpDocumentStore } = await import('./adapters/http/http-document-store.ts');
    return new HttpDocumentStore(
      options.devStoreUrl,
      options.devStoreToken === undefined ? {} : { token: options.devStoreToken },
    );
  }
  return options.memory === false ? undefined : new MemoryDocumentStore();
}

export interface ToolStore {
  readonly store: DocumentStore;
  /** Which store, for the tool's messages: `MongoDB <db>`, or `dev store <url> (from <where it was found>)`. */
  readonly where: string;
}

/**
 * The store a command-line tool works on (`make verify`, `make fleet-recompute`, `make quotes-reindex`): MONGODB_URL
 * (+ MONGODB_DB, else `defaultDb`) when set; else the dev store of a running `make dev` (SLUICE_DEV_STORE_URL, else
 * .tmp/dev/endpoints.json: `resolveDevStore`); undefined when neither is known. Never one in this process's memory:
 * a tool's writes there would be lost when it exits.
 */
export async function openToolStore(
  env: Readonly<Record<string, string | undefined>> = process.env,
  defaultDb = 'sluice',
): Promise<ToolStore | undefined> {
  const mongodbUrl = env.MONGODB_URL || undefined;
  const mongodbDb = env.MONGODB_DB || defaultDb;
  const devStore = mongodbUrl === undefined ? resolveDevStore(env) : undefined;
  const store = await openStore({
    mongodbUrl,
    mongodbDb,
    devStoreUrl: devStore?.url,
    devStoreToken: devStore?.token,
    memory: false,
  });
  if (store === undefined) return undefined;
  const where =
    mongodbUrl !== undefined ? `MongoDB ${mongodbDb}` : `dev store ${devStore?.url} (from ${devStore?.from})`;
  return { store, where };
}
