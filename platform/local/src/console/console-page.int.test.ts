/**
 * The console page as a person uses it, in Chromium (playwright-core), against the local platform
 * (testing/console-platform.ts): an event that retries then dead-letters and one that produces a reply; both paths
 * shown; the dead letter replayed from the page with the keyboard, after the confirmation; its new path. Screenshots
 * for the README (UPDATE_SCREENSHOTS=1 writes docs/screenshots/).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../../../test-servers/browser.ts';
import { postEvent } from '../testing/http-events.ts';
import {
  type ConsolePlatform,
  FLAKY_TYPE,
  HELLO_TYPE,
  startConsolePlatform,
} from './testing/console-platform.ts';

const run = `${process.pid}-${Date.now().toString(36)}`;
const helloId = `hello-${run}`;
const flakyId = `flaky-${run}`;

/** Polls bound a hang only: a loaded machine may take seconds for what usually takes milliseconds. */
const WAIT = { timeout: 30_000 };

describe('the console page', () => {
  let cp: ConsolePlatform;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    cp = await startConsolePlatform();
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await cp?.stop();
  });

  it('opens from the printed URL, without the token left in the address bar, and goes live', async () => {
    await page.goto(cp.console.pageUrl);
    expect(page.url()).toBe(`${cp.console.url}/console/`);
    await expect.poll(() => page.locator('#connection').textContent(), WAIT).toBe('live');
  });

  it('shows both events arriving live, one delivered, one dead-lettered after its retries', async () => {
    const broker = cp.platform.broker?.url ?? '';
    expect((await postEvent(broker, HELLO_TYPE, { name: 'Ada' }, helloId)).status).toBe(202);
    expect((await postEvent(broker, FLAKY_TYPE, { order: 42 }, flakyId)).status).toBe(202);
    const events = page.getByRole('table', { name: 'events' });
    await expect
      .poll(() => events.locator(`tr[data-event-id="${flakyId}"] .badge`).textContent(), WAIT)
      .toBe('dead-lettered');
    await expect
      .poll(() => events.locator(`tr[data-event-id="${helloId}"] .badge`).first().textContent(), WAIT)
      .toBe('delivered');
    // The reply hello produced is an event of its own, accepted through the ingress.
    await expect
      .poll(() => events.getByRole('link', { name: 'dev.sluice.hello.greeted.v1' }).count(), WAIT)
      .toBeGreaterThan(0);
    await page.getByRole('searchbox', { name: 'Type' }).fill('flaky');
    await expect.poll(() => events.locator('tbody tr').count(), WAIT).toBe(1);
    await page.getByRole('searchbox', { name: 'Type' }).fill('');
    await screenshot(page, 'console-events');
    // A live update keeps the keyboard focus on the row it was on.
    await events.locator(`tr[data-event-id="${helloId}"]`).getByRole('link').focus();
    expect((await postEvent(broker, HELLO_TYPE, { name: 'Bob' }, `${helloId}-b`)).status).toBe(202);
    await expect.poll(() => events.locator(`tr[data-event-id="${helloId}-b"]`).count(), WAIT).toBe(1);
    expect(await page.evaluate("document.activeElement?.closest('tr')?.getAttribute('data-event-id')")).toBe(
      helloId,
    );
  });

  it('shows the reply path: the delivery to hello and the reply it caused, with its own path', async () => {
    await page.locator(`tr[data-event-id="${helloId}"]`).getByRole('link').click();
    const root = page.locator(`section.node.event[data-event-id="${helloId}"]`);
    await expect
      .poll(() => root.locator('.delivery[data-trigger="hello"] .badge').textContent(), WAIT)
      .toBe('delivered');
    expect(await root.locator('.attempts li').count()).toBe(1);
    const reply = root.locator('section.node.reply');
    expect(await reply.locator('header strong').textContent()).toBe('dev.sluice.hello.greeted.v1');
    expect(await page.getByText(`make lineage ID=${helloId}`).count()).toBe(1);
    await screenshot(page, 'console-reply-path');
  });

  it('shows the retry path: each attempt with its wait, then the dead letter with knativeerrorcode', async () => {
    await page.goto(`${cp.console.url}/console/#/event/${flakyId}`);
    const delivery = page.locator(
      `section.node.event[data-event-id="${flakyId}"] .delivery[data-trigger="flaky"]`,
    );
    await expect.poll(() => delivery.locator('.badge').textContent(), WAIT).toBe('dead-lettered');
    expect(await delivery.locator('.attempts li').allTextContents()).toEqual([
      expect.stringMatching(/^attempt 1: 500 in \d+ ms$/),
      expect.stringMatching(/^attempt 2: 500 in \d+ ms after waiting 50 ms$/),
      expect.stringMatching(/^attempt 3: 500 in \d+ ms after waiting 100 ms$/),
    ]);
    const note = delivery.getByRole('note');
    expect(await note.locator('dt').allTextContents()).toContain('knativeerrorcode');
    expect(await note.locator('dd').first().textContent()).toBe('500');
    await screenshot(page, 'console-dead-letter-path');
  });

  it('replays the dead letter from the page, with the keyboard, after confirming; its new path appears', async () => {
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const row = page.locator(`tr[data-event-id="${flakyId}"]`);
    await expect.poll(() => row.count(), WAIT).toBe(1);
    expect(await row.locator('td').nth(4).textContent()).toBe('500');
    await row.getByRole('button', { name: `replay ${flakyId}` }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Replay' });
    await expect.poll(() => dialog.isVisible(), WAIT).toBe(true);
    expect(await dialog.textContent()).toContain(`${FLAKY_TYPE} ${flakyId}`);
    await screenshot(page, 'console-replay-confirm');
    // Cancel first: nothing is replayed.
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible(), WAIT).toBe(false);
    expect(cp.failing.received).toHaveLength(3);
    await row.getByRole('button', { name: `replay ${flakyId}` }).focus();
    await page.keyboard.press('Enter');
    await dialog.getByRole('button', { name: 'Replay' }).focus();
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('#view').getByRole('status').textContent(), WAIT)
      .toMatch(/^Replayed 1\./);
    await page.getByRole('link', { name: `its new path (${flakyId})` }).click();
    const root = page.locator(`section.node.event[data-event-id="${flakyId}"]`);
    await expect.poll(() => root.locator('.delivery').count(), WAIT).toBe(2);
    expect(await root.locator('header p').textContent()).toMatch(
      /accepted .* via ingress, again .* via ingress/,
    );
    expect(cp.failing.received).toHaveLength(6);
    await screenshot(page, 'console-replayed-path');
  });

  it('shows each function’s instances and the triggers with their dead letters', async () => {
    await page.getByRole('link', { name: 'Functions' }).click();
    const hello = page.locator('tr[data-service="hello"]');
    await expect.poll(() => hello.locator('td').first().textContent(), WAIT).toMatch(/^1 ready/);
    expect(await hello.getByRole('img').getAttribute('class')).toBe('timeline');
    await screenshot(page, 'console-functions');
    await page.getByRole('link', { name: 'Triggers' }).click();
    const flaky = page.locator('tr[data-trigger="flaky"]');
    await expect.poll(() => flaky.locator('td').last().textContent(), WAIT).toBe('2');
    expect(await flaky.locator('td').nth(2).textContent()).toBe('0');
    // Pause it: an event waits in its queue; resume: it is delivered (and dead-lettered again, as always).
    await flaky.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => flaky.locator('.badge').textContent(), WAIT).toBe('paused');
    const held = `held-${run}`;
    expect((await postEvent(cp.platform.broker?.url ?? '', FLAKY_TYPE, { order: 43 }, held)).status).toBe(
      202,
    );
    await expect.poll(() => flaky.locator('td').nth(2).textContent(), WAIT).toBe('1');
    await screenshot(page, 'console-triggers');
    await flaky.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => flaky.locator('.badge').textContent(), WAIT).toBe('active');
    await expect.poll(() => flaky.locator('td').last().textContent(), WAIT).toBe('3');
  });

  it('logged no error in the page (CSP, scripts)', () => {
    expect(problems).toEqual([]);
  });
});
