/**
 * The broker path, against its floor, alternating rounds:
 * - floor: amqp-floor.ts (raw amqplib, confirms + manual ack) pinned to the server core;
 * - ours: the local broker (eventing/src startBroker) pinned to the server core, fed over HTTP by
 *   broker-load.ts on the load core, which is also the function that answers at once and measures
 *   end-to-end latency (same clock on both ends).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './servers.ts';
import { median } from './stats.ts';

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
  readonly samples: readonly { rate: number; p50Ms: number; p99Ms: number }[];
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

async function marked(
  args: readonly string[],
  cpu: string,
): Promise<{ rate: number; p50Ms: number; p99Ms: number }> {
  const { stdout } = await run('taskset', ['-c', cpu, process.execPath, ...args], {
    maxBuffer: 1 << 20,
    timeout: 120_000,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (line === undefined) throw new Error(`no result from ${args[0]}: ${stdout}`);
  return JSON.parse(line.slice('BENCHJSON '.length)) as { rate: number; p50Ms: number; p99Ms: number };
}

function summarise(samples: { rate: number; p50Ms: number; p99Ms: number }[]): PathResult {
  return {
    rate: median(samples.map((s) => s.rate)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    samples,
  };
}

export async function runBrokerSection(options: BrokerOptions): Promise<BrokerSection> {
  const floor: { rate: number; p50Ms: number; p99Ms: number }[] = [];
  const ours: { rate: number; p50Ms: number; p99Ms: number }[] = [];
  const haveBroker = existsSync(BROKER_MODULE) && existsSync(BROKER_HOST);
  const args = JSON.stringify({
    url: options.url,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    inFlight: options.inFlight,
    serverCpu: options.serverCpu,
  });
  const errors: string[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const jobs: (() => Promise<void>)[] = [
      async () => {
        const r = await marked([join(ROOT, 'bench/src/amqp-floor.ts'), args], options.serverCpu);
        floor.push(r);
        options.log(
          `  round ${round + 1} amqplib floor: ${r.rate.toFixed(0)} msg/s, p99 ${r.p99Ms.toFixed(1)} ms`,
        );
      },
    ];
    if (haveBroker) {
      jobs.push(async () => {
        // broker-host starts the broker on the server core and the load+sink on the load core itself.
        const r = await marked([BROKER_HOST, args], options.loadCpu);
        ours.push(r);
        options.log(
          `  round ${round + 1} sluice broker: ${r.rate.toFixed(0)} events/s, p99 ${r.p99Ms.toFixed(1)} ms`,
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
    ratio: o?.rate !== undefined && f.rate !== undefined && f.rate > 0 ? o.rate / f.rate : undefined,
    ...(note === undefined ? {} : { note }),
  };
}
