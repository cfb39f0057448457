/**
 * Pure parts of the pipeline section (pipeline-host.ts, pipeline.ts): its arguments, the rate of each
 * tenth of a run, the store round trips read from a function's /metrics, and the section's table and
 * target lines. Unit-tested without starting anything.
 */
import { evaluateTarget, Op, type TargetResult } from './stats.ts';

/**
 * What the pipeline is fed: `neighbours`, the closed loop of refusal-free transfers between neighbouring
 * accounts (the goal's row), or `inject`, `make inject`'s own plan through its injector (an open loop, more
 * than half refused; a row that is reported, not a goal).
 */
export const Workload = { neighbours: 'neighbours', inject: 'inject' } as const;
export type WorkloadName = (typeof Workload)[keyof typeof Workload];

export interface PipelineArgs {
  readonly url: string;
  /** MongoDB/FerretDB; absent: the in-memory dev store, served by the host. */
  readonly mongodbUrl?: string;
  readonly db: string;
  readonly transfers: number;
  /** Transfers through the same loop before the measured ones (not counted). @default 0 */
  readonly warmupTransfers: number;
  readonly inFlight: number;
  readonly serverCpu: string;
  /** The loop stops submitting after this long, whatever `transfers` says. */
  readonly maxSeconds: number;
  /** How long the journal and accounts-api may take to catch up after the loop. */
  readonly drainSeconds: number;
  readonly queueType: string;
  readonly workload: WorkloadName;
  /** Where the injector runs (the load core), for the `inject` workload. */
  readonly loadCpu: string;
}

export function parsePipelineArgs(text: string | undefined): PipelineArgs {
  const raw = JSON.parse(text ?? '{}') as Record<string, unknown>;
  /** A positive number (or zero when `zeroAllowed`), else the argument is refused. */
  const num = (k: string, dflt?: number, zeroAllowed = false): number => {
    const v = raw[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (v === 0 && !zeroAllowed))
      throw new Error(`pipeline-host: bad ${k}`);
    return v;
  };
  if (typeof raw.url !== 'string') throw new Error('pipeline-host: url missing');
  return {
    url: raw.url,
    ...(typeof raw.mongodbUrl === 'string' && raw.mongodbUrl !== '' ? { mongodbUrl: raw.mongodbUrl } : {}),
    db: typeof raw.db === 'string' ? raw.db : `sluice_bench_${process.pid}`,
    transfers: Math.trunc(num('transfers')),
    warmupTransfers: Math.trunc(num('warmupTransfers', 0, true)),
    inFlight: Math.trunc(num('inFlight', 50)),
    serverCpu: typeof raw.serverCpu === 'string' ? raw.serverCpu : '0',
    maxSeconds: num('maxSeconds', 600),
    drainSeconds: num('drainSeconds', 120),
    queueType: raw.queueType === 'classic' ? 'classic' : 'quorum',
    workload: raw.workload === Workload.inject ? Workload.inject : Workload.neighbours,
    loadCpu: typeof raw.loadCpu === 'string' ? raw.loadCpu : '1',
  };
}

/**
 * Transfers/s in each tenth of the run: completion times (ms, any order) split into ten equal counts;
 * tenth k's rate = its count ÷ the time from the end of tenth k−1 (or `start`) to its last completion.
 * Fewer than 10 completions: no tenths.
 */
export function tenthRates(completions: readonly number[], start: number): number[] {
  // One reading per completion, each one more than the last: the tenths end exactly on completions.
  const times = [...completions].sort((a, b) => a - b);
  return tenthRatesFromProgress(
    times.map((at, i) => ({ at, done: i + 1 })),
    times.length,
    start,
  );
}

/** The flatness of ten tenths: the last's rate ÷ the first's (undefined without ten). */
export const lastOverFirst = (tenths: readonly number[]): number | undefined =>
  tenths.length === 10 ? (tenths[9] as number) / (tenths[0] as number) : undefined;

/** Each sample of `family` in a /metrics text (Prometheus exposition): its line, labels included, and its value. */
function* familySamples(exposition: string, family: string): Generator<{ line: string; value: number }> {
  const prefix = `${family}{`;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) yield { line, value };
  }
}

/** How many events a function has handled: `faas_invocations_total{outcome="success"}` of its /metrics, every type. */
export function handledCount(exposition: string): number {
  let sum = 0;
  for (const { line, value } of familySamples(exposition, 'faas_invocations_total'))
    if (line.includes('outcome="success"')) sum += value;
  return sum;
}

/** One reading of a run's progress: when (ms, the host's clock) and how many transfers had got that far. */
export interface Progress {
  readonly at: number;
  readonly done: number;
}

/**
 * The end-to-end progress of the last `measured` transfers from readings of each function's handled count
 * (pipeline-host.ts `sampleHandled`): each function handles one event per transfer, so at the last reading
 * the measured ones are its last `measured` events, and a transfer is through once every function got that
 * far. Below zero: earlier transfers not through yet.
 */
