/**
 * The shipped map (functions/fleet/lib/map/): the routes the simulator drives and the page draws, and the town's
 * outline the page draws under them, so nothing needs a tile server. Made here (an invented town), GeoJSON
 * (RFC 7946: [longitude, latitude]).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LatLon } from './geo.ts';

export const MAP_DIR = join(import.meta.dirname, 'map');

export interface Route {
  readonly id: string;
  readonly name: string;
  readonly kind: 'city' | 'highway';
  readonly speedKmh: number;
  /** A closed loop (its last point is its first) or a run driven there and back. */
  readonly loop: boolean;
  readonly points: readonly LatLon[];
  /** Indexes of the points with traffic lights. */
  readonly lights: readonly number[];
}

interface LineFeature {
  readonly properties: {
    id: string;
    name: string;
    kind: 'city' | 'highway';
    speedKmh: number;
    loop: boolean;
    lights: number[];
  };
  readonly geometry: { type: 'LineString'; coordinates: [number, number][] };
}

/** Parses routes.geojson's features (LineStrings with id, name, kind, speedKmh, loop, lights). */
export function parseRoutes(text: string): Route[] {
  const doc = JSON.parse(text) as { features: LineFeature[] };
  return doc.features.map((f) => {
    if (f.geometry.type !== 'LineString' || f.geometry.coordinates.length < 2)
      throw new Error(`route ${f.properties.id}: a LineString of 2 points or more`);
    return {
      id: f.properties.id,
      name: f.properties.name,
      kind: f.properties.kind,
      speedKmh: f.properties.speedKmh,
      loop: f.properties.loop,
      points: f.geometry.coordinates.map(([lon, lat]) => ({ lat, lon })),
      lights: f.properties.lights,
    };
  });
}

export function loadRoutes(dir = MAP_DIR): Route[] {
  return parseRoutes(readFileSync(join(dir, 'routes.geojson'), 'utf8'));
}
