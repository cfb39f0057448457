/**
 * The dead letters `make dlq` lists, with replay: pick one or several, confirm, and they go back into the broker
 * through make replay's code; each row links to the event's path, where the replay shows up as a new arrival.
 */
import type { DeadLetterView, ReplayOutcome } from '../../records.ts';
import { getJson, postJson } from '../api.ts';
import { h, keepingFocus } from '../dom.ts';

/** How the showing before ends, while its `close` event is still on its way (see confirmReplay). */
let settlePrevious: ((ok: boolean) => void) | undefined;

/**
 * Asks in the page's <dialog>; resolves true for Replay, false for Cancel or Escape. The answer is taken at the
 * form's submit (a button) and otherwise at `close` (Escape), which the browser fires as a task after the dialog
 * closed: Escape and at once Replay again can show the dialog before the first showing's `close` arrives, and that
 * event must neither answer the new showing nor leave the old one waiting for the new one's close.
 */
function confirmReplay(count: number, what: string): Promise<boolean> {
  const dialog = document.querySelector<HTMLDialogElement>('#confirm');
  const text = document.querySelector('#confirm-text');
  const form = dialog?.querySelector('form');
  if (dialog === null || text === null || form === null || form === undefined) return Promise.resolve(false);
  // Only a closed dialog can be shown again, and a Replay answers at its submit: the one before was not a Replay.
  settlePrevious?.(false);
  text.textContent = `Replay ${count === 1 ? what : `${count} dead letters`} into the broker? Each is published again with its id; its Triggers deliver it again.`;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    const settle = (ok: boolean): void => {
      settlePrevious = undefined;
      form.removeEventListener('submit', submitted);
      dialog.removeEventListener('close', closed);
      resolve(ok);
    };
    const submitted = (e: SubmitEvent): void =>
      settle((e.submitter as HTMLButtonElement | null)?.value === 'ok');
    const closed = (): void => {
      if (!dialog.open) settle(dialog.returnValue === 'ok');
    };
    settlePrevious = settle;
    form.addEventListener('submit', submitted);
    dialog.addEventListener('close', closed);
  });
}

