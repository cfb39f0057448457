/** The live event stream: every event the broker accepted, newest first, filterable by type, subject and id. */
import type { AcceptedRecord, ConsoleRecord, TrailRecord } from '../../records.ts';
import { clock, h, keepingFocus } from '../dom.ts';
import type { RecordStore } from '../store.ts';

const filters = { type: '', subject: '', id: '' };
const SHOWN = 300;

/** What became of an event so far, from its delivery records: the worst outcome wins. */
function summary(deliveries: readonly TrailRecord[] | undefined): { text: string; tone: string } {
  if (deliveries === undefined || deliveries.length === 0) return { text: 'no delivery yet', tone: 'muted' };
  const last = deliveries.at(-1) as TrailRecord;
  const failed = deliveries.find((d) => d.outcome === 'dead-lettered' || d.outcome === 'lost');
  if (failed !== undefined) return { text: failed.outcome, tone: 'bad' };
  const refused = deliveries.find((d) => d.outcome.startsWith('refused'));
  if (refused !== undefined) return { text: refused.outcome, tone: 'warn' };
  const retried = deliveries.some((d) => d.attempts > 1);
  return { text: `${last.outcome}${retried ? ' after retries' : ''}`, tone: retried ? 'warn' : 'good' };
}

export function eventsView(root: HTMLElement, store: RecordStore): () => void {
  const list = h('tbody');
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const input = (name: keyof typeof filters, label: string, placeholder: string): HTMLElement =>
    h(
      'label',
      {},
      label,
      h('input', {
        type: 'search',
        name,
        placeholder,
        value: filters[name],
        oninput: (e: Event) => {
          filters[name] = (e.target as HTMLInputElement).value.trim().toLowerCase();
          render();
        },
      }),
    );
  root.replaceChildren(
    h('h2', {}, 'Events'),
    h(
      'form',
      { class: 'filters', role: 'search', onsubmit: (e: Event) => e.preventDefault() },
      input('type', 'Type', 'dev.sluice.hello'),
      input('subject', 'Subject', 'any'),
      input('id', 'Id', 'any'),
    ),
    count,
    h(
      'table',
      { class: 'grid', 'aria-label': 'events' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Time', 'Type', 'Source', 'Subject', 'Id', 'Path'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      list,
    ),
  );

  function render(): void {
    const deliveries = new Map<string, TrailRecord[]>();
    const accepted: AcceptedRecord[] = [];
    for (const r of store.records as readonly ConsoleRecord[]) {
      if (r.kind === 'delivery') {
        const l = deliveries.get(r.eventId);
        if (l === undefined) deliveries.set(r.eventId, [r]);
        else l.push(r);
      } else if (r.kind === 'accepted') accepted.push(r);
    }
    const match = (value: string | undefined, needle: string): boolean =>
      needle === '' || (value ?? '').toLowerCase().includes(needle);
    const shown = accepted
      .filter(
        (a) =>
          match(a.eventType, filters.type) &&
          match(a.subject, filters.subject) &&
          match(a.eventId, filters.id),
      )
      .reverse();
    count.textContent = `${shown.length} event${shown.length === 1 ? '' : 's'}${shown.length > SHOWN ? ` (the newest ${SHOWN} shown)` : ''}`;
    list.replaceChildren(
      ...shown.slice(0, SHOWN).map((a) => {
        const s = summary(deliveries.get(a.eventId));
        const href = `#/event/${encodeURIComponent(a.eventId)}`;
        return h(
          'tr',
          { 'data-event-id': a.eventId, 'data-key': a.eventId },
          h('td', {}, clock(a.time)),
          h('td', {}, h('a', { href }, a.eventType)),
          h('td', {}, a.eventSource),
          h('td', {}, a.subject ?? ''),
          h('td', { class: 'mono' }, a.eventId),
          h(
            'td',
            {},
            h('span', { class: `badge ${s.tone}` }, a.via === 'ingress' ? s.text : `${a.via}: ${s.text}`),
          ),
        );
      }),
    );
  }
  render();
  return store.onChange(() => keepingFocus(list, render));
}
