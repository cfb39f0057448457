/**
 * One event's path, drawn from the page's records with the same code `make lineage` prints with (../lineage.ts):
 * its arrivals, each Trigger's delivery with every attempt, the dead letter, the reply and its own path.
 */
import { buildLineage, describeAttempt, type LineageDelivery, type LineageNode } from '../../lineage.ts';
import { clock, h } from '../dom.ts';
import type { RecordStore } from '../store.ts';

const TONE: Record<string, string> = {
  delivered: 'good',
  'refused-kept': 'warn',
  'refused-acked': 'warn',
  'dead-lettered': 'bad',
  lost: 'bad',
};

function decoded(data: string): string {
  try {
    return atob(data);
  } catch {
    return data;
  }
}

function delivery(d: LineageDelivery): HTMLElement {
  const tone = TONE[d.outcome] ?? 'muted';
  return h(
    'li',
    { class: `delivery ${tone}`, 'data-trigger': d.trigger },
    h(
      'p',
      { class: 'delivery-head' },
      h('span', { class: 'label' }, 'trigger '),
      h('strong', {}, d.trigger),
      ' → ',
      h('strong', {}, d.subscriber ?? 'its URI subscriber'),
      ' ',
      h('span', { class: `badge ${tone}` }, d.outcome),
      h('span', { class: 'muted' }, ` ${clock(d.time)}`),
    ),
    h(
      'ol',
      { class: 'attempts', 'aria-label': `attempts at ${d.trigger}` },
      ...d.attempts.map((a, i) =>
        h(
          'li',
          { class: a.status >= 200 && a.status < 300 ? 'ok' : 'failed' },
          `attempt ${i + 1}: ${describeAttempt(a)}`,
        ),
      ),
    ),
    d.deadLetter === undefined
      ? null
      : h(
          'div',
          { class: 'dead-letter', role: 'note' },
          h('strong', {}, d.outcome === 'lost' ? 'Lost' : 'Dead letter'),
          d.deadLetter.sink === undefined ? null : h('p', { class: 'sink' }, `sink ${d.deadLetter.sink}`),
          h(
            'dl',
            {},
            h('dt', {}, 'knativeerrorcode'),
            h('dd', {}, String(d.deadLetter.code ?? '—')),
            d.deadLetter.data === undefined ? null : h('dt', {}, 'knativeerrordata'),
            d.deadLetter.data === undefined
              ? null
              : h(
                  'dd',
                  { class: 'mono' },
                  `${d.deadLetter.data} (${decoded(d.deadLetter.data).slice(0, 200)})`,
                ),
            d.deadLetter.error === undefined ? null : h('dt', {}, 'error'),
            d.deadLetter.error === undefined ? null : h('dd', {}, d.deadLetter.error),
          ),
        ),
    d.reply === undefined
      ? null
      : h(
          'div',
          { class: 'reply' },
          d.replyPath === undefined
            ? h('p', {}, `reply ${d.reply.type} ${d.reply.id}${d.reply.published ? '' : ' (not published)'}`)
            : node(d.replyPath, 'reply'),
        ),
  );
}

function node(n: LineageNode, role: 'event' | 'reply' | 'caused'): HTMLElement {
  const arrivals =
    n.arrivals.length === 0
      ? 'arrival not recorded'
      : n.arrivals
          .map((a, i) => `${i === 0 ? 'accepted' : 'again'} ${clock(a.time)} via ${a.via}`)
          .join(', ');
  return h(
    'section',
    { class: `node ${role}`, 'data-event-id': n.eventId, 'aria-label': `${role} ${n.type}` },
    h(
      'header',
      {},
      role === 'event' ? null : h('span', { class: 'label' }, `${role} `),
      h('strong', {}, n.type),
      ' ',
      h('a', { href: `#/event/${encodeURIComponent(n.eventId)}`, class: 'mono' }, n.eventId),
      h(
        'p',
        { class: 'muted' },
        `source ${n.source}${n.subject === undefined ? '' : ` · subject ${n.subject}`} · ${arrivals}${n.traceId === undefined ? '' : ` · trace ${n.traceId}`}`,
      ),
    ),
    n.deliveries.length === 0
      ? h(
          'p',
          { class: 'muted' },
          n.truncated === true ? 'followed no further' : 'no Trigger delivered it (yet)',
        )
      : h('ul', { class: 'deliveries' }, ...n.deliveries.map(delivery)),
    ...n.caused.map((c) => node(c, 'caused')),
  );
}

export function lineageView(root: HTMLElement, store: RecordStore, id: string): () => void {
  function render(): void {
    const tree = buildLineage(store.records, id);
    root.replaceChildren(
      h('p', {}, h('a', { href: '#/events' }, '← Events')),
      h('h2', {}, 'Path of ', h('span', { class: 'mono' }, id)),
      tree === undefined
        ? h(
            'p',
            { class: 'muted' },
            'No record of this event (yet): the console keeps the last records only.',
          )
        : node(tree, 'event'),
      h('p', { class: 'muted' }, 'In a terminal: ', h('code', {}, `make lineage ID=${id}`)),
    );
  }
  render();
  return store.onChange(render);
}
