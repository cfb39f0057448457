/** Each Trigger: filter, subscriber, queue depth, paused or active (with the buttons when the broker can pause), dead letters. */
import type { ConsoleRecord, DispatcherScaleRecord, TriggerView } from '../../records.ts';
import { ApiError, getJson, postJson } from '../api.ts';
import { clock, h, keepingFocus } from '../dom.ts';
import type { RecordStore } from '../store.ts';

/** The last scale decision of each Trigger's dispatcher (ScaledObjects only). */
function lastDecisions(records: readonly ConsoleRecord[]): Map<string, DispatcherScaleRecord> {
  const last = new Map<string, DispatcherScaleRecord>();
  for (const r of records) if (r.kind === 'dispatcher-scale') last.set(r.trigger, r);
  return last;
}

export function triggersView(root: HTMLElement, store: RecordStore): () => void {
  const body = h('tbody');
  const status = h('p', { class: 'muted', role: 'status' });
  root.replaceChildren(
    h('h2', {}, 'Triggers'),
    status,
    h(
      'table',
      { class: 'grid', 'aria-label': 'triggers' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Trigger', 'Filter', 'Subscriber', 'Queue depth', 'Dispatchers', 'State', 'Dead letters'].map(
            (c) => h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      body,
    ),
  );
  const toggle = async (t: TriggerView): Promise<void> => {
    try {
      await postJson(
        `v1/triggers/${encodeURIComponent(t.name)}/${t.paused === true ? 'resume' : 'pause'}`,
        {},
      );
      status.textContent = `${t.name} ${t.paused === true ? 'resumed' : 'paused'}`;
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.message : String(err);
    }
    await refresh();
  };
  const refresh = async (): Promise<void> => {
    let triggers: TriggerView[];
    try {
      triggers = (await getJson<{ triggers: TriggerView[] }>('v1/triggers')).triggers;
    } catch (err) {
      status.textContent = `cannot read the triggers: ${(err as Error).message}`;
      return;
    }
    const decisions = lastDecisions(store.records);
    keepingFocus(body, () =>
      body.replaceChildren(
        ...triggers.map((t) => {
          const filter = Object.entries(t.filter)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ');
          const state =
            t.paused === undefined
              ? h('span', { class: 'badge muted', title: 'this broker cannot pause a Trigger' }, 'active')
              : h(
                  'span',
                  {},
                  h('span', { class: `badge ${t.paused ? 'warn' : 'good'}` }, t.paused ? 'paused' : 'active'),
                  ' ',
                  h(
                    'button',
                    {
                      type: 'button',
                      'aria-label': `${t.paused ? 'Resume' : 'Pause'} ${t.name}`,
                      onclick: () => void toggle(t),
                    },
                    t.paused ? 'Resume' : 'Pause',
                  ),
                );
          return h(
            'tr',
            { 'data-trigger': t.name, 'data-key': t.name },
            h('th', { scope: 'row' }, t.name),
            h('td', { class: 'mono' }, filter || 'every event'),
            h('td', {}, t.subscriber),
            h('td', {}, t.depth === undefined ? '?' : t.depth),
            h(
              'td',
              {},
              t.replicas ?? 1,
              decisions.get(t.name) === undefined
                ? null
                : h(
                    'span',
                    { class: 'muted' },
                    ` (${decisions.get(t.name)?.from} → ${decisions.get(t.name)?.to} at depth ${decisions.get(t.name)?.depth}, ${clock(decisions.get(t.name)?.time)})`,
                  ),
            ),
            h('td', {}, state),
            h('td', { class: t.deadLettered > 0 ? 'bad' : '' }, t.deadLettered),
          );
        }),
      ),
    );
  };
  void refresh();
  const timer = setInterval(() => void refresh(), 2000);
  return () => clearInterval(timer);
}
