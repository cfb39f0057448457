import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
/**
 * The pipeline section: for each store — FerretDB on PostgreSQL (or the MongoDB at MONGODB_URL), FerretDB
 * on SQLite, and `make dev`'s in-memory dev store — first the store floor (store-floor.ts: raw inserts at
 * the pipeline's concurrency), then the banking pipeline on that store (pipeline-host.ts). FerretDB is
 * started here (FERRETDB_BIN, `make ferretdb`); its PostgreSQL backend keeps its data in the database of
 * BENCH_POSTGRESQL_URL (default postgres://postgres@127.0.0.1:5432/sluice_bench, created when missing).
 */

import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { type FerretdbProcess, startFerretdb } from '../../platform/test-servers/ferretdb.ts';
import { platformNodeFlags } from './bench-processes.ts';
import { marked } from './broker.ts';
import { declaredQueueType, PIPELINE_FUNCTIONS } from './broker-bench.ts';
import { type StoreRun, Workload, type WorkloadName, warmedUp } from './pipeline-bench.ts';
import { ROOT } from './servers.ts';

export interface PipelineOptions {
  readonly url: string;
  readonly transfers: number;
  readonly maxSeconds: number;
  readonly floorSeconds: number;
  readonly inFlight: number;
  readonly serverCpu: string;
  readonly loadCpu: string;
  readonly log: (line: string) => void;
  /** Only these stores (`ferretdb-postgresql`/`mongodb`, `ferretdb-sqlite`, `memory`); default all three. */
  readonly stores?: readonly string[];
  /**
   * Also run `make inject`'s workload on each store, this many transfers (a reported row, not a goal:
   * pipeline-bench.ts `Workload`); 0 or absent: not run.
   */
  readonly injectTransfers?: number;
}

/**
 * Transfers run before the measured ones, as a share of them: every other section, and the store floor it is
 * compared with, measure after a warm-up (the streams section's is 10 % of its readings too).
 */
const WARMUP_SHARE = 0.1;

interface StoreSpec {
  readonly store: string;
  readonly label: string;
  /** Starts the store; resolves with its URL (undefined: the in-memory dev store) and how to stop it. */
  start(): Promise<{ url: string | undefined; stop(): Promise<void> }>;
}

function stores(): StoreSpec[] {
  const ferretdb = (backend: 'postgresql' | 'sqlite') => async () => {
    const p: FerretdbProcess = await startFerretdb({
      backend,
      // Its error level logs every duplicate key, which the ledger and the idempotency guard meet by design.
      stderr: 'ignore',
      postgresqlUrl: process.env.BENCH_POSTGRESQL_URL || 'postgres://postgres@127.0.0.1:5432/sluice_bench',
    });
    return { url: p.url, stop: () => p.stop() };
  };
  const external = process.env.MONGODB_URL;
  const first: StoreSpec =
    external !== undefined && external !== ''
      ? {
          store: 'mongodb',
          label: 'MongoDB (MONGODB_URL)',
          start: async () => ({ url: external, stop: async () => {} }),
        }
      : { store: 'ferretdb-postgresql', label: 'FerretDB 1.24 / PostgreSQL', start: ferretdb('postgresql') };
  return [
    first,
    { store: 'ferretdb-sqlite', label: 'FerretDB 1.24 / SQLite', start: ferretdb('sqlite') },
    {
      store: 'memory',
      label: "make dev's in-memory dev store",
      start: async () => ({ url: undefined, stop: async () => {} }),
    },
  ];
}

interface HostResult {
  readonly warmup?: number;
  readonly warmupRate?: number;
  readonly rate?: number;
  readonly transfers?: number;
  readonly seconds?: number;
  readonly drainSeconds?: number;
  readonly flat?: number;
  readonly tenths?: readonly number[];
  readonly replyFlat?: number;
  readonly p99Ms?: number;
  readonly calls?: Record<string, Record<string, number>>;
  readonly cpu?: Record<string, number | undefined>;
  readonly rssMb?: Record<string, number | undefined>;
  readonly ok?: boolean;
  readonly checks?: Record<string, boolean>;
}

