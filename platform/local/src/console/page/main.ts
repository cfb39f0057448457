/**
 * `make dev`'s event console: one module per view (views/), the records kept live by store.ts, the route in the
 * URL's hash (#/events, #/event/<id>, #/functions, #/triggers, #/dead-letters) so a path can be linked and the
 * browser's back button works. Served by platform/local/src/console/console-server.ts.
 */
import './console.css';
import type { RecorderStats } from '../records.ts';
import { getJson } from './api.ts';
import { RecordStore } from './store.ts';
import { deadLettersView } from './views/dead-letters.ts';
import { eventsView } from './views/events.ts';
import { functionsView } from './views/functions.ts';
import { lineageView } from './views/lineage.ts';
import { triggersView } from './views/triggers.ts';

const view = document.querySelector<HTMLElement>('#view');
const connection = document.querySelector<HTMLElement>('#connection');
const footer = document.querySelector<HTMLElement>('#stats');
if (view === null || connection === null || footer === null)
  throw new Error('the console page lost its markup');

const store = new RecordStore();
store.onConnection((state) => {
  connection.textContent =
    state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : 'reconnecting…';
  connection.dataset.state = state;
});
store.connect();

let leave: () => void = () => {};
function route(): void {
  leave();
  const hash = location.hash.replace(/^#\/?/, '');
  const [name = 'events', ...rest] = hash.split('/');
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    const current = link.dataset.view === name || (name === 'event' && link.dataset.view === 'events');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view === null) return;
  switch (name) {
    case 'event':
      leave = lineageView(view, store, decodeURIComponent(rest.join('/')));
      break;
    case 'functions':
      leave = functionsView(view, store);
      break;
    case 'triggers':
      leave = triggersView(view, store);
      break;
    case 'dead-letters':
      leave = deadLettersView(view);
      break;
    default:
      leave = eventsView(view, store);
  }
}
window.addEventListener('hashchange', () => {
  route();
  view.focus();
});
route();

async function stats(into: HTMLElement): Promise<void> {
  try {
    const s = await getJson<RecorderStats>('v1/stats');
    const lost = s.dropped > 0 ? `, ${s.dropped} older dropped by the cap` : '';
    const saved =
      s.store === 'mongodb'
        ? ` · kept in MongoDB${s.unsaved > 0 ? ` (${s.unsaved} not written)` : ''}`
        : ' · in memory';
    into.textContent = `${s.size} of ${s.capacity} records held (${s.total} recorded${lost})${saved}`;
  } catch {
    into.textContent = '';
  }
}
// Read again when records arrive, at most once a second, and every 5 s (MongoDB's pending writes).
let asked = 0;
store.onChange(() => {
  if (Date.now() - asked < 1000) return;
  asked = Date.now();
  setTimeout(() => void stats(footer), 200);
});
void stats(footer);
setInterval(() => void stats(footer), 5000);
