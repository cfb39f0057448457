import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/src/index.ts';
import { FLEET_DEFAULTS, fleetConfig, timeKey, vehicleRange, vehicleTimeId } from './fleet.ts';

describe('fleetConfig', () => {
  it('takes Traccar’s trip thresholds as defaults', () => {
    expect(fleetConfig({})).toEqual(FLEET_DEFAULTS);
    expect(FLEET_DEFAULTS).toMatchObject({
      tripMinDistanceM: 500,
      tripMinDurationMs: 300_000,
      stopMinDurationMs: 300_000,
    });
  });

  it('reads every threshold from the environment', () => {
    expect(
      fleetConfig({
        FLEET_MAX_SPEED_KMH: '180',
        FLEET_MIN_MOVE_M: '20',
        FLEET_MOVING_SPEED_KMH: '5',
        FLEET_TRIP_MIN_DISTANCE_M: '1000',
        FLEET_TRIP_MIN_DURATION: '2m',
        FLEET_STOP_MIN_DURATION: '90s',
        FLEET_OFFLINE_AFTER: '30s',
        FLEET_MAX_FUTURE: '0s',
      }),
    ).toEqual({
      maxSpeedKmh: 180,
      minMoveM: 20,
      movingSpeedKmh: 5,
      tripMinDistanceM: 1000,
      tripMinDurationMs: 120_000,
      stopMinDurationMs: 90_000,
      offlineAfterMs: 30_000,
      maxFutureMs: 0,
    });
  });

  it('names every bad setting at once', () => {
    let error: unknown;
    try {
      fleetConfig({
        FLEET_MAX_SPEED_KMH: 'fast',
        FLEET_STOP_MIN_DURATION: '5 minutes',
        FLEET_MOVING_SPEED_KMH: '-1',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = String((error as Error).message);
    expect(text).toContain('FLEET_MAX_SPEED_KMH="fast"');
    expect(text).toContain('FLEET_STOP_MIN_DURATION="5 minutes"');
    expect(text).toContain('FLEET_MOVING_SPEED_KMH="-1"');
  });

  it('refuses a moving threshold at or above the maximum speed', () => {
    expect(() => fleetConfig({ FLEET_MAX_SPEED_KMH: '10', FLEET_MOVING_SPEED_KMH: '10' })).toThrow(
      ConfigError,
    );
  });
});

describe('vehicle ids', () => {
  it('sorts fix times as numbers inside a vehicle’s _id range', () => {
    expect(timeKey(1_700_000_000_000)).toBe('1700000000000');
    expect(timeKey(5)).toBe('0000000000005');
    const ids = [vehicleTimeId('v-1', 9_000), vehicleTimeId('v-1', 10_000), vehicleTimeId('v-1', 100)].sort();
    expect(ids).toEqual(['v-1|0000000000100', 'v-1|0000000009000', 'v-1|0000000010000']);
    const r = vehicleRange('v-1', 100, 10_000);
    expect(ids.filter((id) => id >= r.$gte && id < r.$lt)).toEqual([
      'v-1|0000000000100',
      'v-1|0000000009000',
    ]);
    // Another vehicle whose id extends this one's is outside the range.
    const all = vehicleRange('v-1');
    expect(vehicleTimeId('v-10', 1) >= all.$gte && vehicleTimeId('v-10', 1) < all.$lt).toBe(false);
  });
});
