/**
 * The fixture page of platform/build/pages.int.test.ts: one view module, CSS through the bundle, data fetched
 * from the page's own assets/ — what a real page does, under the CSP loadStaticFiles sends.
 */
import './fixture.css';
import { renderStations, type Station } from './views/stations.ts';

const list = document.querySelector<HTMLUListElement>('#stations');
const button = document.querySelector<HTMLButtonElement>('#more');
if (list === null || button === null) throw new Error('the fixture page lost its markup');

const response = await fetch(new URL('assets/stations.json', document.baseURI));
renderStations(list, (await response.json()) as Station[]);

let clicks = 0;
button.addEventListener('click', () => {
  clicks += 1;
  button.textContent = `count ${clicks}`;
});
