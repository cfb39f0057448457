/**
 * The event console as `make dev` runs it: the recorder fed by the broker (accepted events, deliveries) and by
 * serving (each Service's instances), its page built from platform/local/console/page/ (pages.ts), and the views
 * the platform can answer: Functions (serving), Triggers (the broker), Dead letters and their replay (the same
 * store and code as `make dlq` / `make replay`: eventing/src/dead-letters.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { listDeadLetters, replayDeadLetter, type TriggerState } from '../../../../eventing/src/index.ts';
import {
  type DocumentStore,
  type Logger,
  loadStaticFiles,
  type StaticFiles,
} from '../../../../functions/runtime/src/index.ts';
import { buildPage, PAGE_DIR } from '../../../build/pages.ts';
import type { KnativeServiceSpec } from '../knative-service.ts';
import type { ScalerSnapshot } from '../scaler.ts';
import {
  CONSOLE_PATH,
  type ConsoleServer,
  type ConsoleSources,
  startConsoleServer,
} from './console-server.ts';
import type { EventRecorder } from './recorder.ts';
import type { FunctionView, ScaleRecord, TriggerView } from './records.ts';

/** The console page's folder (index.html, main.ts, one module per view), built into the static/ beside it. */
export const CONSOLE_PAGE_DIR = join(import.meta.dirname, PAGE_DIR);

/** Turns serving's snapshots into scale records, one per change of a Service's counts. */
export function scaleRecorder(recorder: EventRecorder): (snapshot: ScalerSnapshot) => void {
  const last = new Map<string, string>();
  return (snapshot) => {
    const count = (state: string): number => snapshot.instances.filter((i) => i.state === state).length;
    const record: ScaleRecord = {
      kind: 'scale',
      time: new Date().toISOString(),
      service: snapshot.service,
      ...(snapshot.revision === undefined ? {} : { revision: snapshot.revision }),
      ready: count('ready'),
      starting: count('starting'),
      stopping: count('stopping'),
      inFlight: snapshot.instances.reduce((n, i) => n + i.inFlight, 0),
      queued: snapshot.queued,
    };
    // In-flight changes with every request: a new record only when the instances change.
    const key = `${record.revision}|${record.ready}|${record.starting}|${record.stopping}`;
    if (last.get(snapshot.service) === key) return;
    last.set(snapshot.service, key);
    recorder.add(record);
  };
}

export interface ConsoleOptions {
  readonly recorder: EventRecorder;
  readonly log: Logger;
  readonly services: readonly KnativeServiceSpec[];
  readonly snapshots: () => readonly ScalerSnapshot[];
  readonly broker?:
    | {
        readonly url: string;
        triggers?(): Promise<readonly TriggerState[]>;
        pause?(trigger: string, paused: boolean): Promise<boolean>;
        paused?(trigger: string): boolean | undefined;
      }
    | undefined;
  /** Where dead letters are (MONGODB_URL or the dev store), as `make dlq` finds them. */
  readonly deadLetterStore?: DocumentStore | undefined;
  /** @default CONSOLE_PAGE_DIR */
  readonly pageDir?: string;
  /** SLUICE_CONSOLE_PORT; @default 0 (a free port) */
  readonly port?: number;
}