export function endProgress(
  samples: readonly { at: number; counts: readonly number[] }[],
  measured: number,
): Progress[] {
  const last = samples.at(-1)?.counts ?? [];
  return samples.map(({ at, counts }) => ({
    at,
    done: Math.min(...counts.map((c, i) => c - ((last[i] as number) - measured))),
  }));
}

/**
 * `tenthRates` from a sampled progress series instead of one time per transfer: tenth k ends where the count
 * reaches (k + 1) × size, interpolated linearly between the two readings around it. The end of the pipeline
 * (the journal and the view holding a transfer) is read that way, from the functions' counters. Readings
 * below zero are earlier transfers still on their way (the warm-up's, behind a slower journal): the first
 * tenth starts once they are through, not at `start`, so that a backlog does not make it look slow. Fewer
 * than 10 transfers, or readings that never reach the last tenth: no tenths.
 */
export function tenthRatesFromProgress(samples: readonly Progress[], total: number, start: number): number[] {
  const size = Math.floor(total / 10);
  if (size === 0) return [];
  let i = 0;
  let before: Progress = { at: start, done: Math.min(0, samples[0]?.done ?? 0) };
  /** When the count reached `target` (between two readings, linearly), or undefined when it never did. */
  const reached = (target: number): number | undefined => {
    while (i < samples.length && (samples[i] as Progress).done < target) before = samples[i++] as Progress;
    const after = samples[i];
    if (after === undefined) return undefined;
    const span = after.done - before.done;
    return span <= 0 ? after.at : before.at + ((target - before.done) / span) * (after.at - before.at);
  };
  let from = start;
  if (before.done < 0) {
    const through = reached(0);
    if (through === undefined) return [];
    from = Math.max(start, through);
  }
  const rates: number[] = [];
  for (let k = 0; k < 10; k++) {
    const to = reached((k + 1) * size);
    if (to === undefined) return [];
    rates.push(size / (Math.max(to - from, 1) / 1000));
    from = to;
  }
  return rates;
}

/** `sluice_store_calls_total` of one /metrics text, summed per collection (operations added up). */
export function storeCallsByCollection(exposition: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { line, value } of familySamples(exposition, 'sluice_store_calls_total')) {
    const collection = /db_collection_name="([^"]*)"/.exec(line)?.[1];
    if (collection !== undefined) out[collection] = (out[collection] ?? 0) + value;
  }
  return out;
}

/** One store's result, as pipeline.ts gathers it. */
export interface StoreRun {
  /** `ferretdb-postgresql`, `ferretdb-sqlite`, `mongodb` or `memory`. */
  readonly store: string;
  readonly label: string;
  /** Store floor: inserts/s at the pipeline's concurrency. */
  readonly floor: number | undefined;
  readonly rate: number | undefined;
  readonly transfers: number | undefined;
  readonly asked: number;
  /** Transfers before the measured ones (not counted), and their rate: the first seconds, the JIT's. */
  readonly warmup?: number;
  readonly warmupRate?: number;
  readonly seconds: number | undefined;
  /**
   * The drain: the part of `seconds` after the loop's last reply (make inject's plan: its last send) until the
   * journal and the view held every transfer.
   */
  readonly drainSeconds?: number;
  readonly flat: number | undefined;
  /**
   * Transfers/s in each tenth, first to last: of the end of the pipeline (the journal and the view hold the
   * transfer) for the goal's loop, of the replies for make inject's plan.
   */
  readonly tenths?: readonly number[];
  /** The goal's loop: last ÷ first tenth of the replies alone (the processor's side; the journal may lag). */
  readonly replyFlat?: number;
  readonly p99Ms: number | undefined;
  /** Store calls per transfer, per function. */
  readonly calls: Readonly<Record<string, Readonly<Record<string, number>>>> | undefined;
  readonly cpu: Readonly<Record<string, number | undefined>> | undefined;
  readonly rssMb: Readonly<Record<string, number | undefined>> | undefined;
  readonly ok: boolean;
  readonly note?: string;
  /** `inject`: make inject's plan, a reported row without a target. @default neighbours */
  readonly workload?: WorkloadName;
}

/**
 * The flatness the goal is judged by: the lower of the end of the pipeline's and the replies'. Each alone can
 * hide a slowdown: the replies do not see a journal falling behind, and the end of the pipeline's last tenths
 * hold the backlog it catches up on once the loop has stopped, with the processor idle and the store its own.
 */
export function bothEndsFlat(r: Pick<StoreRun, 'flat' | 'replyFlat'>): number | undefined {
  if (r.flat === undefined || r.replyFlat === undefined) return r.flat ?? r.replyFlat;
  return Math.min(r.flat, r.replyFlat);
}

/** Issue #20's pipeline goal: ≥ 0.1 × the store floor, and the last tenth ≥ 0.8 × the first at both ends. */
export const PIPELINE_GOAL = { ratio: 0.1, flat: 0.8, memoryHostMb: 300, memoryInstanceMb: 150 } as const;

