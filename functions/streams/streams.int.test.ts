/**
 * The streams system end to end on the local platform, as `make dev` runs it (startDevPlatform: every function
 * of the repository, the broker from eventing/manifests, RabbitMQ, FerretDB): `make stream`'s generator publishes
 * readings over AMQP → the `readings` RabbitmqSource → the broker → window-aggregator; the `window-closer`
 * PingSource fires (its clock moved by hand) → window-closer closes the windows → window.closed → results-api;
 * the windows are read through the gateway at /api/streams and compared with what the generator sent. A second
 * run with event times in the closed windows comes back as late readings at /api/streams/late. Swagger UI at
 * /api/streams/docs renders in a real browser from the gateway alone (no CDN), and its window query answers.
 */
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WallClock } from '../../eventing/src/index.ts';
import type { DevPlatform } from '../../platform/local/src/platform.ts';
import { until as pollUntil } from '../../platform/local/src/testing/http-events.ts';
import { RecordingLogger } from '../../platform/local/src/testing/recording-logger.ts';
import {
  runSourceCli,
  type SystemPlatform,
  startSystemPlatform,
  whenServing,
} from '../../platform/local/src/testing/system-platform.ts';
import { launchBrowser, screenshot } from '../../platform/test-servers/browser.ts';
import type { DocumentStore } from '../runtime/src/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const WINDOW_MS = 60_000;

