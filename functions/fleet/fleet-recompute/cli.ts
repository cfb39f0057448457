/**
 * `make fleet-recompute [VEHICLE=…]` — rebuilds speeds, trips, stops and live positions from the raw fixes alone
 * (lib/tracker-store.ts `recompute`), with the thresholds of the environment (FLEET_*: position-tracker's
 * service.yaml names them), for one vehicle or every vehicle. Idempotent: running it twice changes nothing. Finds a
 * running `make dev`'s dev store through .tmp/dev/endpoints.json; MONGODB_URL (+ MONGODB_DB) wins when set. On a
 * cluster: run it in a pod of the namespace with position-tracker's env.
 */

import { openToolStore } from '../../runtime/src/index.ts';
import { fleetConfig, VEHICLE_ID_PATTERN } from '../lib/fleet.ts';
import { TrackerStore } from '../lib/tracker-store.ts';

const vehicle = process.env.VEHICLE || undefined;
if (vehicle !== undefined && !VEHICLE_ID_PATTERN.test(vehicle)) {
  process.stderr.write(`VEHICLE="${vehicle}" is not a vehicle id (1-64 letters, digits, _ or -)\n`);
  process.exit(64);
}
const config = fleetConfig(process.env);
const opened = await openToolStore();
if (opened === undefined) {
  process.stderr.write('no store: set MONGODB_URL, or run make dev (its dev store is found in .tmp/dev)\n');
  process.exit(69);
}
const { store } = opened;
try {
  const tracker = new TrackerStore(store, { config });
  const vehicles = vehicle === undefined ? await tracker.vehicleIds() : [vehicle];
  let fixes = 0;
  let trips = 0;
  for (const id of vehicles) {
    const r = await tracker.recompute(id);
    fixes += r.fixes;
    trips += r.trips;
    process.stdout.write(`${id}: ${r.fixes} fixes folded, ${r.trips} trips\n`);
  }
  process.stdout.write(
    `recomputed ${vehicles.length} vehicle(s): ${fixes} fixes, ${trips} trips (trips of ${config.tripMinDistanceM} m or ${config.tripMinDurationMs / 1000} s, stops of ${config.stopMinDurationMs / 1000} s)\n`,
  );
} finally {
  await store.close();
}
