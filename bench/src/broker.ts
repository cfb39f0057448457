/**
 * The broker path, against its floor, alternating rounds:
 * - floor: amqp-floor.ts (raw amqplib, confirms + manual ack) pinned to the server core;
 * - ours: the local broker (eventing/src startBroker) pinned to the server core, fed over HTTP by
 *   broker-host.ts on the load core, which is also the subscriber that answers 204 at once and measures
 *   end-to-end latency (same clock on both ends). broker-host.ts spawns the broker itself, pinned to
 *   the server core, and deletes its exchanges/queues afterwards.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { declaredQueueType, type QueueType } from './broker-bench.ts';
import { ROOT } from './servers.ts';
import { evaluateTarget, median, Op, pairedRatio, ratioText, type TargetResult } from './stats.ts';

const run = promisify(execFile);

/** A section measured against the amqplib floor (amqp-floor.ts) in rounds: the broker path, the streams path. */
export interface FloorRoundsOptions {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly inFlight: number;
  readonly url: string;
  readonly serverCpu: string;
  readonly loadCpu: string;
  readonly log: (line: string) => void;
}

/**
 * Runs one round's jobs in turn (their order the caller's: rotated, so that none always runs first on a drifting
 * machine): a failed one is logged and kept in `errors`, and the round goes on.
 */
export async function runRound(
  round: number,
  jobs: readonly (() => Promise<void>)[],
  errors: string[],
  log: (line: string) => void,
): Promise<void> {
  for (const job of jobs) {
    try {
      await job();
    } catch (err) {
      errors.push((err as Error).message.slice(0, 300));
      log(`  round ${round + 1}: ${(err as Error).message.slice(0, 300)}`);
    }
  }
}

export interface PathResult {
  readonly rate: number | undefined;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  /** Median share of one core used by the process under test (floor: amqp-floor; ours: the broker). */
  readonly cpu: number | undefined;
  readonly samples: readonly Sample[];
}

interface Sample {
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpu?: number;
}

export interface BrokerSection {
  /** amqplib on a classic queue, its socket as amqplib leaves it (Nagle on): the goal's floor. */
  readonly floor: PathResult;
  /**
   * The same with TCP_NODELAY, as our broker's socket (and Go's, upstream's): Nagle + delayed ACKs
   * bound the default floor at ~45 ms a publish on a classic queue, this one is several times faster.
   */
  readonly noDelayFloor: PathResult;
  /** amqplib on a quorum queue (upstream's default queue type). */
  readonly quorumFloor: PathResult;
  /** Ours, on the queue type the project's Broker declares. */
  readonly ours: PathResult | undefined;
  readonly queueType: QueueType;
  /** ours ÷ the classic floor, paired per round. */
  readonly ratio: number | undefined;
  /** ours ÷ the classic floor with TCP_NODELAY, paired per round. */
  readonly noDelayRatio: number | undefined;
  /** ours ÷ the quorum floor, paired per round. */
  readonly quorumRatio: number | undefined;
  /** Median broker CPU per delivered event, in ms (ingress + dispatch). */
  readonly cpuMsPerEvent: number | undefined;
  /** Ours again with `make dev`'s console recording every accepted event and delivery (issue #19). */
  readonly recording: PathResult | undefined;
  /**
   * Recording on ÷ off: the median over rounds of one run's deliveries in its 250 ms windows with recording on
   * ÷ those with it off (the console's cost on the broker path).
   */
  readonly recordingRatio: number | undefined;
  /** Median broker CPU per delivered event with recording on, in ms (compare cpuMsPerEvent). */
  readonly recordingCpuMsPerEvent: number | undefined;
  /** Records the watching page received per delivered event (2: an accepted and a delivery record). */
  readonly consoleRecordsPerEvent: number | undefined;
  readonly note?: string;
}

/** The broker host script exists once the eventing work has landed its startBroker. */
export const BROKER_HOST = join(ROOT, 'bench/src/broker-host.ts');
export const BROKER_MODULE = join(ROOT, 'eventing/src/index.ts');

interface MarkedResult {
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** amqp-floor.ts only. */
  readonly cpu?: number;
  /** broker-host.ts only. */
  readonly brokerCpu?: number;
  readonly functionCpu?: number;
  readonly postFailures?: number;
  readonly deadLetters?: number;
  /** broker-host.ts: deliveries in the measure window. */
  readonly delivered?: number;
  /** broker-host.ts with recording: records the watching page received. */
  readonly consoleRecords?: number;
  /** broker-host.ts with recording: deliveries of events POSTed in its on windows ÷ its off windows. */
  readonly recordingOnOff?: number;
  readonly windows?: number;
}

