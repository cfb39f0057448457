/**
 * Each Knative Service: instances now, in-flight requests, its error rate in the recording, and a timeline of its
 * instances from the scale records (scale from zero, scale out, scale to zero as steps).
 */
import type { ConsoleRecord, FunctionView, ScaleRecord } from '../../records.ts';
import { getJson } from '../api.ts';
import { h, svg } from '../dom.ts';
import type { RecordStore } from '../store.ts';

const WIDTH = 360;
const HEIGHT = 52;

/** A step chart of ready instances over the recording's time span (the last 15 minutes at most). */
function timeline(name: string, scales: readonly ScaleRecord[], now: number): SVGElement {
  const from = Math.max(now - 15 * 60_000, Math.min(now - 60_000, ...scales.map((s) => Date.parse(s.time))));
  const max = Math.max(1, ...scales.map((s) => s.ready + s.starting));
  const x = (t: number): number => ((Math.max(t, from) - from) / (now - from)) * WIDTH;
  const y = (n: number): number => HEIGHT - 4 - (n / max) * (HEIGHT - 8);
  let d = `M0 ${y(0)}`;
  let level = 0;
  for (const s of scales) {
    const at = x(Date.parse(s.time));
    d += ` L${at.toFixed(1)} ${y(level)} L${at.toFixed(1)} ${y(s.ready)}`;
    level = s.ready;
  }
  d += ` L${WIDTH} ${y(level)}`;
  const minutes = Math.round((now - from) / 60_000);
  return svg(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, role: 'img', class: 'timeline' },
    svg(
      'title',
      {},
      document.createTextNode(
        `${name}: ready instances over the last ${minutes} minute${minutes === 1 ? '' : 's'}, now ${level}, at most ${max}`,
      ),
    ),
    svg('line', { x1: 0, y1: y(0), x2: WIDTH, y2: y(0), class: 'axis' }),
    svg('path', { d, class: 'steps' }),
    svg('text', { x: 2, y: 10, class: 'tick' }, document.createTextNode(`${max}`)),
    svg('text', { x: 2, y: HEIGHT - 6, class: 'tick' }, document.createTextNode(`−${minutes} min`)),
    svg('text', { x: WIDTH - 2, y: HEIGHT - 6, class: 'tick end' }, document.createTextNode('now')),
  );
}

export function functionsView(root: HTMLElement, store: RecordStore): () => void {
  const body = h('tbody');
  const status = h('p', { class: 'muted', role: 'status' });
  root.replaceChildren(
    h('h2', {}, 'Functions'),
    status,
    h(
      'table',
      { class: 'grid', 'aria-label': 'functions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Service', 'Instances', 'In flight', 'Held', 'Error rate', 'Instances over time'].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      body,
    ),
  );
  let functions: readonly FunctionView[] = [];
  const render = (): void => {
    const scales = new Map<string, ScaleRecord[]>();
    for (const r of store.records as readonly ConsoleRecord[]) {
      if (r.kind !== 'scale') continue;
      const l = scales.get(r.service);
      if (l === undefined) scales.set(r.service, [r]);
      else l.push(r);
    }
    const now = Date.now();
    body.replaceChildren(
      ...functions.map((f) => {
        const instances =
          f.ready === 0 && f.starting === 0
            ? 'scaled to zero'
            : `${f.ready} ready${f.starting > 0 ? `, ${f.starting} starting` : ''}${f.stopping > 0 ? `, ${f.stopping} stopping` : ''}`;
        const rate =
          f.deliveries === 0 ? '—' : `${Math.round((f.errors / f.deliveries) * 100)} % of ${f.deliveries}`;
        return h(
          'tr',
          { 'data-service': f.name },
          h(
            'th',
            { scope: 'row' },
            f.name,
            f.revision === undefined ? null : h('span', { class: 'muted' }, ` ${f.revision}`),
          ),
          h(
            'td',
            {},
            instances,
            h('span', { class: 'muted' }, ` (min ${f.minScale}, max ${f.maxScale || '∞'})`),
          ),
          h('td', {}, f.inFlight),
          h('td', {}, f.queued),
          h('td', { class: f.errors > 0 ? 'bad' : '' }, rate),
          h('td', {}, timeline(f.name, scales.get(f.name) ?? [], now)),
        );
      }),
    );
  };
  const refresh = async (): Promise<void> => {
    try {
      functions = (await getJson<{ functions: FunctionView[] }>('v1/functions')).functions;
      status.textContent = `${functions.length} Knative Services`;
    } catch (err) {
      status.textContent = `cannot read the functions: ${(err as Error).message}`;
    }
    render();
  };
  void refresh();
  const timer = setInterval(() => void refresh(), 2000);
  const stop = store.onChange(render);
  return () => {
    clearInterval(timer);
    stop();
  };
}
