/**
 * A page as a person gets it: built by pages.ts, served by the runtime's loadStaticFiles under a prefix, opened in
 * Chromium. The page's script, its CSS and its data load under the CSP, and nothing is asked of another origin.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-servers/browser.ts';
import { buildPage, loadStaticFiles } from './pages.ts';

let out: string;
let server: Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'sluice-page-fixture-'));
  await buildPage({ dir: join(import.meta.dirname, 'testing', 'page'), out });
  const site = await loadStaticFiles(out, { prefix: '/stations/' });
  server = createServer(site.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await rm(out, { recursive: true, force: true });
});

/** Polls bound a hang only: a loaded machine may take seconds for what usually takes milliseconds. */
const WAIT = { timeout: 30_000 };

describe('a built page in the browser', () => {
  it('renders its data with its CSS, reacts to the keyboard, and loads only from its own origin', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requested: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => requested.push(r.url()));

    await page.goto(`${base}/stations`);
    expect(page.url()).toBe(`${base}/stations/`);
    const items = page.getByRole('list', { name: 'stations' }).getByRole('listitem');
    await expect
      .poll(() => items.allTextContents(), WAIT)
      .toEqual(['Quai <b>Ouest</b>: 7 bikes', 'Gare: 0 bikes']);
    const color = await items
      .first()
      .evaluate((li) => li.ownerDocument.defaultView?.getComputedStyle(li).color);
    expect(color).toBe('rgb(0, 128, 0)');

    await page.getByRole('button', { name: 'count' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('button').textContent(), WAIT).toBe('count 1');

    expect(problems).toEqual([]);
    expect(requested.filter((u) => !u.startsWith(`${base}/`))).toEqual([]);
    expect(requested.map((u) => new URL(u).pathname)).toEqual(
      expect.arrayContaining(['/stations/main.js', '/stations/main.css', '/stations/assets/stations.json']),
    );
  });
});