/** Wall time that moves when told: the PingSource fires only when the test advances it. */
class SteppedClock implements WallClock {
  offset = 0;
  readonly #timers = new Set<{ at: number; fn: () => void }>();
  now(): number {
    return Date.now() + this.offset;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.now() + ms, fn };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }
  advance(ms: number): void {
    this.offset += ms;
    for (const t of [...this.#timers])
      if (t.at <= this.now()) {
        this.#timers.delete(t);
        t.fn();
      }
  }
}

interface Sent {
  id: string;
  sensorId: string;
  time: string;
  value: number;
  unit: string;
}
interface Window {
  sensorId: string;
  windowStart: string;
  windowEnd: string;
  unit: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
}

/** Polls every 250 ms: each check reads FerretDB or the gateway. */
const until = <T>(what: string, check: () => Promise<T | undefined>, ms = 90_000): Promise<T> =>
  pollUntil(what, check, ms, 250);

/**
 * `make stream` with these arguments into `exchange` (the run's own readings source): the generator's CLI, writing
 * what it sent to `out`.
 */
const stream = (args: string[], exchange: string, out: string): Promise<Sent[]> =>
  runSourceCli('make stream', join(ROOT, 'functions/streams/reading-generator/cli.ts'), args, {
    exchange,
    out,
    env: { RABBITMQ_URL: inject('rabbitmqUrl') },
    timeoutMs: 60_000,
  });

/** The windows the readings make, computed here from what was sent (duplicates by id count once). */
function expectedWindows(sent: readonly Sent[]): Map<string, Window> {
  const unique = new Map(sent.map((s) => [s.id, s]));
  const windows = new Map<string, Window>();
  for (const s of unique.values()) {
    const start = Math.floor(Date.parse(s.time) / WINDOW_MS) * WINDOW_MS;
    const key = `${s.sensorId}|${new Date(start).toISOString()}`;
    const w = windows.get(key) ?? {
      sensorId: s.sensorId,
      windowStart: new Date(start).toISOString(),
      windowEnd: new Date(start + WINDOW_MS).toISOString(),
      unit: s.unit,
      count: 0,
      sum: 0,
      min: Number.POSITIVE_INFINITY,
      max: Number.NEGATIVE_INFINITY,
      mean: 0,
    };
    w.count++;
    w.sum += s.value;
    w.min = Math.min(w.min, s.value);
    w.max = Math.max(w.max, s.value);
    w.mean = w.sum / w.count;
    windows.set(key, w);
  }
  return windows;
}

describe('streams end to end on the local platform (RabbitMQ + FerretDB)', () => {
  const clock = new SteppedClock();
  const log = new RecordingLogger();
  let sys: SystemPlatform | undefined;

  let dir: string;
  let platform: DevPlatform | undefined;

  let store: DocumentStore;
  /** The exchange of this run's `readings` source (startSystemPlatform: a run of its own, not the manifest's). */
  let readings: string;

  beforeAll(async () => {
    sys = await startSystemPlatform({
      name: 'streams',
      rabbitmqUrl: inject('rabbitmqUrl'),
      mongodbUrl: inject('mongodbUrl'),
      log,
      sources: ['readings'],
      broker: { clock },
    });
    ({ platform, store, dir } = sys);
    readings = sys.sources.get('readings')?.exchange ?? '';
  }, 120_000);

  afterAll(async () => {
    await sys?.stop();
  }, 120_000);

  const gateway = (path: string): Promise<Response> => fetch(`${platform?.gateway?.url}/api/streams${path}`);

  let first: Sent[] = [];

  it('make stream → source → broker → window-aggregator → PingSource tick → window-closer → results-api: exact windows at the gateway', async () => {
    first = await stream(
      ['--sensors', '4', '--rate', '40', '--duration', '3s', '--seed', '11', '--late-ratio', '0'],
      readings,
      join(dir, 'first.jsonl'),
    );
    const distinct = new Set(first.map((s) => s.id)).size;
    expect(first.length).toBeGreaterThan(distinct); // the generator resent some (1 % duplicates, seeded)
    // Every reading stored in its window: the aggregator is done with the stream.
    await until('every reading in its window', async () =>
      (await store.collection('streams_readings').countDocuments({})) === distinct ? true : undefined,
    );
    // The stream stopped: a tick well after it (the watermark follows the clock once idle) closes everything.
    clock.advance(10 * 60_000);
    const expected = expectedWindows(first);
    const sensors = [...new Set(first.map((s) => s.sensorId))].sort();
    for (const sensor of sensors) {
      const mine = [...expected.values()].filter((w) => w.sensorId === sensor);
      const got = await until(`the windows of ${sensor} at the gateway`, async () => {
        const res = await gateway(`/sensors/${sensor}/windows`);
        if (res.status !== 200) return undefined;
        const body = (await res.json()) as { windows: Window[] };
        return body.windows.length === mine.length ? body.windows : undefined;
      });
      for (const w of got) {
        const want = expected.get(`${w.sensorId}|${w.windowStart}`);
        expect(want, `${w.sensorId} ${w.windowStart}`).toBeDefined();
        if (want === undefined) continue;
        expect({ ...w, sum: 0, mean: 0 }).toEqual({ ...want, sum: 0, mean: 0 });
        expect(w.sum).toBeCloseTo(want.sum, 9);
        expect(w.mean).toBeCloseTo(want.mean, 9);
      }
    }
    const listed = (await (await gateway('/sensors')).json()) as { sensors: { id: string }[] };
    expect(listed.sensors.map((s) => s.id)).toEqual(sensors);
    // The counters the streams dashboard reads, in the functions' own expositions (observability's name check).
    // Every instance's: under load a function scales out, and the one that counted may not be the first.
    const exposition = async (name: string): Promise<string> => {
      const instances = platform?.serving.functions.get(name)?.scaler.snapshot().instances ?? [];
      const texts = await Promise.all(
        instances.flatMap((i) =>
          i.metricsUrl === undefined ? [] : [fetch(`${i.metricsUrl}/metrics`).then((r) => r.text())],
        ),
      );
      return texts.join('\n');
    };
    expect(await exposition('window-aggregator')).toMatch(
      /^streams_readings_total\{[^}]*streams_outcome="on-time"/m,
    );
    expect(await exposition('window-closer')).toMatch(/^streams_windows_closed_total\{/m);
    expect(log.actions('ping').map((r) => r.fields['sluice.source'])).toContain('window-closer');
  }, 240_000);

  it('readings for windows already final come back as late readings, kept and served at /api/streams/late', async () => {
    const start = first.map((s) => s.time).sort()[0] as string;
    const late = await stream(
      [
        '--sensors',
        '4',
        '--rate',
        '8',
        '--duration',
        '1s',
        '--seed',
        '12',
        '--start',
        start,
        '--late-ratio',
        '0',
      ],
      readings,
      join(dir, 'late.jsonl'),
    );
    const ids = new Set(late.map((s) => s.id));
    const got = await until('every late reading at the gateway', async () => {
      const res = await gateway('/late?limit=1000');
      const body = (await res.json()) as { late: { reading: { id: string }; sensorId: string }[] };
      return body.late.length === ids.size ? body.late : undefined;
    });
    expect(new Set(got.map((l) => l.reading.id))).toEqual(ids);
    // The final windows did not change.
    const again = (await (await gateway(`/sensors/${first[0]?.sensorId}/windows`)).json()) as {
      windows: Window[];
    };
    const expected = expectedWindows(first);
    for (const w of again.windows)
      expect(w.count).toBe(expected.get(`${w.sensorId}|${w.windowStart}`)?.count);
  }, 120_000);

  it('/api/streams/docs: Swagger UI renders the OpenAPI document in a browser, every file from the gateway', async () => {
    // results-api answers first: it may have scaled to zero since the last test, and on a loaded machine its cold
    // start outlasts the route's 10 s timeout, so the page itself would be a 504. What is checked is the page.
    expect((await whenServing(`${platform?.gateway?.url}/api/streams/docs`)).status).toBe(200);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      // Bounds on a hang only (every wait is on a condition): on a loaded machine Swagger UI's first render can take
      // longer than playwright's 30 s default.
      page.setDefaultTimeout(60_000);
      page.setDefaultNavigationTimeout(60_000);
      const origins = new Set<string>();
      const failed: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => origins.add(new URL(r.url()).origin));
      page.on('requestfailed', (r) => failed.push(r.url()));
      page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${platform?.gateway?.url}/api/streams/docs`);
      // What a reader waits for: the API's title, then its three operations.
      await page.getByRole('heading', { name: /^sluice streams results/ }).waitFor();
      const operations = page.locator('.opblock-summary-path');
      await operations.nth(2).waitFor();
      expect(await operations.allTextContents()).toEqual(['/sensors', '/sensors/{id}/windows', '/late']);
      // Try the window query from the page, as a reader of the docs would.
      const sensor = first[0]?.sensorId ?? 's-000';
      await page.locator('.opblock-summary-path', { hasText: '/sensors/{id}/windows' }).click();
      await page.getByRole('button', { name: 'Try it out' }).click();
      await page.locator('input[placeholder="id"]').fill(sensor);
      await page.getByRole('button', { name: 'Execute' }).click();
      const body = page.locator('.live-responses-table .response-col_description .microlight').first();
      await body.waitFor();
      expect(
        await page.locator('.live-responses-table tbody .response-col_status').first().textContent(),
      ).toContain('200');
      expect(await body.textContent()).toContain(`"sensorId": "${sensor}"`);
      // The README's picture: the query and the windows it answered.
      await page.locator('.live-responses-table').scrollIntoViewIfNeeded();
      await page.mouse.wheel(0, 250);
      await screenshot(page, 'streams-api-docs');
      expect([...origins]).toEqual([platform?.gateway?.url]);
      expect(failed).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 300_000);
});
