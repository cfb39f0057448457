/**
 * At most `concurrency` tasks at once; the others wait in arrival order. Upstream's dispatcher and
 * RabbitmqSource adapter run `parallelism` goroutines reading one channel fed by the consumer's
 * prefetched deliveries: a message can be held (prefetched, unacknowledged) while it waits for a free
 * worker, and a retrying message keeps its worker (head-of-line).
 */
export class Workers {
  readonly #concurrency: number;
  readonly #waiting: (() => void)[] = [];
  #running = 0;

  constructor(concurrency: number) {
    this.#concurrency = Math.max(1, concurrency);
  }

  /** Tasks started and not yet settled. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a worker. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` on a free worker; settles as the task does, once its worker is free again. */
  run(task: () => Promise<void>): Promise<void> {
    if (this.#running < this.#concurrency) return this.#start(task);
    return new Promise<void>((resolve) => this.#waiting.push(() => resolve(this.#start(task))));
  }

  // One promise per task beyond its own: the continuations are the instance's, not closures per task.
  #start(task: () => Promise<void>): Promise<void> {
    this.#running++;
    let settled: Promise<void>;
    try {
      settled = task();
    } catch (err) {
      settled = Promise.reject(err);
    }
    return settled.then(this.#free, this.#rejected);
  }

  readonly #free = (): void => {
    this.#running--;
    this.#waiting.shift()?.();
  };
  readonly #rejected = (err: unknown): never => {
    this.#free();
    throw err;
  };
}
