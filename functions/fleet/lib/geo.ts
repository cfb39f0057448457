/**
 * Geometry on a sphere, pure. One pinned earth radius for every distance and speed in the fleet system: the
 * IUGG mean radius R1 = 6 371 008.8 m (Moritz, "Geodetic Reference System 1980"). Haversine on a sphere is
 * within 0.5 % of the WGS-84 ellipsoid's distance, far below GPS noise at the speeds derived here; a recompute
 * with another radius would change every stored speed, so it is a constant, not a setting.
 */
export const EARTH_RADIUS_M = 6_371_008.8;

export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

const RAD = Math.PI / 180;

/** Great-circle distance in metres (haversine: stable for the short hops between fixes). */
export function haversineMeters(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing from a to b in degrees clockwise from true north, in [0, 360). */
export function bearingDegrees(a: LatLon, b: LatLon): number {
  const lat1 = a.lat * RAD;
  const lat2 = b.lat * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const y = Math.sin(dLon) * Math.cos(lat2);
  const x = Math.cos(lat1) * Math.sin(lat2) - Math.sin(lat1) * Math.cos(lat2) * Math.cos(dLon);
  const deg = Math.atan2(y, x) / RAD;
  return (deg + 360) % 360;
}

/** The point `meters` away from `from` along `bearing` (the simulator's step along a route). */
export function destination(from: LatLon, bearing: number, meters: number): LatLon {
  const angle = meters / EARTH_RADIUS_M;
  const theta = bearing * RAD;
  const lat1 = from.lat * RAD;
  const lon1 = from.lon * RAD;
  const lat2 = Math.asin(
    Math.sin(lat1) * Math.cos(angle) + Math.cos(lat1) * Math.sin(angle) * Math.cos(theta),
  );
  const lon2 =
    lon1 +
    Math.atan2(
      Math.sin(theta) * Math.sin(angle) * Math.cos(lat1),
      Math.cos(angle) - Math.sin(lat1) * Math.sin(lat2),
    );
  return { lat: lat2 / RAD, lon: ((lon2 / RAD + 540) % 360) - 180 };
}

/** m/s → km/h. */
export const kmh = (metersPerSecond: number): number => metersPerSecond * 3.6;
