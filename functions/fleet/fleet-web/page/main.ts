/**
 * fleet-web: the vehicles from GET /api/vehicles, then live from the server-sent events of /api/vehicles/stream
 * (EventSource reconnects by itself when the server ends a stream, with Last-Event-ID); a selected vehicle's last
 * 10 minutes from /api/vehicles/{id}/positions, kept up to date while it is selected. One module per view: the map
 * (map.ts), the list (list.ts), the speed chart (chart.ts).
 */
import './fleet.css';
import { drawSpeedChart } from './chart.ts';
import { VehicleList } from './list.ts';
import { MapView } from './map.ts';
import { Fleet, type PositionPoint, type Vehicle } from './state.ts';

const API = '../api/vehicles';
const TRAIL_MS = 10 * 60_000;

const fleet = new Fleet();
let selected: string | undefined;
let trail: PositionPoint[] = [];

const byId = <T extends Element>(id: string) => document.getElementById(id) as unknown as T;
const map = new MapView(byId<SVGSVGElement>('map'), (id) => void select(id));
const list = new VehicleList(byId<HTMLTableElement>('vehicles'), (id) => void select(id));
const summary = byId<HTMLParagraphElement>('summary');
const connection = byId<HTMLParagraphElement>('connection');

function render(v: Vehicle): void {
  map.update(fleet, v, selected);
  list.update(fleet, v, selected);
}

function renderAll(): void {
  for (const v of fleet.sorted()) render(v);
  const all = fleet.sorted();
  const moving = all.filter((v) => fleet.statusOf(v) === 'moving').length;
  const offline = all.filter((v) => fleet.statusOf(v) === 'offline').length;
  summary.textContent = `${all.length} vehicles · ${moving} moving · ${offline} offline`;
}

function renderDetail(): void {
  const v = selected === undefined ? undefined : fleet.vehicles.get(selected);
  if (v === undefined) return;
  byId<HTMLHeadingElement>('detail-title').textContent = `${v.id}: speed over the last 10 minutes`;
  const last = trail.at(-1);
  byId<HTMLParagraphElement>('detail-text').textContent =
    `${fleet.statusOf(v)}, ${v.speedKmh.toFixed(0)} km/h, heading ${v.headingDeg.toFixed(0)}°` +
    (last === undefined ? '' : ` · ${trail.length} positions`);
  drawSpeedChart(byId<SVGSVGElement>('chart'), trail);
  map.trail(trail);
}

async function select(id: string): Promise<void> {
  selected = id;
  renderAll();
  const from = new Date(fleet.serverNow() - TRAIL_MS).toISOString();
  const res = await fetch(
    `${API}/${encodeURIComponent(id)}/positions?from=${encodeURIComponent(from)}&limit=1000`,
  );
  if (!res.ok || selected !== id) return;
  trail = ((await res.json()) as { positions: PositionPoint[] }).positions;
  renderDetail();
}

async function load(): Promise<void> {
  let after: string | null = null;
  do {
    const res: Response = await fetch(
      `${API}?limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
    );
    if (!res.ok) throw new Error(`GET /api/vehicles: ${res.status}`);
    const page = (await res.json()) as { vehicles: Vehicle[]; next: string | null };
    for (const v of page.vehicles) fleet.upsert(v);
    after = page.next;
  } while (after !== null);
  renderAll();
}

function live(): void {
  const source = new EventSource(`${API}/stream`);
  source.addEventListener('open', () => {
    connection.textContent = 'live';
    connection.className = 'connection live';
  });
  source.addEventListener('error', () => {
    connection.textContent = 'reconnecting';
    connection.className = 'connection';
  });
  source.addEventListener('vehicle', (e) => {
    const v = JSON.parse((e as MessageEvent<string>).data) as Vehicle & { serverTime: string };
    fleet.setServerTime(v.serverTime);
    fleet.upsert(v);
    render(v);
    if (v.id === selected && trail.at(-1)?.time !== v.lastSeen) {
      trail = [
        ...trail.filter((p) => Date.parse(p.time) > fleet.serverNow() - TRAIL_MS),
        { time: v.lastSeen, ...v.position, kind: 'accepted', speedKmh: v.speedKmh },
      ];
      renderDetail();
    }
  });
  source.addEventListener('tick', (e) => {
    fleet.setServerTime((JSON.parse((e as MessageEvent<string>).data) as { serverTime: string }).serverTime);
    renderAll();
  });
}

for (const [button, view] of [
  ['view-town', 'town'],
  ['view-all', 'all'],
] as const) {
  byId<HTMLButtonElement>(button).addEventListener('click', () => {
    map.show(view);
    byId<HTMLButtonElement>('view-town').setAttribute('aria-pressed', String(view === 'town'));
    byId<HTMLButtonElement>('view-all').setAttribute('aria-pressed', String(view === 'all'));
  });
}

/** The first load, retried until vehicles-api answers (it may be starting from zero behind the gateway). */
async function start(): Promise<void> {
  live();
  for (let attempt = 1; ; attempt++) {
    try {
      await load();
      return;
    } catch (err) {
      summary.textContent = `Could not load the vehicles (${(err as Error).message}); retrying`;
      await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * attempt)));
    }
  }
}

void start();
