/**
 * The page's copy of the recording: the server-sent events of `GET /v1/stream` from the first record the server still
 * holds, then live. EventSource reconnects by itself and sends `Last-Event-ID`, so nothing is missed or doubled;
 * when `make dev` restarted (its numbering is behind ours) the copy starts over.
 */
import type { ConsoleRecord } from '../records.ts';
import { streamUrl } from './api.ts';

/** As many records as the server keeps by default. */
const KEEP = 5000;

export type Connection = 'connecting' | 'live' | 'reconnecting';

export class RecordStore {
  records: ConsoleRecord[] = [];
  #last = 0;
  readonly #listeners = new Set<() => void>();
  readonly #connection = new Set<(state: Connection) => void>();
  #scheduled = false;

  connect(): void {
    const source = new EventSource(`${streamUrl()}?after=0`);
    source.addEventListener('open', () => this.#state('live'));
    source.addEventListener('error', () => this.#state('reconnecting'));
    source.addEventListener('hello', (e) => {
      const { total } = JSON.parse((e as MessageEvent<string>).data) as { total: number };
      if (total < this.#last) {
        this.records = [];
        this.#last = 0;
        this.#changed();
      }
    });
    for (const kind of ['accepted', 'delivery', 'scale', 'dispatcher-scale'] as const) {
      source.addEventListener(kind, (e) => {
        const record = JSON.parse((e as MessageEvent<string>).data) as ConsoleRecord;
        if (record.seq <= this.#last) return;
        this.#last = record.seq;
        this.records.push(record);
        if (this.records.length > KEEP) this.records.splice(0, this.records.length - KEEP);
        this.#changed();
      });
    }
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onConnection(listener: (state: Connection) => void): void {
    this.#connection.add(listener);
  }

  #state(state: Connection): void {
    for (const l of this.#connection) l(state);
  }

  /** One render per frame however many records arrive. */
  #changed(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    requestAnimationFrame(() => {
      this.#scheduled = false;
      for (const l of this.#listeners) l();
    });
  }
}
