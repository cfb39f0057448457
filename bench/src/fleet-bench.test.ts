import { describe, expect, it } from 'vitest';
import {
  FLEET_FUNCTION,
  fleetBenchManifests,
  fleetFigures,
  POSITION_TYPE,
  type SentFix,
} from './fleet-bench.ts';

describe('fleetBenchManifests', () => {
  it('reads as a source on the bench exchange, the broker and the tracker trigger', () => {
    const m = fleetBenchManifests({ exchange: 'x', queue: 'q', parallelism: 20 });
    expect(m.warnings).toEqual([]);
    expect(m.sources.map((s) => s.name)).toEqual(['bench-positions']);
    expect(m.triggers.map((t) => [t.name, t.subscriber.ref?.name, t.parallelism])).toEqual([
      ['bench-position-tracker', FLEET_FUNCTION, 20],
    ]);
    expect(JSON.stringify(m.triggers[0])).toContain(POSITION_TYPE);
  });
});

describe('fleetFigures', () => {
  const fix = (vehicleId: string, fixT: number, id: string, kind: SentFix['kind'] = 'fix'): SentFix => ({
    vehicleId,
    fixT,
    id,
    kind,
  });
  const stored = (vehicleId: string, t: number, id: string, lagMs: number) => ({
    _id: `${vehicleId}|${String(t).padStart(13, '0')}`,
    t,
    receivedAtMs: t + lagMs,
    event: { id },
  });

  it('counts a resend once, finds what is missing, and takes the lag of on-time fixes only', () => {
    const sent = [
      fix('v-1', 1000, 'a'),
      fix('v-1', 1000, 'a-resent', 'duplicate'),
      fix('v-1', 2000, 'b', 'late'),
      fix('v-2', 1000, 'c'),
    ];
    const figures = fleetFigures(sent, [stored('v-1', 1000, 'a', 100), stored('v-1', 2000, 'b', 9000)]);
    expect(figures).toEqual({ distinct: 3, stored: 2, missing: 1, unexpected: 0, lagP50: 0.1, lagP99: 0.1 });
  });
});
