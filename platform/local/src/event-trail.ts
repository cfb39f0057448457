/**
 * `make dev`'s memory of what became of recent deliveries (the broker's trail, eventing/src/trail.ts), and the
 * loopback endpoint `make try` reads it from. Bounded: the last TRAIL_CAPACITY records. Reading needs the
 * per-run token `make dev` writes only to the owner-only `.tmp/dev/endpoints.json`, since records carry
 * replies' data (private by default).
 *
 *   GET /v1/trail?event=<id>            the records of one event (one per Trigger it matched), oldest first
 *   GET /v1/trail?correlation=<id>      every record of one flow (the event and the replies it caused)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TrailRecord } from '../../../eventing/src/index.ts';
import { PROBLEM_CONTENT_TYPE } from '../../../functions/runtime/src/index.ts';

export const TRAIL_CAPACITY = 2000;

/** The last `capacity` records, oldest first. */
export class EventTrail {
  readonly #records: TrailRecord[] = [];
  readonly #capacity: number;

  constructor(capacity = TRAIL_CAPACITY) {
    this.#capacity = capacity;
  }

  add(record: TrailRecord): void {
    this.#records.push(record);
    if (this.#records.length > this.#capacity) this.#records.splice(0, this.#records.length - this.#capacity);
  }

  find(query: { readonly event?: string; readonly correlation?: string }): TrailRecord[] {
    return this.#records.filter(
      (r) =>
        (query.event === undefined || r.eventId === query.event) &&
        (query.correlation === undefined || r.correlationId === query.correlation),
    );
  }
}

export interface TrailServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** For reads; never logged. */
  readonly token: string;
  close(): Promise<void>;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export async function startTrailServer(trail: EventTrail, port = 0): Promise<TrailServer> {
  const token = randomBytes(32).toString('base64url');
  const expected = digest(`Bearer ${token}`);
  const server = createServer((req, res) => {
    req.resume();
    const answer = (status: number, body: unknown, type = 'application/json'): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(text);
    };
    const problem = (status: number, title: string, detail: string): void =>
      answer(status, { type: 'about:blank', title, status, detail }, PROBLEM_CONTENT_TYPE);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/v1/trail') return problem(404, 'Not Found', 'GET /v1/trail?event=<id>');
    if (req.method !== 'GET') return problem(405, 'Method Not Allowed', 'use GET');
    if (!timingSafeEqual(digest(req.headers.authorization ?? ''), expected))
      return problem(401, 'Unauthorized', 'the trail needs the token of .tmp/dev/endpoints.json');
    const event = url.searchParams.get('event') ?? undefined;
    const correlation = url.searchParams.get('correlation') ?? undefined;
    if (event === undefined && correlation === undefined)
      return problem(400, 'Bad Request', 'name an event (?event=<id>) or a flow (?correlation=<id>)');
    answer(200, {
      records: trail.find({
        ...(event === undefined ? {} : { event }),
        ...(correlation === undefined ? {} : { correlation }),
      }),
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
