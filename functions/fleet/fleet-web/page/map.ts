/**
 * The map, in SVG: the town's outline, its routes and a marker per vehicle, all from the shipped GeoJSON
 * (lib/map/, bundled), so it works offline with no tile server. Coordinates are projected onto a plane in metres
 * around the town's centre (equirectangular, scaled by the cosine of its latitude: within a few metres over a
 * town's width, which is all a live map needs).
 */
import outline from '../../lib/map/outline.geojson';
import routes from '../../lib/map/routes.geojson';
import type { Fleet, PositionPoint, Vehicle } from './state.ts';

const SVG = 'http://www.w3.org/2000/svg';
const METRES_PER_DEGREE = 111_195;

interface Geometry {
  readonly type: 'LineString' | 'Polygon';
  readonly coordinates: number[][] | number[][][];
}
interface Feature {
  readonly properties: Record<string, unknown>;
  readonly geometry: Geometry;
}
interface Collection {
  readonly features: Feature[];
}

const lines = (g: Geometry): number[][][] =>
  g.type === 'LineString' ? [g.coordinates as number[][]] : (g.coordinates as number[][][]);

const town = (outline as Collection).features.find((f) => f.properties.kind === 'town');
const townPoints = town === undefined ? [] : lines(town.geometry).flat();
const LAT0 = townPoints.reduce((s, p) => s + (p[1] ?? 0), 0) / Math.max(1, townPoints.length);
const LON0 = townPoints.reduce((s, p) => s + (p[0] ?? 0), 0) / Math.max(1, townPoints.length);
const COS0 = Math.cos((LAT0 * Math.PI) / 180);

/** [lon, lat] → [x, y] in metres, y down. */
export function project(lon: number, lat: number): [number, number] {
  return [(lon - LON0) * COS0 * METRES_PER_DEGREE, -(lat - LAT0) * METRES_PER_DEGREE];
}

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const path = (points: number[][]): string =>
  points
    .map((p, i) => {
      const [x, y] = project(p[0] ?? 0, p[1] ?? 0);
      return `${i === 0 ? 'M' : 'L'}${x.toFixed(1)} ${y.toFixed(1)}`;
    })
    .join('');

function bounds(points: number[][]): [number, number, number, number] {
  const xy = points.map((p) => project(p[0] ?? 0, p[1] ?? 0));
  const xs = xy.map((p) => p[0]);
  const ys = xy.map((p) => p[1]);
  const pad = 300;
  return [Math.min(...xs) - pad, Math.min(...ys) - pad, Math.max(...xs) + pad, Math.max(...ys) + pad];
}

export const VIEWS = {
  town: bounds(townPoints),
  all: bounds([...townPoints, ...(routes as Collection).features.flatMap((f) => lines(f.geometry).flat())]),
} as const;

export class MapView {
  readonly #svg: SVGSVGElement;
  readonly #markers = new Map<string, SVGGElement>();
  readonly #vehicleLayer: SVGGElement;
  readonly #trail: SVGPathElement;
  readonly #onSelect: (id: string) => void;
  #scale = 1;

  constructor(svg: SVGSVGElement, onSelect: (id: string) => void) {
    this.#svg = svg;
    this.#onSelect = onSelect;
    const base = el('g', { class: 'base' });
    for (const f of (outline as Collection).features) {
      const kind = String(f.properties.kind);
      const closed = f.geometry.type === 'Polygon' ? 'Z' : '';
      const shape = el('path', {
        d: lines(f.geometry)
          .map((l) => path(l) + closed)
          .join(''),
        class: `outline ${kind}`,
      });
      shape.append(el('title', {}));
      (shape.lastChild as SVGTitleElement).textContent = String(f.properties.name ?? kind);
      base.append(shape);
    }
    for (const f of (routes as Collection).features) {
      const route = el('path', {
        d: lines(f.geometry).map(path).join(''),
        class: `route ${String(f.properties.kind)}`,
      });
      route.append(el('title', {}));
      (route.lastChild as SVGTitleElement).textContent = String(f.properties.name);
      base.append(route);
    }
    this.#trail = el('path', { class: 'trail', d: '' });
    this.#vehicleLayer = el('g', { class: 'vehicles' });
    svg.append(base, this.#trail, this.#vehicleLayer);
    this.show('town');
  }

  show(view: keyof typeof VIEWS): void {
    const [x0, y0, x1, y1] = VIEWS[view];
    this.#svg.setAttribute(
      'viewBox',
      `${x0.toFixed(0)} ${y0.toFixed(0)} ${(x1 - x0).toFixed(0)} ${(y1 - y0).toFixed(0)}`,
    );
    // Markers keep their size on screen whatever the extent.
    this.#scale = (x1 - x0) / 1000;
    for (const g of this.#markers.values())
      g.querySelector('g.shape')?.setAttribute('transform', `scale(${this.#scale})`);
  }

  update(fleet: Fleet, v: Vehicle, selected: string | undefined): void {
    let g = this.#markers.get(v.id);
    if (g === undefined) {
      g = el('g', { 'data-vehicle': v.id, tabindex: -1 });
      const shape = el('g', { class: 'shape', transform: `scale(${this.#scale})` });
      shape.append(el('circle', { r: 6 }), el('path', { class: 'heading', d: 'M0 -13 L4 -6 L-4 -6 Z' }));
      g.append(shape, el('title', {}));
      const id = v.id;
      g.addEventListener('click', () => this.#onSelect(id));
      this.#markers.set(v.id, g);
      this.#vehicleLayer.append(g);
    }
    const [x, y] = project(v.position.longitude, v.position.latitude);
    const status = fleet.statusOf(v);
    g.setAttribute('transform', `translate(${x.toFixed(1)} ${y.toFixed(1)})`);
    g.setAttribute('class', `vehicle ${status}${selected === v.id ? ' selected' : ''}`);
    g.querySelector('path.heading')?.setAttribute('transform', `rotate(${v.headingDeg.toFixed(0)})`);
    const title = g.querySelector('title');
    if (title !== null) title.textContent = `${v.id}: ${status}, ${v.speedKmh.toFixed(0)} km/h`;
  }

  /** The selected vehicle's trail (accepted fixes only: jitter and rejected jumps are not where it went). */
  trail(points: readonly PositionPoint[]): void {
    this.#trail.setAttribute(
      'd',
      path(points.filter((p) => p.kind === 'accepted').map((p) => [p.longitude, p.latitude])),
    );
  }
}