export async function runPipelineSection(options: PipelineOptions): Promise<StoreRun[]> {
  const runs: StoreRun[] = [];
  const queueType = declaredQueueType(ROOT);
  options.log(`  bundling ${PIPELINE_FUNCTIONS.join(', ')}`);
  await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'platform/build/bundle.ts'), ...PIPELINE_FUNCTIONS],
    {
      maxBuffer: 1 << 22,
    },
  );
  for (const spec of stores().filter(
    (s) => options.stores === undefined || options.stores.includes(s.store),
  )) {
    if (spec.store.startsWith('ferretdb') && !process.env.FERRETDB_BIN) {
      runs.push(empty(spec, options, 'FERRETDB_BIN not set (make ferretdb)'));
      continue;
    }
    let started: Awaited<ReturnType<StoreSpec['start']>> | undefined;
    const db = `sluice_bench_${process.pid}`;
    try {
      started = await spec.start();
      const common = {
        db,
        inFlight: options.inFlight,
        ...(started.url === undefined ? {} : { mongodbUrl: started.url }),
      };
      const floor = await marked(
        [
          join(ROOT, 'bench/src/store-floor.ts'),
          JSON.stringify({ ...common, seconds: options.floorSeconds, warmupSeconds: 1 }),
        ],
        options.serverCpu,
        { nodeFlags: platformNodeFlags() },
      );
      options.log(`  ${spec.label}: store floor ${floor.rate.toFixed(0)} inserts/s`);
      const drainSeconds = 180;
      const workloads: [WorkloadName, number][] = [[Workload.neighbours, options.transfers]];
      if ((options.injectTransfers ?? 0) > 0) workloads.push([Workload.inject, options.injectTransfers ?? 0]);
      for (const [workload, transfers] of workloads) {
        // Each workload on an empty database: the injector's plan has ids and accounts of its own.
        const runDb = workload === Workload.inject ? `${db}_inject` : db;
        const r = (await marked(
          [
            join(ROOT, 'bench/src/pipeline-host.ts'),
            JSON.stringify({
              ...common,
              db: runDb,
              url: options.url,
              transfers,
              // make inject's plan is an open loop of its own, reported without a target: no warm-up there.
              warmupTransfers: workload === Workload.inject ? 0 : Math.round(transfers * WARMUP_SHARE),
              maxSeconds: options.maxSeconds,
              drainSeconds,
              serverCpu: options.serverCpu,
              loadCpu: options.loadCpu,
              queueType,
              workload,
            }),
          ],
          options.loadCpu,
          { timeoutMs: (options.maxSeconds + drainSeconds + 180) * 1000, nodeFlags: platformNodeFlags() },
        )) as unknown as HostResult;
        const failed = Object.entries(r.checks ?? {})
          .filter(([, ok]) => !ok)
          .map(([k]) => k);
        const label = workload === Workload.inject ? `${spec.label}, make inject's plan` : spec.label;
        runs.push({
          store: spec.store,
          label,
          floor: floor.rate,
          rate: r.rate,
          transfers: r.transfers,
          asked: transfers,
          ...(r.warmup === undefined ? {} : { warmup: r.warmup, warmupRate: r.warmupRate }),
          seconds: r.seconds,
          ...(r.drainSeconds === undefined ? {} : { drainSeconds: r.drainSeconds }),
          flat: r.flat,
          ...(r.tenths === undefined ? {} : { tenths: r.tenths }),
          ...(r.replyFlat === undefined ? {} : { replyFlat: r.replyFlat }),
          p99Ms: r.p99Ms,
          calls: r.calls,
          cpu: r.cpu,
          rssMb: r.rssMb,
          ok: r.ok === true,
          ...(failed.length === 0 ? {} : { note: `failed: ${failed.join(', ')}` }),
          ...(workload === Workload.inject ? { workload } : {}),
        });
        options.log(
          `  ${label}: ${r.rate?.toFixed(1)} transfers/s (${r.transfers} in ${r.seconds?.toFixed(0)} s${r.drainSeconds === undefined ? '' : `, ${r.drainSeconds.toFixed(0)} s of it the drain`}${warmedUp(r)}), last tenth ${r.flat?.toFixed(2)} × the first (tenths ${r.tenths?.map((t) => t.toFixed(0)).join(' ') ?? '–'}/s${r.replyFlat === undefined ? '' : `; the replies' ${r.replyFlat.toFixed(2)}`}), invariants ${r.ok ? 'held' : `FAILED ${failed.join(', ')}`}`,
        );
      }
    } catch (err) {
      const message = (err as Error).message.slice(-400);
      options.log(`  ${spec.label}: ${message}`);
      runs.push(empty(spec, options, message));
    } finally {
      if (started?.url !== undefined) {
        // Leave nothing behind in a shared server (FerretDB on PostgreSQL keeps its data between runs).
        const client = await MongoClient.connect(started.url).catch(() => undefined);
        for (const name of [db, `${db}_inject`]) {
          await client
            ?.db(name)
            .dropDatabase()
            .catch(() => {});
        }
        await client?.close();
      }
      await started?.stop();
    }
  }
  return runs;
}

function empty(spec: StoreSpec, options: PipelineOptions, note: string): StoreRun {
  return {
    store: spec.store,
    label: spec.label,
    floor: undefined,
    rate: undefined,
    transfers: undefined,
    asked: options.transfers,
    seconds: undefined,
    flat: undefined,
    p99Ms: undefined,
    calls: undefined,
    cpu: undefined,
    rssMb: undefined,
    ok: false,
    note,
  };
}
