/**
 * A store the tests can take down or break on demand, to see a function's routes answer what the runtime says they
 * do (route-answers.ts `route`): 503 + Retry-After while the store is unavailable (StoreUnavailableError), 500 for
 * anything else a store call throws.
 */
import { expect } from 'vitest';
import { MemoryDocumentStore } from '../src/adapters/memory/memory-document-store.ts';
import { StoreUnavailableError } from '../src/errors.ts';
import type { Collection, CollectionOptions, Doc, DocumentStore } from '../src/ports/document-store.ts';

/** `up`, or every store call fails: as an outage (`unavailable`) or as a bug (`broken`). */
export type StoreState = 'up' | 'unavailable' | 'broken';

export class SwitchableStore implements DocumentStore {
  state: StoreState = 'up';
  readonly kind: string;
  readonly #inner: DocumentStore;

  constructor(inner: DocumentStore = new MemoryDocumentStore()) {
    this.#inner = inner;
    this.kind = inner.kind;
  }

  collection<T extends Doc = Doc>(name: string, options?: CollectionOptions): Collection<T> {
    return new Proxy(this.#inner.collection<T>(name, options), {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown => {
          if (this.state === 'unavailable')
            return Promise.reject(new StoreUnavailableError('the test took the store down'));
          if (this.state === 'broken') return Promise.reject(new Error('the test broke the store'));
          return Reflect.apply(value, target, args);
        };
      },
    });
  }

  ping(options?: CollectionOptions): Promise<void> {
    return this.#inner.ping(options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Runs `run` with the store in `state`, and brings it back up after, whatever `run` did. */
  async failing<T>(state: Exclude<StoreState, 'up'>, run: () => Promise<T>): Promise<T> {
    this.state = state;
    try {
      return await run();
    } finally {
      this.state = 'up';
    }
  }
}

/** What a request gives back that `expectStoreFailuresAnswered` looks at. */
interface Answered {
  readonly status: number;
  readonly headers: Headers;
}

/**
 * Sends every request of `requests` (by name) with the store unavailable, then broken, and expects each answered as
 * the runtime says: 503 with `Retry-After: 1`, then 500. A request is told the state, to vary what it sends.
 */
export async function expectStoreFailuresAnswered(
  store: SwitchableStore,
  requests: Readonly<Record<string, (state: Exclude<StoreState, 'up'>) => Promise<Answered>>>,
): Promise<void> {
  for (const [state, status] of [
    ['unavailable', 503],
    ['broken', 500],
  ] as const)
    await store.failing(state, async () => {
      for (const [name, send] of Object.entries(requests)) {
        const answer = await send(state);
        expect(answer.status, `${name} while the store is ${state}`).toBe(status);
        if (status === 503) expect(answer.headers.get('retry-after'), name).toBe('1');
      }
    });
}
