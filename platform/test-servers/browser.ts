/**
 * A real browser for the page tests: Debian's Chromium (`make chromium` installs it when missing) driven by
 * playwright-core through its `executablePath` (no browser download works on these machines). Headless,
 * sandbox off (tests run as root in CI), and none of Chromium's background networking, which a closed
 * network answers with refused connections at every start.
 *
 * Screenshots: `screenshot(page, name)` writes `.tmp/screenshots/<name>.png`, and also
 * `docs/screenshots/<name>.png` (what the README shows) when UPDATE_SCREENSHOTS=1.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

const REPO = resolve(import.meta.dirname, '../..');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export class BrowserMissingError extends Error {
  override name = 'BrowserMissingError';
}

/** Launches headless Chromium; the caller closes it (`await browser.close()` in afterAll). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new BrowserMissingError(
      `no Chromium at ${CHROMIUM_PATH}: run \`make chromium\` (or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
}

/** Saves a PNG of the page for the README (docs/screenshots/, with UPDATE_SCREENSHOTS=1) and for CI (.tmp/). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = join(REPO, '.tmp', 'screenshots');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    const docs = join(REPO, 'docs', 'screenshots');
    await mkdir(docs, { recursive: true });
    await copyFile(file, join(docs, `${name}.png`));
  }
  return file;
}
