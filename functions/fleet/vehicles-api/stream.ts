/**
 * `GET /vehicles/stream`: server-sent events of vehicles' live positions, read from the tracker's vehicle
 * documents by their update time (index `updatedAtMs`), polled every `pollMs` — the tracker instances write, any
 * vehicles-api instance streams, nothing to subscribe to.
 *
 *   event: vehicle   one vehicle's live view (VehicleView + serverTime), id = its update time (ms)
 *   event: tick      {"serverTime": …} every `tickMs`: the page's clock for greying vehicles, and traffic that
 *                    keeps idle-timeouts along the way (the gateway's, Knative's) from cutting a quiet stream
 *
 * Resumable: a reconnect with `Last-Event-ID` gets every vehicle updated since (its newest state, not each fix
 * in between: history is /vehicles/{id}/positions); without one, every vehicle first. Update times come from
 * several tracker instances' clocks and writes land a little after them, so a resume reads `overlapMs` further
 * back and skips what this connection already sent (a repeat after a resume is the same state again).
 *
 * The server ends each stream after `maxMs` (a `retry` hint tells EventSource when to come back): on Knative a
 * request open longer than the revision's timeoutSeconds is cut, and an open stream is an in-flight request, so
 * while one is open the revision never scales to zero (docs/fleet.md, "Streaming on Knative").
 */
import type { ServerResponse } from 'node:http';
import type { Collection } from '../../runtime/src/index.ts';
import type { VehicleDoc } from '../lib/tracker-store.ts';
import { vehicleView } from './views.ts';

export interface StreamOptions {
  readonly pollMs: number;
  readonly tickMs: number;
  readonly maxMs: number;
  readonly overlapMs: number;
  readonly offlineAfterMs: number;
  /** Vehicles read per poll at most (the rest on the next one). */
  readonly batch: number;
  readonly now?: () => number;
}

export const STREAM_DEFAULTS = {
  pollMs: 1000,
  tickMs: 5000,
  maxMs: 50_000,
  overlapMs: 2000,
  batch: 2000,
} as const;

/** The cursor a `Last-Event-ID` carries: an update time in ms; anything else starts over. */
export function parseLastEventId(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

export function streamVehicles(
  vehicles: Collection<VehicleDoc>,
  res: ServerResponse,
  lastEventId: number | undefined,
  options: StreamOptions,
  stop: AbortSignal,
): Promise<void> {
  const now = options.now ?? Date.now;
  const sent = new Map<string, string>();
  let cursor = lastEventId === undefined ? Number.NEGATIVE_INFINITY : lastEventId - options.overlapMs;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  });
  // A HEAD (from inside the cluster: the gateway routes GET only) gets the headers, and no stream to hold open.
  if (res.req.method === 'HEAD') {
    res.end();
    return Promise.resolve();
  }
  res.write(`retry: 1000\n\n`);
  res.flushHeaders();
  return new Promise<void>((done) => {
    let timer: NodeJS.Timeout | undefined;
    let lastTick = 0;
    const ended = now() + options.maxMs;
    const finish = () => {
      if (timer !== undefined) clearTimeout(timer);
      stop.removeEventListener('abort', finish);
      res.off('close', finish);
      if (!res.writableEnded) res.end();
      done();
    };
    stop.addEventListener('abort', finish, { once: true });
    res.once('close', finish);
    const poll = async () => {
      try {
        const filter = cursor === Number.NEGATIVE_INFINITY ? {} : { updatedAtMs: { $gt: cursor } };
        const changed = await vehicles.find(filter, { sort: { updatedAtMs: 1 }, limit: options.batch });
        const t = now();
        for (const v of changed) {
          if (sent.get(v._id) === v.rank) continue;
          sent.set(v._id, v.rank);
          const data = JSON.stringify({
            ...vehicleView(v, t, options.offlineAfterMs),
            serverTime: new Date(t).toISOString(),
          });
          res.write(`id: ${v.updatedAtMs}\nevent: vehicle\ndata: ${data}\n\n`);
        }
        const newest = changed.at(-1)?.updatedAtMs;
        // A full batch: more to read at once; otherwise look back `overlapMs` for writes that land late.
        if (newest !== undefined)
          cursor = changed.length === options.batch ? newest : Math.max(cursor, newest - options.overlapMs);
        if (t - lastTick >= options.tickMs) {
          lastTick = t;
          res.write(`event: tick\ndata: {"serverTime":"${new Date(t).toISOString()}"}\n\n`);
        }
      } catch {
        // The store did not answer: the client reconnects and resumes from its last id.
        return finish();
      }
      if (res.writableEnded || stop.aborted) return finish();
      if (now() >= ended) return finish();
      timer = setTimeout(poll, options.pollMs);
    };
    void poll();
  });
}
