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

  /** Runs `task` on a free worker; settles as the task does. */
  run(task: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const start = (): void => {
        this.#running++;
        let settled: Promise<void>;
        try {
          settled = task();
        } catch (err) {
          settled = Promise.reject(err);
        }
        settled.then(resolve, reject).finally(() => {
          this.#running--;
          this.#waiting.shift()?.();
        });
      };
      if (this.#running < this.#concurrency) start();
      else this.#waiting.push(start);
    });
  }
}