export function deadLettersView(root: HTMLElement): () => void {
  const selected = new Set<string>();
  const body = h('tbody');
  const status = h('p', { role: 'status', class: 'muted' });
  const replayButton = h('button', { type: 'button', disabled: true }, 'Replay selected');
  let letters: DeadLetterView[] = [];
  let showReplayed = false;
  let filter = '';
  const shownLetters = (): DeadLetterView[] =>
    letters.filter(
      (l) =>
        (showReplayed || l.status === 'dead-lettered') &&
        (filter === '' || `${l.type} ${l.eventId} ${l.reason}`.toLowerCase().includes(filter)),
    );
  const selectAll = h('input', {
    type: 'checkbox',
    'aria-label': 'select every dead letter shown',
    onchange: (e: Event) => {
      const on = (e.target as HTMLInputElement).checked;
      for (const l of shownLetters()) {
        if (on) selected.add(l.id);
        else selected.delete(l.id);
      }
      render();
    },
  });

  root.replaceChildren(
    h('h2', {}, 'Dead letters'),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'label',
        {},
        'Filter ',
        h('input', {
          type: 'search',
          name: 'filter',
          placeholder: 'type, id or reason',
          oninput: (e: Event) => {
            filter = (e.target as HTMLInputElement).value.trim().toLowerCase();
            render();
          },
        }),
      ),
      replayButton,
      h(
        'label',
        {},
        h('input', {
          type: 'checkbox',
          onchange: (e: Event) => {
            showReplayed = (e.target as HTMLInputElement).checked;
            render();
          },
        }),
        ' show replayed',
      ),
    ),
    status,
    h(
      'table',
      { class: 'grid', 'aria-label': 'dead letters' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, selectAll),
          ...['Type', 'Event', 'Reason', 'Code', 'Destination', 'Last', 'Status'].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Replay')),
        ),
      ),
      body,
    ),
  );

  const replay = async (ids: readonly string[]): Promise<void> => {
    const first = letters.find((l) => l.id === ids[0]);
    if (
      !(await confirmReplay(
        ids.length,
        first === undefined ? 'this dead letter' : `${first.type} ${first.eventId}`,
      ))
    )
      return;
    try {
      const { results } = await postJson<{ results: ReplayOutcome[] }>('v1/dead-letters/replay', { ids });
      status.dataset.auto = 'false';
      const done = results.filter((r) => r.replayed);
      const failed = results.filter((r) => !r.replayed);
      status.replaceChildren(
        `Replayed ${done.length}${failed.length === 0 ? '' : `, ${failed.length} failed: ${failed.map((f) => f.error).join('; ')}`}. `,
        ...done.slice(0, 5).flatMap((r) => {
          const l = letters.find((x) => x.id === r.id);
          return l === undefined
            ? []
            : [
                h('a', { href: `#/event/${encodeURIComponent(l.eventId)}` }, `its new path (${l.eventId})`),
                ' ',
              ];
        }),
      );
      selected.clear();
    } catch (err) {
      status.dataset.auto = 'false';
      status.textContent = `replay failed: ${(err as Error).message}`;
    }
    await refresh();
  };
  replayButton.addEventListener('click', () => void replay([...selected]));

  function buttons(): void {
    const shown = shownLetters();
    replayButton.disabled = selected.size === 0;
    replayButton.textContent = selected.size > 1 ? `Replay ${selected.size} selected` : 'Replay selected';
    selectAll.checked = shown.length > 0 && shown.every((l) => selected.has(l.id));
  }

  function render(): void {
    const shown = shownLetters();
    buttons();
    if (status.textContent === '' || status.dataset.auto === 'true') {
      status.textContent =
        shown.length === 0
          ? 'No dead letters.'
          : `${shown.length} dead letter${shown.length === 1 ? '' : 's'}`;
      status.dataset.auto = 'true';
    }
    body.replaceChildren(
      ...shown.map((l) =>
        h(
          'tr',
          { 'data-dead-letter': l.id, 'data-event-id': l.eventId, 'data-key': l.id },
          h(
            'td',
            {},
            h('input', {
              type: 'checkbox',
              'aria-label': `select ${l.type} ${l.eventId}`,
              checked: selected.has(l.id),
              onchange: (e: Event) => {
                if ((e.target as HTMLInputElement).checked) selected.add(l.id);
                else selected.delete(l.id);
                buttons(); // not render(): the focus stays on this checkbox
              },
            }),
          ),
          h('td', {}, l.type),
          h('td', { class: 'mono' }, h('a', { href: `#/event/${encodeURIComponent(l.eventId)}` }, l.eventId)),
          h('td', { class: 'reason' }, l.reason === '' ? '—' : l.reason.slice(0, 160)),
          h('td', {}, l.code ?? '—'),
          h('td', { class: 'mono' }, l.dest),
          h('td', {}, l.lastDeadLetteredAt.slice(11, 19)),
          h('td', {}, `${l.status}${l.count > 1 ? ` ×${l.count}` : ''}`),
          h(
            'td',
            {},
            h(
              'button',
              { type: 'button', onclick: () => void replay([l.id]), 'aria-label': `replay ${l.eventId}` },
              'Replay',
            ),
          ),
        ),
      ),
    );
  }

  let seen = '';
  async function refresh(): Promise<void> {
    try {
      letters = (await getJson<{ deadLetters: DeadLetterView[] }>('v1/dead-letters')).deadLetters;
    } catch (err) {
      status.textContent = `cannot read the dead letters: ${(err as Error).message}`;
      status.dataset.auto = 'false';
    }
    // Only when something changed, keeping the keyboard focus where it is.
    const now = JSON.stringify(letters);
    if (now === seen) return;
    seen = now;
    keepingFocus(body, render);
  }
  void refresh();
  const timer = setInterval(() => void refresh(), 3000);
  return () => clearInterval(timer);
}