const f = (v: number | undefined, d = 0): string => (v === undefined ? 'n/a' : v.toFixed(d));
const sumCalls = (c: Readonly<Record<string, number>> | undefined): number =>
  Object.values(c ?? {}).reduce((a, b) => a + b, 0);

/** `, after N warm-up transfers (R/s)`, or nothing for a run without a warm-up. */
export const warmedUp = (r: Pick<StoreRun, 'warmup' | 'warmupRate'>): string =>
  r.warmup === undefined || r.warmup === 0
    ? ''
    : `, after ${r.warmup} warm-up transfers (${f(r.warmupRate)}/s)`;

export function pipelineTable(runs: readonly StoreRun[]): string[] {
  const lines = [
    '| pipeline (RabbitMQ, 50 transfers in flight, processor → journal + accounts-api) | store floor (inserts/s) | transfers/s | ratio to floor | last tenth ÷ first | p99 | store calls per transfer (processor / journal / accounts-api) | CPU ms per transfer (broker / processor / journal / accounts-api) | RSS MB (host / processor / journal / accounts-api) | invariants |',
    '|---|---:|---:|---:|---:|---:|---|---|---|---|',
  ];
  for (const r of runs) {
    const ratio = r.rate === undefined || r.floor === undefined ? undefined : r.rate / r.floor;
    const calls = ['transaction-processor', 'transaction-journal', 'accounts-api']
      .map((fn) => f(sumCalls(r.calls?.[fn]), 1))
      .join(' / ');
    const cpuMs = ['broker', 'transaction-processor', 'transaction-journal', 'accounts-api']
      .map((k) => {
        const share = r.cpu?.[k];
        return f(
          share === undefined || r.rate === undefined || r.rate <= 0 ? undefined : (share / r.rate) * 1000,
          1,
        );
      })
      .join(' / ');
    const rss = ['host', 'transaction-processor', 'transaction-journal', 'accounts-api']
      .map((k) => f(r.rssMb?.[k]))
      .join(' / ');
    lines.push(
      `| ${r.label}: ${f(r.transfers)} of ${r.asked} transfers in ${f(r.seconds, 0)} s${warmedUp(r)} | ${f(r.floor)} | ${f(r.rate)} | ${f(ratio, 3)} | ${f(bothEndsFlat(r), 2)} | ${f(r.p99Ms, 0)} ms | ${calls} | ${cpuMs} | ${rss} | ${r.ok ? 'held' : `FAILED${r.note === undefined ? '' : ` (${r.note})`}`} |`,
    );
  }
  return lines;
}

/**
 * One target line per store: the ratio to its floor, with flatness (and memory on the in-memory store) required
 * too. Rows of `make inject`'s workload are reported in the table only: the goal is set on the neighbours' loop.
 */
export function pipelineTargets(runs: readonly StoreRun[]): TargetResult[] {
  return runs
    .filter((r) => r.workload !== Workload.inject)
    .map((r) => {
      const ratio = r.rate === undefined || r.floor === undefined ? undefined : r.rate / r.floor;
      const flat = bothEndsFlat(r);
      const flatMet = flat !== undefined && flat >= PIPELINE_GOAL.flat;
      const memory = r.store === 'memory';
      const instances = ['transaction-processor', 'transaction-journal', 'accounts-api'].map(
        (k) => r.rssMb?.[k] ?? Infinity,
      );
      const memMet =
        !memory ||
        ((r.rssMb?.host ?? Infinity) <= PIPELINE_GOAL.memoryHostMb &&
          instances.every((mb) => mb <= PIPELINE_GOAL.memoryInstanceMb));
      const complete = r.transfers !== undefined && r.transfers >= r.asked;
      return evaluateTarget(
        `pipeline-${r.store}`,
        ratio,
        Op.atLeast,
        PIPELINE_GOAL.ratio,
        `${f(r.rate)} transfers/s vs store floor ${f(r.floor)} inserts/s; ${f(r.transfers)} of ${r.asked} transfers${warmedUp(r)}` +
          `${complete ? '' : ' (not all within the time cap)'}; last tenth ${f(flat, 2)} × the first${r.replyFlat === undefined ? '' : ` at both ends (the end of the pipeline ${f(r.flat, 2)}, the replies ${f(r.replyFlat, 2)})`} (goal >= ${PIPELINE_GOAL.flat}, ${flatMet ? 'met' : 'missed'})` +
          `${memory ? `; RSS host ${f(r.rssMb?.host)} MB (goal <= ${PIPELINE_GOAL.memoryHostMb}), instances ≤ ${f(Math.max(...instances))} MB (goal <= ${PIPELINE_GOAL.memoryInstanceMb}), ${memMet ? 'met' : 'missed'}` : ''}` +
          `; invariants ${r.ok ? 'held' : 'FAILED'}${r.note === undefined ? '' : `; ${r.note}`}`,
        flatMet && memMet && complete && r.ok,
      );
    });
}
