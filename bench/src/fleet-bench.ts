/**
 * Pure parts of the fleet benchmark (fleet-host.ts): the manifests it runs (a RabbitmqSource → the broker → the
 * tracker's Trigger → position-tracker) and the figures from what the simulator sent and what the store holds:
 * nothing lost (every distinct fix in history and derived, exactly once) and the tracker's lag. Unit-tested.
 */
import type { EventingManifests } from '../../eventing/src/index.ts';
import { type SourceBenchRun, sourceBenchManifests } from './source-bench.ts';

export const FLEET_FUNCTION = 'position-tracker';
export const FLEET_DEAD_LETTER = 'dead-letter-sink';
export const POSITION_TYPE = 'dev.sluice.fleet.position.reported.v1';

export function fleetBenchManifests(o: SourceBenchRun): EventingManifests {
  return sourceBenchManifests({
    ...o,
    source: 'bench-positions',
    eventType: POSITION_TYPE,
    subscriber: FLEET_FUNCTION,
    deadLetterSink: FLEET_DEAD_LETTER,
  });
}

/** A line of the simulator's --out file. */
export interface SentFix {
  readonly vehicleId: string;
  readonly id: string;
  readonly fixT: number;
  readonly kind: 'fix' | 'duplicate' | 'late' | 'jump';
}

/** A raw fix as the tracker stored it (fleet_positions). */
export interface StoredFix {
  readonly _id: string;
  readonly t: number;
  readonly receivedAtMs: number;
  readonly event: { readonly id: string };
}

export interface FleetFigures {
  /** Distinct fixes sent (vehicle + fix time): what history must hold, once each. */
  readonly distinct: number;
  readonly stored: number;
  readonly missing: number;
  /** Stored fixes no distinct fix explains (can only be 0: `_id` is the fix's identity). */
  readonly unexpected: number;
  /** Processing time − fix time of the fixes sent on time (late ones are held back on purpose), seconds. */
  readonly lagP50: number | undefined;
  readonly lagP99: number | undefined;
}

const idOf = (f: { vehicleId: string; fixT: number }): string =>
  `${f.vehicleId}|${String(f.fixT).padStart(13, '0')}`;

function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function fleetFigures(sent: readonly SentFix[], stored: readonly StoredFix[]): FleetFigures {
  const distinct = new Set(sent.map(idOf));
  const have = new Set(stored.map((s) => s._id));
  const onTime = new Set(sent.filter((f) => f.kind === 'fix').map((f) => f.id));
  const lags = stored
    .filter((s) => onTime.has(s.event.id))
    .map((s) => (s.receivedAtMs - s.t) / 1000)
    .sort((a, b) => a - b);
  return {
    distinct: distinct.size,
    stored: stored.length,
    missing: [...distinct].filter((id) => !have.has(id)).length,
    unexpected: [...have].filter((id) => !distinct.has(id)).length,
    lagP50: quantile(lags, 0.5),
    lagP99: quantile(lags, 0.99),
  };
}