export interface MarkedOptions {
  /** @default 120 000 */
  readonly timeoutMs?: number;
  /** Node's flags: a script standing in for `make dev`'s platform (it hosts the dev store) takes the platform's. */
  readonly nodeFlags?: readonly string[];
}

/** Runs a bench script pinned to `cpu` and returns the JSON of its `BENCHJSON` line. */
export async function marked(
  args: readonly string[],
  cpu: string,
  { timeoutMs = 120_000, nodeFlags = [] }: MarkedOptions = {},
): Promise<MarkedResult> {
  const { stdout } = await run('taskset', ['-c', cpu, process.execPath, ...nodeFlags, ...args], {
    maxBuffer: 1 << 20,
    timeout: timeoutMs,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (line === undefined) throw new Error(`no result from ${args[0]}: ${stdout}`);
  return JSON.parse(line.slice('BENCHJSON '.length)) as MarkedResult;
}

function summarise(samples: Sample[]): PathResult {
  return {
    rate: median(samples.map((s) => s.rate)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    cpu: median(samples.flatMap((s) => (s.cpu === undefined ? [] : [s.cpu]))),
    samples,
  };
}

/**
 * Rounds of five runs, order rotating: the amqplib floor on a classic queue (amqplib's socket
 * defaults, the goal's floor), the same with TCP_NODELAY, the same on a quorum queue, and our broker on
 * the queue type eventing/manifests/broker.yaml declares, without and with the console's recording.
 */
export async function runBrokerSection(options: FloorRoundsOptions): Promise<BrokerSection> {
  const floor: Sample[] = [];
  const quorum: Sample[] = [];
  const ours: Sample[] = [];
  const pct = (cpu: number | undefined): string =>
    cpu === undefined ? '' : `, cpu ${(cpu * 100).toFixed(0)}%`;
  const haveBroker = existsSync(BROKER_MODULE) && existsSync(BROKER_HOST);
  const queueType = declaredQueueType(ROOT);
  const argsFor = (q: QueueType, recording = false, noDelay = false): string =>
    JSON.stringify({
      url: options.url,
      // A recording run measures on and off windows of 250 ms in turn: 40 pairs at least (~±3 % on this machine).
      seconds: recording ? Math.max(20, 4 * options.seconds) : options.seconds,
      warmupSeconds: options.warmupSeconds,
      inFlight: options.inFlight,
      serverCpu: options.serverCpu,
      queueType: q,
      recording,
      noDelay,
    });
  const errors: string[] = [];
  // Per-round rates (NaN = failed round) for the paired ratios, as the function path does.
  const floorRates: number[] = [];
  const noDelayRates: number[] = [];
  const noDelay: Sample[] = [];
  const quorumRates: number[] = [];
  const ourRates: number[] = [];
  /** Per round: deliveries of events POSTed with recording on ÷ off, inside one run. */
  const recordingRatios: number[] = [];
  const recording: Sample[] = [];
  const cpuPerEvent: number[] = [];
  const floorJob =
    (q: QueueType, samples: Sample[], rates: number[], round: number, noDelay = false) =>
    async (): Promise<void> => {
      const r = await marked(
        [join(ROOT, 'bench/src/amqp-floor.ts'), argsFor(q, false, noDelay)],
        options.serverCpu,
      );
      rates[round] = r.rate;
      samples.push({
        rate: r.rate,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        ...(r.cpu === undefined ? {} : { cpu: r.cpu }),
      });
      options.log(
        `  round ${round + 1} amqplib floor (${q}${noDelay ? ', TCP_NODELAY' : ''}): ${r.rate.toFixed(0)} msg/s, p99 ${r.p99Ms.toFixed(1)} ms${pct(r.cpu)}`,
      );
    };
  const recordingCpuPerEvent: number[] = [];
  const consoleSeen: number[] = [];
  /**
   * One run of our broker path (broker-host.ts starts the broker on the server core, load + sink on the load
   * core). With recording, the run switches it on and off every 250 ms and returns on ÷ off of its windows.
   */
  const oursRun = async (round: number, recordingOn: boolean): Promise<number> => {
    const label = recordingOn ? 'sluice broker, recording' : 'sluice broker';
    const r = await marked([BROKER_HOST, argsFor(queueType, recordingOn)], options.loadCpu);
    // Like the function path: a run with refused POSTs or dead letters is not a valid sample.
    if ((r.postFailures ?? 0) > 0 || (r.deadLetters ?? 0) > 0) {
      throw new Error(`${label}: ${r.postFailures} failed POSTs, ${r.deadLetters} dead letters`);
    }
    const cpu = r.brokerCpu;
    if (cpu !== undefined && r.rate > 0)
      (recordingOn ? recordingCpuPerEvent : cpuPerEvent).push((cpu / r.rate) * 1000);
    if (recordingOn && r.consoleRecords !== undefined && r.delivered !== undefined && r.delivered > 0) {
      consoleSeen.push(r.consoleRecords / r.delivered);
    }
    (recordingOn ? recording : ours).push({
      rate: r.rate,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      ...(cpu === undefined ? {} : { cpu }),
    });
    const onOff =
      r.recordingOnOff === undefined
        ? ''
        : `, on ÷ off ${r.recordingOnOff.toFixed(3)} over ${(r.windows ?? 0) / 2} pairs of 250 ms windows`;
    options.log(
      `  round ${round + 1} sluice broker (${queueType})${recordingOn ? ' + console recording, a page watching' : ''}: ${r.rate.toFixed(0)} events/s, p99 ${r.p99Ms.toFixed(1)} ms${pct(cpu)}${onOff}`,
    );
    if (!recordingOn) return r.rate;
    if (r.recordingOnOff === undefined) throw new Error(`${label}: no on/off windows measured`);
    return r.recordingOnOff;
  };
  for (let round = 0; round < options.rounds; round++) {
    floorRates[round] = Number.NaN;
    noDelayRates[round] = Number.NaN;
    quorumRates[round] = Number.NaN;
    ourRates[round] = Number.NaN;
    recordingRatios[round] = Number.NaN;
    const jobs: (() => Promise<void>)[] = [
      floorJob('classic', floor, floorRates, round),
      floorJob('classic', noDelay, noDelayRates, round, true),
      floorJob('quorum', quorum, quorumRates, round),
    ];
    if (haveBroker) {
      jobs.push(async () => {
        ourRates[round] = await oursRun(round, false);
      });
      jobs.push(async () => {
        recordingRatios[round] = await oursRun(round, true);
      });
    }
    // Rotate the order so that no run always goes first (or last) on a drifting machine.
    for (let i = 0; i < round % jobs.length; i++) jobs.push(jobs.shift() as () => Promise<void>);
    await runRound(round, jobs, errors, options.log);
  }
  const o = haveBroker ? summarise(ours) : undefined;
  const note = !haveBroker
    ? 'broker path not measured yet: needs eventing/src/index.ts (startBroker) and bench/src/broker-host.ts (TODO, docs/performance.md)'
    : errors.length > 0
      ? `${errors.length} run(s) failed: ${errors[0]}`
      : undefined;
  return {
    floor: summarise(floor),
    noDelayFloor: summarise(noDelay),
    quorumFloor: summarise(quorum),
    ours: o,
    queueType,
    ratio: o === undefined ? undefined : pairedRatio(ourRates, floorRates),
    noDelayRatio: o === undefined ? undefined : pairedRatio(ourRates, noDelayRates),
    quorumRatio: o === undefined ? undefined : pairedRatio(ourRates, quorumRates),
    cpuMsPerEvent: median(cpuPerEvent),
    recording: haveBroker ? summarise(recording) : undefined,
    recordingRatio: haveBroker ? median(recordingRatios.filter(Number.isFinite)) : undefined,
    recordingCpuMsPerEvent: median(recordingCpuPerEvent),
    consoleRecordsPerEvent: median(consoleSeen),
    ...(note === undefined ? {} : { note }),
  };
}

/** Issue #19: the console's recording (with a page watching) costs the broker path at most 5 %. */
export const RECORDING_GOAL = 0.95;

export function recordingTarget(broker: BrokerSection | undefined): TargetResult {
  const f = (v: number | undefined, d = 0): string => (v === undefined ? 'n/a' : v.toFixed(d));
  return evaluateTarget(
    'console-recording',
    broker?.recordingRatio,
    Op.atLeast,
    RECORDING_GOAL,
    broker === undefined
      ? 'skipped'
      : `events delivered with make dev's console recording and a page watching ÷ without, in 250 ms windows switched in turn inside one run (median of rounds); the page got ${f(broker.consoleRecordsPerEvent, 2)} records per event; broker CPU per event ${f(broker.recordingCpuMsPerEvent, 3)} ms in the recording runs vs ${f(broker.cpuMsPerEvent, 3)} ms in ours`,
  );
}

/** Issue #20's broker goal: ≥ 1.1 × the classic floor and ≥ 0.3 × the quorum floor, ≤ 0.5 ms CPU per event. */
export const BROKER_GOAL = { classic: 1.1, quorum: 0.3, cpuMs: 0.5 } as const;

/** One line for the whole goal: the classic ratio is the headline, the other two conditions must hold too. */
export function brokerTarget(broker: BrokerSection | undefined): TargetResult {
  if (broker === undefined)
    return evaluateTarget('broker-path', undefined, Op.atLeast, BROKER_GOAL.classic, 'skipped');
  const f = (v: number | undefined, d = 2): string => (v === undefined ? 'n/a' : v.toFixed(d));
  const quorumMet = broker.quorumRatio !== undefined && broker.quorumRatio >= BROKER_GOAL.quorum;
  const cpuMet = broker.cpuMsPerEvent !== undefined && broker.cpuMsPerEvent <= BROKER_GOAL.cpuMs;
  return evaluateTarget(
    'broker-path',
    broker.ratio,
    Op.atLeast,
    BROKER_GOAL.classic,
    `${f(broker.ours?.rate, 0)} events/s on ${broker.queueType} queues vs the amqplib floor ${f(broker.floor.rate, 0)}/s classic; ` +
      `${broker.quorumRatio === undefined ? 'n/a' : ratioText(broker.quorumRatio, BROKER_GOAL.quorum)} × the quorum floor ${f(broker.quorumFloor.rate, 0)}/s (goal >= ${BROKER_GOAL.quorum}, ${quorumMet ? 'met' : 'missed'}); ` +
      `${f(broker.cpuMsPerEvent)} ms CPU per event (goal <= ${BROKER_GOAL.cpuMs}, ${cpuMet ? 'met' : 'missed'}); p99 ${f(broker.ours?.p99Ms, 1)} ms; ` +
      `${f(broker.noDelayRatio)} × the classic floor with TCP_NODELAY ${f(broker.noDelayFloor.rate, 0)}/s (not a goal)` +
      (broker.note === undefined ? '' : `; ${broker.note}`),
    quorumMet && cpuMet,
  );
}

export function brokerTable(broker: BrokerSection): string[] {
  const r = (v: number | undefined, d = 0): string => (v === undefined ? 'n/a' : v.toFixed(d));
  const cpu = (v: number | undefined): string => (v === undefined ? 'n/a' : `${(v * 100).toFixed(0)}%`);
  const perEvent2 = (p: PathResult | undefined): string => (p === undefined ? 'n/a' : perEvent(p));
  const perEvent = (p: PathResult): string =>
    p.cpu === undefined || p.rate === undefined || p.rate <= 0
      ? 'n/a'
      : `${((p.cpu / p.rate) * 1000).toFixed(2)} ms`;
  const noDelayToClassic =
    broker.noDelayFloor.rate === undefined || broker.floor.rate === undefined
      ? undefined
      : broker.noDelayFloor.rate / broker.floor.rate;
  const quorumToClassic =
    broker.quorumFloor.rate === undefined || broker.floor.rate === undefined
      ? undefined
      : broker.quorumFloor.rate / broker.floor.rate;
  return [
    '| broker path (RabbitMQ, persistent, confirms, 50 in flight) | events/s | ratio to classic floor | ratio to quorum floor | p50 | p99 end-to-end | cpu of the process under test | cpu per event |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    `| raw amqplib, classic queue: confirm publish + manual-ack consume | ${r(broker.floor.rate)} | 1.00 | — | ${r(broker.floor.p50Ms, 1)} ms | ${r(broker.floor.p99Ms, 1)} ms | ${cpu(broker.floor.cpu)} | ${perEvent(broker.floor)} |`,
    `| raw amqplib, classic queue, TCP_NODELAY (as our broker's socket; not the goal's floor) | ${r(broker.noDelayFloor.rate)} | ${r(noDelayToClassic, 2)} | — | ${r(broker.noDelayFloor.p50Ms, 1)} ms | ${r(broker.noDelayFloor.p99Ms, 1)} ms | ${cpu(broker.noDelayFloor.cpu)} | ${perEvent(broker.noDelayFloor)} |`,
    `| raw amqplib, quorum queue | ${r(broker.quorumFloor.rate)} | ${r(quorumToClassic, 2)} | 1.00 | ${r(broker.quorumFloor.p50Ms, 1)} ms | ${r(broker.quorumFloor.p99Ms, 1)} ms | ${cpu(broker.quorumFloor.cpu)} | ${perEvent(broker.quorumFloor)} |`,
    `| **sluice** ingress → publish → trigger queue (${broker.queueType}, as broker.yaml) → HTTP dispatch → ack (${r(broker.noDelayRatio, 2)} × the TCP_NODELAY floor) | ${r(broker.ours?.rate)} | ${r(broker.ratio, 2)} | ${r(broker.quorumRatio, 2)} | ${r(broker.ours?.p50Ms, 1)} ms | ${r(broker.ours?.p99Ms, 1)} ms | ${cpu(broker.ours?.cpu)} | ${r(broker.cpuMsPerEvent, 2)} ms |`,
    `| the same with make dev's console recording (accepted events + deliveries) — ${r(broker.recordingRatio, 3)} × without | ${r(broker.recording?.rate)} | — | — | ${r(broker.recording?.p50Ms, 1)} ms | ${r(broker.recording?.p99Ms, 1)} ms | ${cpu(broker.recording?.cpu)} | ${perEvent2(broker.recording)} |`,
  ];
}
