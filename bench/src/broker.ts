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
import { ROOT } from './servers.ts';
import { median, pairedRatio } from './stats.ts';

const run = promisify(execFile);

export interface BrokerOptions {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly inFlight: number;
  readonly url: string;
  readonly serverCpu: string;
  readonly loadCpu: string;
  readonly log: (line: string) => void;
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
  readonly floor: PathResult;
  readonly ours: PathResult | undefined;
  readonly ratio: number | undefined;
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
}

/** Runs a bench script pinned to `cpu` and returns the JSON of its `BENCHJSON` line. */
export async function marked(args: readonly string[], cpu: string): Promise<MarkedResult> {
  const { stdout } = await run('taskset', ['-c', cpu, process.execPath, ...args], {
    maxBuffer: 1 << 20,
    timeout: 120_000,
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

export async function runBrokerSection(options: BrokerOptions): Promise<BrokerSection> {
  const floor: Sample[] = [];
  const ours: Sample[] = [];
  const pct = (cpu: number | undefined): string =>
    cpu === undefined ? '' : `, cpu ${(cpu * 100).toFixed(0)}%`;
  const haveBroker = existsSync(BROKER_MODULE) && existsSync(BROKER_HOST);
  const args = JSON.stringify({
    url: options.url,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    inFlight: options.inFlight,
    serverCpu: options.serverCpu,
  });
  const errors: string[] = [];
  // Per-round rates (NaN = failed round) for the paired ratio, as the function path does.
  const floorRates: number[] = [];
  const ourRates: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    floorRates[round] = Number.NaN;
    ourRates[round] = Number.NaN;
    const jobs: (() => Promise<void>)[] = [
      async () => {
        const r = await marked([join(ROOT, 'bench/src/amqp-floor.ts'), args], options.serverCpu);
        floorRates[round] = r.rate;
        floor.push({
          rate: r.rate,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          ...(r.cpu === undefined ? {} : { cpu: r.cpu }),
        });
        options.log(
          `  round ${round + 1} amqplib floor: ${r.rate.toFixed(0)} msg/s, p99 ${r.p99Ms.toFixed(1)} ms${pct(r.cpu)}`,
        );
      },
    ];
    if (haveBroker) {
      jobs.push(async () => {
        // broker-host starts the broker on the server core and the load+sink on the load core itself.
        const r = await marked([BROKER_HOST, args], options.loadCpu);
        // Like the function path: a round with refused POSTs or dead letters is not a valid sample.
        if ((r.postFailures ?? 0) > 0 || (r.deadLetters ?? 0) > 0) {
          throw new Error(`sluice broker: ${r.postFailures} failed POSTs, ${r.deadLetters} dead letters`);
        }
        const cpu = r.brokerCpu;
        ourRates[round] = r.rate;
        ours.push({ rate: r.rate, p50Ms: r.p50Ms, p99Ms: r.p99Ms, ...(cpu === undefined ? {} : { cpu }) });
        options.log(
          `  round ${round + 1} sluice broker: ${r.rate.toFixed(0)} events/s, p99 ${r.p99Ms.toFixed(1)} ms${pct(cpu)}`,
        );
      });
    }
    if (round % 2 === 1) jobs.reverse();
    for (const job of jobs) {
      try {
        await job();
      } catch (err) {
        errors.push((err as Error).message.slice(0, 300));
        options.log(`  round ${round + 1}: ${(err as Error).message.slice(0, 300)}`);
      }
    }
  }
  const f = summarise(floor);
  const o = haveBroker ? summarise(ours) : undefined;
  const note = !haveBroker
    ? 'broker path not measured yet: needs eventing/src/index.ts (startBroker) and bench/src/broker-host.ts (TODO, docs/performance.md)'
    : errors.length > 0
      ? `${errors.length} round(s) failed: ${errors[0]}`
      : undefined;
  return {
    floor: f,
    ours: o,
    ratio: o === undefined ? undefined : pairedRatio(ourRates, floorRates),
    ...(note === undefined ? {} : { note }),
  };
}

export interface PipelineSection {
  readonly result: PathResult;
  /** Median share of one core used by transaction-processor (the broker's is `result.cpu`). */
  readonly functionCpu: number | undefined;
  readonly note?: string;
}

/**
 * Transfers end to end: ingress → transaction-processor (from source, in-memory dev store) → its reply
 * published back → a trigger to the bench sink. Broker and function share the server core.
 */
export async function runPipelineSection(options: BrokerOptions): Promise<PipelineSection> {
  const samples: Sample[] = [];
  const functionCpu: number[] = [];
  const errors: string[] = [];
  const args = JSON.stringify({
    url: options.url,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    inFlight: options.inFlight,
    serverCpu: options.serverCpu,
    mode: 'pipeline',
  });
  for (let round = 0; round < options.rounds; round++) {
    try {
      const r = await marked([BROKER_HOST, args], options.loadCpu);
      if ((r.postFailures ?? 0) > 0 || (r.deadLetters ?? 0) > 0) {
        throw new Error(`pipeline: ${r.postFailures} failed POSTs, ${r.deadLetters} dead letters`);
      }
      const cpu = r.brokerCpu;
      samples.push({ rate: r.rate, p50Ms: r.p50Ms, p99Ms: r.p99Ms, ...(cpu === undefined ? {} : { cpu }) });
      if (r.functionCpu !== undefined) functionCpu.push(r.functionCpu);
      options.log(
        `  round ${round + 1} pipeline: ${r.rate.toFixed(0)} transfers/s, p99 ${r.p99Ms.toFixed(1)} ms, broker cpu ${((cpu ?? 0) * 100).toFixed(0)}%, function cpu ${((r.functionCpu ?? 0) * 100).toFixed(0)}%`,
      );
    } catch (err) {
      errors.push((err as Error).message.slice(0, 300));
      options.log(`  round ${round + 1}: ${(err as Error).message.slice(0, 300)}`);
    }
  }
  return {
    result: summarise(samples),
    functionCpu: median(functionCpu),
    ...(errors.length === 0 ? {} : { note: `${errors.length} round(s) failed: ${errors[0]}` }),
  };
}
