/**
 * The fleet system end to end on the local platform, as `make dev` runs it (startDevPlatform: every function of the
 * repository, the broker from eventing/manifests, RabbitMQ, FerretDB): `make simulate`'s CLI publishes fixes over
 * AMQP → the `positions` RabbitmqSource → the broker → position-tracker; every fix sent is in raw history exactly
 * once (resends and redeliveries included), late ones too, and the live position of each vehicle is its newest
 * fix. vehicles-api answers through the gateway, its live stream too; the page at /fleet/ shows the vehicles moving
 * in a real browser (Chromium), and its screenshot is the README's. Bad positions sent to the broker come back in
 * the dead-letter sink with their reason.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningBroker } from '../../eventing/src/index.ts';
import { buildPage } from '../../platform/build/pages.ts';
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
import { DEAD_LETTERS_COLLECTION, type DocumentStore } from '../runtime/src/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** The tracker's collections (lib/fleet.ts), read as an operator would. */
const Collections = { positions: 'fleet_positions', track: 'fleet_track', vehicles: 'fleet_vehicles' };
/** A raw fix's `_id`: vehicle, then the fix time as 13 digits of epoch ms. */
const vehicleTimeId = (vehicle: string, ms: number) => `${vehicle}|${String(ms).padStart(13, '0')}`;

/** What the simulator's --out file holds per fix sent. */
interface SimulatedFix {
  vehicleId: string;
  id: string;
  fixT: number;
  lat: number;
  lon: number;
  kind: 'fix' | 'duplicate' | 'late' | 'jump';
}
interface PositionDoc extends Record<string, unknown> {
  _id: string;
  lat: number;
  lon: number;
}
interface VehicleDoc extends Record<string, unknown> {
  _id: string;
  fixT: number;
  fixesSeen: number;
}

/** A bound on a hang in the page test, never on speed: each of its waits is on a condition. */
const HANG_MS = 120_000;
/** The page test's own bound: the sum of its waits' bounds, about. */
const PAGE_TEST_MS = 10 * HANG_MS;

/** Polls every 250 ms: each check reads FerretDB or the gateway. */
const until = <T>(what: string, check: () => Promise<T | undefined>, ms = 120_000): Promise<T> =>
  pollUntil(what, check, ms, 250);

/**
 * `make simulate` with these arguments: the simulator's CLI, writing what it sent to `out`. With `until`, it runs
 * until that signal aborts (SIGTERM, as Ctrl-C stops it); otherwise its --duration ends it, or a hang bound.
 */
const simulate = (
  args: string[],
  exchange: string,
  out: string,
  env: Record<string, string>,
  until?: AbortSignal,
): Promise<SimulatedFix[]> =>
  // The run's own positions source (startSystemPlatform), not the manifest's exchange other runs share.
  runSourceCli('make simulate', join(ROOT, 'functions/fleet/position-simulator/cli.ts'), args, {
    exchange,
    out,
    env,
    ...(until === undefined ? { timeoutMs: 120_000 } : { signal: until }),
  });

