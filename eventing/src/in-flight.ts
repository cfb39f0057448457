/**
 * What the broker keeps of work in flight, without a long-lived Set or Map whose entries come and go.
 *
 * V8 reallocates such a collection's hash table in the old generation once the collection lives there, and
 * an outgrown table keeps pointing at what it held until the next full collection: every entry that was in
 * flight when a table was replaced — a delivery's promise or callback, and all it references — then
 * survives the young generation's collections and is promoted. The broker added and removed a few entries
 * per delivery and promoted several KB per banking transfer that way (docs/performance.md, "The pinned core,
 * and what the broker's collector promotes"); a count, or an array that moves its last entry into a freed slot, keeps nothing
 * once it is done with it.
 */

/** Work counted while it runs, so that a close can wait until none is left. */
export class InFlight {
  #count = 0;
  #waiters: (() => void)[] = [];

  get size(): number {
    return this.#count;
  }

  enter(): void {
    this.#count++;
  }

  leave(): void {
    if (this.#count === 0) return;
    if (--this.#count > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Counts `work` until it settles, fulfilled or rejected (its outcome stays the caller's to handle). */
  track(work: Promise<unknown>): void {
    this.enter();
    work.then(this.#leave, this.#leave);
  }

  readonly #leave = (): void => this.leave();

  /** Resolves once nothing is in flight: at once when nothing is. */
  settled(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** A callback in a CallbackList, to remove it by. */
export interface CallbackEntry {
  /** @internal */ f: () => void;
  /** @internal Its slot in the list; -1 once removed. */ index: number;
}

const done = (): void => {};

/** Callbacks added and removed once each; removal moves the last entry into the freed slot (no search). */
export class CallbackList {
  readonly #entries: CallbackEntry[] = [];

  get size(): number {
    return this.#entries.length;
  }

  add(f: () => void): CallbackEntry {
    const entry = { f, index: this.#entries.length };
    this.#entries.push(entry);
    return entry;
  }

  /** Removes `entry`; nothing when it was removed already (or taken by `takeAll`). */
  remove(entry: CallbackEntry): void {
    const i = entry.index;
    if (i < 0 || this.#entries[i] !== entry) return;
    const last = this.#entries.pop() as CallbackEntry;
    if (last !== entry) {
      this.#entries[i] = last;
      last.index = i;
    }
    entry.index = -1;
    entry.f = done;
  }

  /** Empties the list and returns its callbacks, for the caller to call. */
  takeAll(): (() => void)[] {
    const fs = this.#entries.map((e) => e.f);
    for (const e of this.#entries) {
      e.index = -1;
      e.f = done;
    }
    this.#entries.length = 0;
    return fs;
  }
}