/** Builds the page (esbuild, well under a second) and serves it; a page that does not build is a warning. */
async function consolePage(dir: string, log: Logger): Promise<{ page?: StaticFiles; problem?: string }> {
  if (!existsSync(dir)) return { problem: `no console page at ${dir}` };
  try {
    const built = await buildPage({ dir });
    return { page: await loadStaticFiles(built.out, { prefix: CONSOLE_PATH }) };
  } catch (err) {
    const problem = `the console page does not build: ${(err as Error).message}`;
    log.warn(problem, { 'event.action': 'console-page' });
    return { problem };
  }
}

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const { recorder, broker, deadLetterStore: store } = options;
  const specs = new Map(options.services.map((s) => [s.name, s]));
  const sources: ConsoleSources = {
    functions: () => {
      const deliveries = new Map<string, { n: number; errors: number }>();
      for (const r of recorder.records()) {
        if (r.kind !== 'delivery' || r.subscriber === undefined) continue;
        const d = deliveries.get(r.subscriber) ?? { n: 0, errors: 0 };
        d.n++;
        if (r.status < 200 || r.status > 299) d.errors++;
        deliveries.set(r.subscriber, d);
      }
      return options.snapshots().map((s): FunctionView => {
        const count = (state: string): number => s.instances.filter((i) => i.state === state).length;
        const spec = specs.get(s.service);
        return {
          name: s.service,
          ...(s.revision === undefined ? {} : { revision: s.revision }),
          ready: count('ready'),
          starting: count('starting'),
          stopping: count('stopping'),
          inFlight: s.instances.reduce((n, i) => n + i.inFlight, 0),
          queued: s.queued,
          minScale: spec?.minScale ?? 0,
          maxScale: spec?.maxScale ?? 0,
          deliveries: deliveries.get(s.service)?.n ?? 0,
          errors: deliveries.get(s.service)?.errors ?? 0,
        };
      });
    },
    ...(broker?.triggers === undefined
      ? {}
      : {
          triggers: async () => {
            const states = (await broker.triggers?.()) ?? [];
            const dead = new Map<string, number>();
            for (const r of recorder.records())
              if (r.kind === 'delivery' && (r.outcome === 'dead-lettered' || r.outcome === 'lost'))
                dead.set(r.trigger, (dead.get(r.trigger) ?? 0) + 1);
            return states.map((t): TriggerView => {
              const paused = broker.paused?.(t.name);
              return {
                name: t.name,
                filter: t.filter,
                subscriber: t.subscriber,
                queue: t.queue,
                ...(t.depth === undefined ? {} : { depth: t.depth }),
                replicas: t.replicas,
                ...(paused === undefined ? {} : { paused }),
                ...(t.deadLetterSink === undefined ? {} : { deadLetterSink: t.deadLetterSink }),
                deadLettered: dead.get(t.name) ?? 0,
              };
            });
          },
        }),
    ...(broker?.pause === undefined
      ? {}
      : { pause: (trigger, paused) => broker.pause?.(trigger, paused) ?? Promise.resolve(false) }),
    ...(store === undefined
      ? {}
      : {
          deadLetters: async () =>
            (await listDeadLetters(store, { all: true })).map((d) => ({
              id: d._id,
              eventId: d.eventId,
              type: d.type,
              source: d.source,
              reason: d.reason,
              code: d.code,
              dest: d.dest,
              status: d.status,
              count: d.count,
              lastDeadLetteredAt: d.lastDeadLetteredAt,
            })),
          ...(broker === undefined
            ? {}
            : {
                // One replay implementation: make replay's (eventing/src/dead-letters.ts).
                replay: async (ids) => {
                  const all = await listDeadLetters(store, { all: true });
                  const results = [];
                  for (const id of ids) {
                    const d = all.find((x) => x._id === id);
                    if (d === undefined) {
                      results.push({ id, replayed: false, error: 'no such dead letter' });
                      continue;
                    }
                    try {
                      await replayDeadLetter(store, broker.url, d);
                      options.log.info(`console: replayed dead letter ${id} (${d.type} ${d.eventId})`, {
                        'event.action': 'replay',
                        'cloudevents.event_id': d.eventId,
                        'cloudevents.event_type': d.type,
                      });
                      results.push({ id, replayed: true });
                    } catch (err) {
                      results.push({ id, replayed: false, error: (err as Error).message });
                    }
                  }
                  return results;
                },
              }),
        }),
  };
  const { page, problem } = await consolePage(options.pageDir ?? CONSOLE_PAGE_DIR, options.log);
  return startConsoleServer({
    recorder,
    sources,
    page,
    ...(problem === undefined ? {} : { pageProblem: problem }),
    ...(options.port === undefined ? {} : { port: options.port }),
  });
}