describe('fleet end to end on the local platform (RabbitMQ + FerretDB)', () => {
  const log = new RecordingLogger();
  let sys: SystemPlatform | undefined;
  let db: string;
  let dir: string;
  let platform: DevPlatform | undefined;
  let broker: RunningBroker | undefined;
  let store: DocumentStore;
  /** The exchange of this run's `positions` source (startSystemPlatform: a run of its own, not the manifest's). */
  let positionsExchange: string;

  beforeAll(async () => {
    // fleet-web serves its built page, as `make dev` builds it first (fleet.mk).
    await buildPage({ dir: join(ROOT, 'functions/fleet/fleet-web/page') });
    sys = await startSystemPlatform({
      name: 'fleet',
      rabbitmqUrl: inject('rabbitmqUrl'),
      mongodbUrl: inject('mongodbUrl'),
      log,
      sources: ['positions'],
    });
    ({ platform, broker, store, dir, db } = sys);
    positionsExchange = sys.sources.get('positions')?.exchange ?? '';
  }, 120_000);

  afterAll(async () => {
    await sys?.stop();
  }, 120_000);

  it('make simulate → source → broker → position-tracker: every fix in history once, late ones too, the newest live', async () => {
    const sent = await simulate(
      [
        '--vehicles',
        '6',
        '--rate',
        '2',
        '--duration',
        '5s',
        '--seed',
        '7',
        '--duplicate-ratio',
        '0.05',
        '--late-ratio',
        '0.05',
      ],
      positionsExchange,
      join(dir, 'sent.jsonl'),
      { RABBITMQ_URL: inject('rabbitmqUrl') },
    );
    expect(sent.some((f) => f.kind === 'duplicate')).toBe(true);
    expect(sent.some((f) => f.kind === 'late')).toBe(true);
    // One raw fix per vehicle and fix time, whatever was resent.
    const unique = new Map(sent.map((f) => [vehicleTimeId(f.vehicleId, f.fixT), f]));
    const positions = store.collection<PositionDoc>(Collections.positions);
    await until('every fix in history', async () =>
      (await positions.countDocuments({})) >= unique.size ? true : undefined,
    );
    const stored = await positions.find({}, { sort: { _id: 1 } });
    expect(stored.map((p) => p._id)).toEqual([...unique.keys()].sort());
    for (const p of stored) expect([p.lat, p.lon]).toEqual([unique.get(p._id)?.lat, unique.get(p._id)?.lon]);
    // Each fix derived; the live position is each vehicle's newest fix (late ones came before it).
    await until('every fix derived', async () =>
      (await store.collection(Collections.track).countDocuments({})) === unique.size ? true : undefined,
    );
    const newestSeen = await until('each vehicle at its newest fix', async () => {
      const all = await store.collection<VehicleDoc>(Collections.vehicles).find({}, { sort: { _id: 1 } });
      const done = all.every(
        (v) => v.fixesSeen === [...unique.values()].filter((f) => f.vehicleId === v._id).length,
      );
      return done && all.length === 6 ? all : undefined;
    });
    const vehicles = newestSeen;
    const ids = [...new Set(sent.map((f) => f.vehicleId))].sort();
    expect(vehicles.map((v) => v._id)).toEqual(ids);
    for (const v of vehicles) {
      const newest = Math.max(...sent.filter((f) => f.vehicleId === v._id).map((f) => f.fixT));
      expect(v.fixT).toBe(newest);
      expect(v.fixesSeen).toBe([...unique.values()].filter((f) => f.vehicleId === v._id).length);
    }
    // Every instance's: on a loaded machine the queue grows and the tracker scales out (max-scale 4), so the
    // duplicate may have been counted by any of them.
    const instances = platform?.serving.functions.get('position-tracker')?.scaler.snapshot().instances ?? [];
    const urls = instances.flatMap((i) => (i.metricsUrl === undefined ? [] : [`${i.metricsUrl}/metrics`]));
    const exposition = (await Promise.all(urls.map(async (url) => (await fetch(url)).text()))).join('\n');
    expect(exposition).toMatch(/^fleet_positions_total\{[^}]*fleet_outcome="duplicate"/m);
    expect(exposition).toMatch(/^fleet_tracker_lag_seconds_bucket\{/m);
    expect(exposition).toMatch(/^fleet_vehicles_active\{[^}]*\} [1-9]/m);
  }, 240_000);

  it('GET /api/vehicles through the gateway: moving vehicles with speeds; the live stream passes through unbuffered', async () => {
    const gateway = platform?.gateway?.url ?? '';
    // vehicles-api starts from zero with this request (504 from the gateway until it answers, when loaded).
    const res = await whenServing(`${gateway}/api/vehicles`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { vehicles: { id: string; status: string; speedKmh: number }[] };
    expect(body.vehicles).toHaveLength(6);
    expect(body.vehicles.some((v) => v.status === 'moving' && v.speedKmh > 5)).toBe(true);
    const one = (await (
      await fetch(`${gateway}/api/vehicles/${body.vehicles[0]?.id}/positions?limit=3`)
    ).json()) as {
      positions: unknown[];
      next: string | null;
    };
    expect(one.positions).toHaveLength(3);
    expect(one.next).not.toBeNull();
    // The stream: every vehicle first, as events, through the gateway's streaming proxy.
    const controller = new AbortController();
    const stream = await fetch(`${gateway}/api/vehicles/stream`, { signal: controller.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if ((text.match(/^event: vehicle$/gm) ?? []).length >= 6) break;
    }
    controller.abort();
    expect(text).toMatch(/^id: \d+\nevent: vehicle\ndata: \{"id":"v-/m);
  }, 120_000);

  it('make fleet-recompute rebuilds a vehicle from its raw fixes to the same history', async () => {
    const track = store.collection<Record<string, unknown> & { _id: string }>(Collections.track);
    const before = await track.find({ vehicleId: 'v-001' }, { sort: { _id: 1 } });
    const output = await new Promise<string>((done, fail) => {
      execFile(
        process.execPath,
        [join(ROOT, 'functions/fleet/fleet-recompute/cli.ts')],
        {
          env: { ...process.env, VEHICLE: 'v-001', MONGODB_URL: inject('mongodbUrl'), MONGODB_DB: db },
          timeout: 60_000,
        },
        (err, stdout, stderr) =>
          err === null ? done(stdout) : fail(new Error(`make fleet-recompute failed: ${stderr}`)),
      );
    });
    expect(output).toMatch(new RegExp(`^v-001: ${before.length} fixes folded`, 'm'));
    expect(await track.find({ vehicleId: 'v-001' }, { sort: { _id: 1 } })).toEqual(before);
  }, 120_000);

  it('refuses bad positions with their reason into the dead-letter sink, and keeps nothing of them', async () => {
    const post = (id: string, time: string, data: string, subject = 'v-bad') =>
      fetch(broker?.url ?? '', {
        method: 'POST',
        headers: {
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-source': '/tests/fleet',
          'ce-type': 'dev.sluice.fleet.position.reported.v1',
          'ce-subject': subject,
          'ce-time': time,
          'content-type': 'application/json',
        },
        body: data,
      });
    const now = new Date().toISOString();
    expect((await post('bad-lat', now, '{"latitude":91,"longitude":5}')).status).toBe(202);
    expect((await post('bad-number', now, '{"latitude":"north","longitude":5}')).status).toBe(202);
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expect((await post('bad-future', future, '{"latitude":52,"longitude":5}')).status).toBe(202);
    const letters = store.collection<{ eventId: string; reason: string; code: number | null }>(
      DEAD_LETTERS_COLLECTION,
    );
    const kept = await until('the three refusals in the dead-letter sink', async () => {
      const found = await letters.find({ eventId: { $in: ['bad-lat', 'bad-number', 'bad-future'] } });
      return found.length === 3 ? found : undefined;
    });
    const reason = (id: string) => kept.find((l) => l.eventId === id)?.reason ?? '';
    // The runtime keeps the problem's title, status and detail (one header's worth, keep-rejected.ts); the
    // schema's invalid-params went back to the broker in the 400 itself.
    expect(reason('bad-lat')).toMatch(
      /does not match the schema of dev\.sluice\.fleet\.position\.reported\.v1/,
    );
    expect(reason('bad-number')).toMatch(/does not match the schema/);
    expect(reason('bad-future')).toMatch(/ahead of the tracker's clock/);
    for (const l of kept) expect(l.code).toBe(400);
    expect(await store.collection(Collections.positions).countDocuments({ vehicleId: 'v-bad' })).toBe(0);
  }, 120_000);
  it(
    'the page at /fleet/: markers on the map move between two looks, the list shows speeds, a vehicle’s trail and speed chart (Chromium)',
    async () => {
      const gateway = platform?.gateway?.url ?? '';
      // Vehicles moving while the page is open, until the test is done: a fixed 60 s drive can be over before a
      // loaded machine has the page up, and then nothing moves any more. (Its --duration is the test's own bound,
      // so a simulator left behind by a killed run stops by itself.)
      const stopDriving = new AbortController();
      const driving = simulate(
        [
          '--vehicles',
          '5',
          '--rate',
          '1',
          '--duration',
          `${PAGE_TEST_MS / 1000}s`,
          '--seed',
          '9',
          '--prefix',
          'w',
        ],
        positionsExchange,
        join(dir, 'page.jsonl'),
        { RABBITMQ_URL: inject('rabbitmqUrl') },
        stopDriving.signal,
      );
      let browser: Browser | undefined;
      try {
        // Both Services the page uses are up first: each starts from zero, and on a loaded machine a cold start
        // outlasts the route's 10 s timeout, so the page's first GET would be a 504 (the page retries its data,
        // but not itself). What is checked below is the page, with its Services running.
        for (const path of ['/fleet/', '/api/vehicles']) {
          expect((await whenServing(`${gateway}${path}`)).status).toBe(200);
        }
        browser = await launchBrowser();
        const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
        // Every wait below is on a condition; its bound is only against a hang. A loaded machine (load 11–16 on 2
        // cores) takes tens of seconds for a function's cold start behind the gateway and for the first render.
        page.setDefaultTimeout(HANG_MS);
        page.setDefaultNavigationTimeout(HANG_MS);
        const origins = new Set<string>();
        const failed: string[] = [];
        const errors: string[] = [];
        page.on('request', (r) => origins.add(new URL(r.url()).origin));
        page.on('requestfailed', (r) => {
          // The live stream is cut when the page closes; nothing else may fail.
          if (!r.url().endsWith('/api/vehicles/stream')) failed.push(r.url());
        });
        page.on('response', (r) => {
          if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
        });
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${gateway}/fleet/`);
        // What an operator waits for: the markers of the vehicles driving now, and the stream live.
        // (This fleet's: the first test's vehicles keep their last status until they are offline.)
        const markers = page.locator('#map g.vehicle.moving[data-vehicle^="w-"]');
        // What the page showed and the API said, when a wait ends without its condition.
        const state = async (): Promise<string> => {
          const text = (selector: string) =>
            page
              .locator(selector)
              .textContent({ timeout: 1000 })
              .catch(() => 'absent');
          const shown = `${await text('#summary')}; ${await text('#connection')}`;
          const api = await fetch(`${gateway}/api/vehicles`).then(
            async (r) => `${r.status} ${(await r.text()).slice(0, 2000)}`,
            (err: unknown) => String(err),
          );
          return `page ${page.url()}: ${shown}; api at ${new Date().toISOString()}: ${api}; failed: ${failed.join(', ')}; errors: ${errors.join(', ')}`;
        };
        const explained = async (what: string, wait: Promise<unknown>): Promise<void> => {
          await wait.catch(async (err: unknown) => {
            throw new Error(`${what}: ${String(err)}\n${await state()}`);
          });
        };
        await explained('three of this fleet moving on the map', markers.nth(2).waitFor());
        await explained('the stream live', page.getByRole('status').filter({ hasText: 'live' }).waitFor());
        const moving = await markers.first().getAttribute('data-vehicle');
        const marker = page.locator(`#map g[data-vehicle="${moving}"]`);
        const first = await marker.getAttribute('transform');
        await expect
          .poll(async () => marker.getAttribute('transform'), { timeout: HANG_MS, interval: 500 })
          .not.toBe(first);
        // The list: a row per vehicle, speeds in km/h, selectable from the keyboard.
        const rows = page.getByRole('table', { name: /Vehicles/ }).locator('tbody tr');
        // The first test's six vehicles and these five.
        await explained(
          'a row per vehicle',
          expect.poll(async () => rows.count(), { timeout: HANG_MS }).toBe(11),
        );
        await expect
          .poll(async () => (await rows.allTextContents()).join('\n'), { timeout: HANG_MS })
          .toMatch(/moving\s*[1-9]\d* km\/h/);
        const row = page.locator(`tbody tr[data-vehicle="${moving}"]`);
        await row.focus();
        await page.keyboard.press('Enter');
        await page
          .getByRole('heading', { name: new RegExp(`^${moving}: speed over the last 10 minutes`) })
          .waitFor();
        await page.locator('#chart polyline.speed').waitFor();
        expect(await page.locator('#map path.trail').getAttribute('d')).toMatch(/^M[-\d.]+ [-\d.]+L/);
        await screenshot(page, 'fleet-map');
        expect([...origins]).toEqual([gateway]);
        expect(failed).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await browser?.close();
        stopDriving.abort();
        await driving.catch(() => undefined);
      }
    },
    PAGE_TEST_MS,
  );
});
