/**
 * The streams path against the amqplib floor, alternating rounds as the broker path does: the floor is
 * amqp-floor.ts (raw confirm publish + manual-ack consume, pinned to the server core); ours is streams-host.ts
 * (readings over AMQP → RabbitmqSource → broker → window-aggregator → MongoDB/FerretDB), whose windows are
 * checked exact after each round. A round whose windows are not exact is not a valid sample.
 */
import { join } from 'node:path';
import { platformNodeFlags } from './bench-processes.ts';
import { type FloorRoundsOptions, marked, runRound } from './broker.ts';
import { ROOT } from './servers.ts';
import { median, pairedRatio } from './stats.ts';

export interface StreamsOptions extends FloorRoundsOptions {
  readonly readings: number;
}

export interface StreamsSection {
  readonly floorRate: number | undefined;
  readonly rate: number | undefined;
  readonly ratio: number | undefined;
  readonly brokerCpu: number | undefined;
  readonly functionCpu: number | undefined;
  /** Every measured round's windows equal the ones computed from what was sent. */
  readonly exact: boolean;
  readonly windows: number | undefined;
  /** `mongodb` (MONGODB_URL) or the in-memory dev store. */
  readonly store: string | undefined;
  readonly note?: string;
}

export async function runStreamsSection(o: StreamsOptions): Promise<StreamsSection> {
  const floor: number[] = [];
  const ours: number[] = [];
  const brokerCpu: number[] = [];
  const functionCpu: number[] = [];
  const windows: number[] = [];
  const errors: string[] = [];
  let store: string | undefined;
  let exact = true;
  const floorArgs = JSON.stringify({
    url: o.url,
    seconds: o.seconds,
    warmupSeconds: o.warmupSeconds,
    inFlight: o.inFlight,
  });
  const hostArgs = JSON.stringify({
    url: o.url,
    readings: o.readings,
    warmup: Math.max(100, Math.round(o.readings / 10)),
    sensors: 100,
    inFlight: o.inFlight,
    serverCpu: o.serverCpu,
  });
  for (let round = 0; round < o.rounds; round++) {
    floor[round] = Number.NaN;
    ours[round] = Number.NaN;
    const jobs = [
      async () => {
        const r = await marked([join(ROOT, 'bench/src/amqp-floor.ts'), floorArgs], o.serverCpu);
        floor[round] = r.rate;
        o.log(`  round ${round + 1} amqplib floor: ${r.rate.toFixed(0)} msg/s`);
      },
      async () => {
        const r = (await marked([join(ROOT, 'bench/src/streams-host.ts'), hostArgs], o.loadCpu, {
          nodeFlags: platformNodeFlags(),
        })) as unknown as {
          rate: number;
          brokerCpu?: number;
          functionCpu?: number;
          windows: number;
          exact: boolean;
          problems: string[];
          deadLetters: number;
          store: string;
        };
        store = r.store;
        if (!r.exact || r.deadLetters > 0) {
          exact = false;
          throw new Error(
            `streams: windows not exact (${r.problems.join('; ')}), ${r.deadLetters} dead letter(s)`,
          );
        }
        ours[round] = r.rate;
        if (r.brokerCpu !== undefined) brokerCpu.push(r.brokerCpu);
        if (r.functionCpu !== undefined) functionCpu.push(r.functionCpu);
        windows.push(r.windows);
        o.log(
          `  round ${round + 1} streams: ${r.rate.toFixed(0)} readings/s, ${r.windows} windows exact, cpu broker ${((r.brokerCpu ?? 0) * 100).toFixed(0)}% / window-aggregator ${((r.functionCpu ?? 0) * 100).toFixed(0)}%`,
        );
      },
    ];
    if (round % 2 === 1) jobs.reverse();
    await runRound(round, jobs, errors, o.log);
  }
  return {
    floorRate: median(floor),
    rate: median(ours),
    ratio: pairedRatio(ours, floor),
    brokerCpu: median(brokerCpu),
    functionCpu: median(functionCpu),
    exact: exact && ours.some(Number.isFinite),
    windows: median(windows),
    store,
    ...(errors.length === 0 ? {} : { note: `${errors.length} round(s) failed: ${errors[0]}` }),
  };
}

/** The section's rows in the printed table. */
export function streamsTable(s: StreamsSection): string[] {
  const r = (v: number | undefined, d = 0): string => (v === undefined ? 'n/a' : v.toFixed(d));
  const pct = (v: number | undefined): string => (v === undefined ? 'n/a' : `${(v * 100).toFixed(0)}%`);
  return [
    '',
    `| streams (RabbitMQ; store: ${s.store ?? 'n/a'}) | per second | ratio to raw amqplib | windows exact | cpu broker / function |`,
    '|---|---:|---:|---:|---:|',
    `| raw amqplib: confirm publish + manual-ack consume | ${r(s.floorRate)} msg | 1.00 | | |`,
    `| readings: AMQP → RabbitmqSource → broker → window-aggregator → store | ${r(s.rate)} | ${r(s.ratio, 2)} | ${s.exact ? `yes (${r(s.windows)})` : 'NO'} | ${pct(s.brokerCpu)} / ${pct(s.functionCpu)} |`,
    ...(s.note === undefined ? [] : [`note: streams: ${s.note}`]),
  ];
}
