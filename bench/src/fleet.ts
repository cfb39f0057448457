/**
 * The fleet path of `make bench` (fleet-host.ts): `make simulate`'s 200 vehicles at 1 Hz for 60 s through a
 * RabbitmqSource → broker → position-tracker. Its floor is the offered load itself — a tracker that keeps up
 * exactly sustains the rate the simulator published at — so the ratio says how much of it was kept up with; the
 * tracker lag (processing − fix time, on-time fixes) says how late the live position is; nothing lost is checked
 * (every distinct fix stored and derived once). A run with a fix missing is not a valid sample.
 */
import { join } from 'node:path';
import { platformNodeFlags } from './bench-processes.ts';
import { marked } from './broker.ts';
import { ROOT } from './servers.ts';

export interface FleetOptions {
  readonly vehicles: number;
  readonly seconds: number;
  readonly inFlight: number;
  readonly url: string;
  readonly serverCpu: string;
  readonly loadCpu: string;
  readonly log: (line: string) => void;
}

export interface FleetSection {
  readonly vehicles: number;
  readonly offeredRate: number | undefined;
  readonly rate: number | undefined;
  readonly ratio: number | undefined;
  readonly lagP50: number | undefined;
  readonly lagP99: number | undefined;
  readonly distinct: number | undefined;
  /** Every distinct fix in history and derived, none twice, no dead letter. */
  readonly nothingLost: boolean;
  readonly store: string | undefined;
  readonly note?: string;
}

export async function runFleetSection(o: FleetOptions): Promise<FleetSection> {
  const args = JSON.stringify({
    url: o.url,
    vehicles: o.vehicles,
    seconds: o.seconds,
    inFlight: o.inFlight,
    serverCpu: o.serverCpu,
    loadCpu: o.loadCpu,
  });
  try {
    const r = (await marked([join(ROOT, 'bench/src/fleet-host.ts'), args], o.loadCpu, {
      timeoutMs: (o.seconds + 420) * 1000,
      nodeFlags: platformNodeFlags(),
    })) as unknown as {
      rate: number;
      offeredRate: number;
      distinct: number;
      stored: number;
      derived: number;
      missing: number;
      unexpected: number;
      lagP50?: number;
      lagP99?: number;
      deadLetters: number;
      store: string;
    };
    const nothingLost =
      r.missing === 0 &&
      r.unexpected === 0 &&
      r.stored === r.distinct &&
      r.derived === r.distinct &&
      r.deadLetters === 0;
    o.log(
      `  fleet: ${r.rate.toFixed(0)} positions/s of ${r.offeredRate.toFixed(0)} offered, lag p50 ${r.lagP50?.toFixed(2)} s p99 ${r.lagP99?.toFixed(2)} s, ${r.distinct} fixes ${nothingLost ? 'all' : 'NOT all'} in history once`,
    );
    return {
      vehicles: o.vehicles,
      offeredRate: r.offeredRate,
      rate: r.rate,
      ratio: r.rate / r.offeredRate,
      lagP50: r.lagP50,
      lagP99: r.lagP99,
      distinct: r.distinct,
      nothingLost,
      store: r.store,
      ...(nothingLost
        ? {}
        : {
            note: `${r.missing} missing, ${r.unexpected} unexpected, ${r.derived} derived, ${r.deadLetters} dead letters`,
          }),
    };
  } catch (err) {
    const note = (err as Error).message.slice(0, 300);
    o.log(`  fleet: ${note}`);
    return {
      vehicles: o.vehicles,
      offeredRate: undefined,
      rate: undefined,
      ratio: undefined,
      lagP50: undefined,
      lagP99: undefined,
      distinct: undefined,
      nothingLost: false,
      store: undefined,
      note,
    };
  }
}

/** The section's rows in the printed table. */
export function fleetTable(s: FleetSection): string[] {
  const r = (v: number | undefined, d = 0): string => (v === undefined ? 'n/a' : v.toFixed(d));
  return [
    '',
    `| fleet (RabbitMQ; store: ${s.store ?? 'n/a'}) | positions/s | ratio to offered | tracker lag p50 / p99 | nothing lost |`,
    '|---|---:|---:|---:|---:|',
    `| offered: make simulate, ${s.vehicles} vehicles at 1 Hz (resends, late fixes, jumps) | ${r(s.offeredRate)} | 1.00 | | |`,
    `| sustained: AMQP → RabbitmqSource → broker → position-tracker → store | ${r(s.rate)} | ${r(s.ratio, 2)} | ${r(s.lagP50, 2)} s / ${r(s.lagP99, 2)} s | ${s.nothingLost ? `yes (${r(s.distinct)} fixes)` : 'NO'} |`,
    ...(s.note === undefined ? [] : [`note: fleet: ${s.note}`]),
  ];
}
