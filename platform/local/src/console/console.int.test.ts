/**
 * The event console against the real local platform (console-platform.ts): what the broker and serving did, as the
 * API, the server-sent events and `make lineage` tell it; the dead letter listed and replayed with make replay's
 * code; the recording kept in a real MongoDB wire-protocol server (FerretDB) across a restart.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type DocumentStore, openStore } from '../../../../functions/runtime/src/index.ts';
import { postEvent, until } from '../testing/http-events.ts';
import type { LineageNode } from './lineage.ts';
import { fetchLineage } from './lineage-cli.ts';
import { CONSOLE_COLLECTION, EventRecorder } from './recorder.ts';
import type { AcceptedRecord, DeadLetterView, FunctionView, RecorderStats, TriggerView } from './records.ts';
import {
  type ConsolePlatform,
  FLAKY_TYPE,
  HELLO_TYPE,
  startConsolePlatform,
} from './testing/console-platform.ts';

const run = `${process.pid}-${Date.now()}`;

describe('the event console on the local platform', () => {
  let cp: ConsolePlatform;
  const helloId = `hello-${run}`;
  const flakyId = `flaky-${run}`;

  beforeAll(async () => {
    cp = await startConsolePlatform();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  const lineage = (id: string) => cp.api<{ root: LineageNode }>(`/v1/lineage/${encodeURIComponent(id)}`);

  it('streams every record as server-sent events, from the seq the page last saw', async () => {
    const frames: string[] = [];
    const controller = new AbortController();
    const res = await fetch(`${cp.console.url}/v1/stream`, {
      headers: { authorization: `Bearer ${cp.console.token}`, 'last-event-id': '0' },
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body?.getReader();
    const reading = (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const chunk = await reader?.read().catch(() => undefined);
        if (chunk === undefined || chunk.done) return;
        frames.push(decoder.decode(chunk.value));
      }
    })();
    expect(
      (await postEvent(cp.platform.broker?.url ?? '', HELLO_TYPE, { name: 'Ada' }, helloId)).status,
    ).toBe(202);
    const text = await until('the accepted event on the stream', () => {
      const all = frames.join('');
      return all.includes(`"eventId":"${helloId}"`) && all.includes('event: delivery') ? all : undefined;
    });
    expect(text).toMatch(/^retry: 2000\n\n/);
    expect(text).toMatch(new RegExp(`id: \\d+\\nevent: accepted\\ndata: \\{[^\\n]*"eventId":"${helloId}"`));
    controller.abort();
    await reading;
  });

  it('shows a reply path: the delivery to hello, its attempt, and the reply it caused', async () => {
    const { body } = await until('hello delivered and its reply accepted', async () => {
      const r = await lineage(helloId);
      const d = r.body.root?.deliveries[0];
      return r.status === 200 && d?.replyPath !== undefined ? r : undefined;
    });
    const root = body.root;
    expect(root).toMatchObject({ eventId: helloId, type: HELLO_TYPE, arrivals: [{ via: 'ingress' }] });
    const d = root.deliveries[0];
    expect(d).toMatchObject({ trigger: 'hello', subscriber: 'hello', outcome: 'delivered', status: 200 });
    expect(d?.attempts).toHaveLength(1);
    expect(d?.attempts[0]?.durationMs).toBeGreaterThan(0);
    expect(d?.replyPath).toMatchObject({
      type: 'dev.sluice.hello.greeted.v1',
      causationId: helloId,
      correlationId: helloId,
      arrivals: [{ via: 'ingress' }],
    });
    const text = await fetchLineage(cp.console, helloId);
    expect(text.split('\n')[0]).toMatch(
      new RegExp(`^${HELLO_TYPE.replaceAll('.', '\\.')} ${helloId} \\(source /tests/local-platform;`),
    );
    expect(text).toContain('trigger hello → hello: delivered: 200 after 1 attempt');
    expect(text).toMatch(/└─ reply dev\.sluice\.hello\.greeted\.v1 /);
  });

  it('shows a retry path: every attempt with its wait, then the dead letter with knativeerrorcode', async () => {
    expect((await postEvent(cp.platform.broker?.url ?? '', FLAKY_TYPE, { n: 1 }, flakyId)).status).toBe(202);
    const { body } = await until('the flaky event dead-lettered', async () => {
      const r = await lineage(flakyId);
      return r.status === 200 && r.body.root.deliveries.length > 0 ? r : undefined;
    });
    const d = body.root.deliveries[0];
    expect(d).toMatchObject({
      trigger: 'flaky',
      outcome: 'dead-lettered',
      status: 500,
      deadLetter: { code: 500 },
    });
    expect(d?.deadLetter?.sink).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    // retry 2, linear 50 ms: waits of 50 and 100 ms before the 2nd and 3rd attempts.
    expect(d?.attempts.map((a) => [a.status, a.waitedMs])).toEqual([
      [500, 0],
      [500, 50],
      [500, 100],
    ]);
    expect(cp.failing.received).toHaveLength(3);
    expect(await fetchLineage(cp.console, flakyId)).toContain('attempt 3: 500 in ');
  });

  it('lists the dead letter where make dlq finds it and replays it with make replay’s code: a new path', async () => {
    const letter = await until('the dead letter stored by dead-letter-sink', async () => {
      const r = await cp.api<{ deadLetters: DeadLetterView[] }>('/v1/dead-letters');
      return r.body.deadLetters.find((d) => d.eventId === flakyId);
    });
    expect(letter).toMatchObject({ type: FLAKY_TYPE, code: 500, status: 'dead-lettered', count: 1 });
    const replay = await cp.api<{ results: unknown[] }>('/v1/dead-letters/replay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [letter.id] }),
    });
    expect(replay.body.results).toEqual([{ id: letter.id, replayed: true }]);
    const again = await until('the replayed event’s second path', async () => {
      const r = await lineage(flakyId);
      return r.body.root.deliveries.length === 2 ? r.body.root : undefined;
    });
    expect(again.arrivals).toHaveLength(2);
    expect(cp.failing.received.length).toBeGreaterThanOrEqual(6);
    const listed = await until('the dead letter counted twice', async () => {
      const r = await cp.api<{ deadLetters: DeadLetterView[] }>('/v1/dead-letters');
      return r.body.deadLetters.find((d) => d.eventId === flakyId && d.count === 2);
    });
    expect(listed.status).toBe('dead-lettered');
    const bad = await cp.api<{ detail: string }>('/v1/dead-letters/replay', {
      method: 'POST',
      body: '{"ids":[]}',
    });
    expect(bad.status).toBe(400);
  });

  it('answers the functions, triggers, events and stats views', async () => {
    const fns = (await cp.api<{ functions: FunctionView[] }>('/v1/functions')).body.functions;
    expect(fns.find((f) => f.name === 'hello')).toMatchObject({ ready: 1, deliveries: 1, errors: 0 });
    const triggers = (await cp.api<{ triggers: TriggerView[] }>('/v1/triggers')).body.triggers;
    expect(triggers.find((t) => t.name === 'flaky')).toMatchObject({
      filter: { type: FLAKY_TYPE },
      depth: 0,
      replicas: 1,
      deadLettered: 2,
    });
    const events = (await cp.api<{ events: AcceptedRecord[] }>(`/v1/events?type=flaky`)).body.events;
    expect(events.map((e) => e.eventId)).toEqual([flakyId, flakyId]);
    const scale = cp.platform.console?.recorder
      .records()
      .filter((r) => r.kind === 'scale' && r.service === 'hello');
    expect(scale?.some((r) => r.kind === 'scale' && r.ready === 1)).toBe(true);
    const stats = (await cp.api<RecorderStats>('/v1/stats')).body;
    expect(stats).toMatchObject({ store: 'memory', dropped: 0 });
    expect(stats.total).toBeGreaterThan(5);
  });

  it('pauses a Trigger (its queue keeps the events) and resumes it, as the Triggers view does', async () => {
    const trigger = async () =>
      (await cp.api<{ triggers: TriggerView[] }>('/v1/triggers')).body.triggers.find(
        (t) => t.name === 'flaky',
      );
    expect((await trigger())?.paused).toBe(false);
    const paused = await cp.api<{ paused: boolean }>('/v1/triggers/flaky/pause', { method: 'POST' });
    expect(paused).toEqual({ status: 200, body: { trigger: 'flaky', paused: true } });
    expect((await trigger())?.paused).toBe(true);
    const before = cp.failing.received.length;
    const held = `held-${run}`;
    expect((await postEvent(cp.platform.broker?.url ?? '', FLAKY_TYPE, { n: 2 }, held)).status).toBe(202);
    await until('the event waiting in the paused trigger’s queue', async () =>
      (await trigger())?.depth === 1 ? true : undefined,
    );
    expect(cp.failing.received).toHaveLength(before);
    await cp.api('/v1/triggers/flaky/resume', { method: 'POST' });
    await until('the held event delivered after the resume', async () => {
      const r = await lineage(held);
      return r.status === 200 && r.body.root.deliveries.length === 1 ? true : undefined;
    });
    expect((await trigger())?.paused).toBe(false);
    expect((await cp.api('/v1/triggers/no-such/pause', { method: 'POST' })).status).toBe(404);
  });

  it('lets nobody in without the token; the printed URL trades it for a same-site cookie', async () => {
    expect((await fetch(`${cp.console.url}/v1/stats`)).status).toBe(401);
    const entry = await fetch(cp.console.pageUrl, { redirect: 'manual' });
    expect(entry.status).toBe(303);
    expect(entry.headers.get('location')).toBe('/console/');
    const cookie = entry.headers.get('set-cookie') ?? '';
    const port = new URL(cp.console.url).port;
    // Scoped to /console/: a browser sends a 127.0.0.1 cookie to every port, the gateway's included.
    expect(cookie).toMatch(
      new RegExp(`^sluice_console_${port}=[\\w-]+; HttpOnly; SameSite=Strict; Path=/console/$`),
    );
    const jar = cookie.split(';')[0] ?? '';
    expect((await fetch(`${cp.console.url}/console/v1/stats`, { headers: { cookie: jar } })).status).toBe(
      200,
    );
    // A POST carried by the cookie must come from the console's own origin.
    const forged = await fetch(`${cp.console.url}/console/v1/dead-letters/replay`, {
      method: 'POST',
      headers: { cookie: jar, origin: 'http://evil.example' },
      body: '{"ids":["x"]}',
    });
    expect(forged.status).toBe(403);
    expect((await fetch(`${cp.console.url}/console/?token=wrong`)).status).toBe(401);
    // Another Host (DNS rebinding) is refused before anything else.
    const status = await new Promise<number>((done, fail) => {
      const req = request(`${cp.console.url}/v1/stats`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        done(res.statusCode ?? 0);
      });
      req.on('error', fail);
      req.end();
    });
    expect(status).toBe(421);
  });
});

describe('the recording in MongoDB', () => {
  let store: DocumentStore;
  const db = `console_${run.replace(/-/g, '_')}`;
  beforeAll(async () => {
    store = (await openStore({ mongodbUrl: inject('mongodbUrl'), mongodbDb: db })) as DocumentStore;
  });
  afterAll(async () => {
    await (store as unknown as { db?: { dropDatabase(): Promise<unknown> } }).db?.dropDatabase();
    await store?.close();
  });

  it('survives a restart: the last `capacity` records come back, and numbering goes on', async () => {
    const first = new EventRecorder({ capacity: 3, store });
    await first.restore();
    const record = (id: string): AcceptedRecord => ({
      kind: 'accepted',
      time: new Date().toISOString(),
      via: 'ingress',
      eventId: id,
      eventType: 'dev.sluice.test.v1',
      eventSource: '/t',
      correlationId: id,
      subject: 'keys.with.$dots',
    });
    for (const id of ['a', 'b', 'c', 'd']) first.add(record(id));
    await first.flush();
    // One document per batch written, not one per record.
    expect(await store.collection(CONSOLE_COLLECTION).countDocuments({})).toBe(1);
    for (const id of ['e', 'f']) first.add(record(id));
    await first.flush();
    for (const id of ['g', 'h']) first.add(record(id));
    await first.flush();
    expect(first.stats()).toMatchObject({ store: 'mongodb', pending: 0, unsaved: 0 });
    // The batch of a–d (seq ≤ 4) fell out of the last 3 records (6, 7, 8) and was pruned; e–f holds 6.
    expect(await store.collection(CONSOLE_COLLECTION).countDocuments({})).toBe(2);
    const second = new EventRecorder({ capacity: 3, store });
    expect(await second.restore()).toBe(3);
    expect(second.records().map((r) => [r.seq, (r as AcceptedRecord).eventId])).toEqual([
      [6, 'f'],
      [7, 'g'],
      [8, 'h'],
    ]);
    expect(second.add({ ...(second.records()[0] as AcceptedRecord), eventId: 'i' }).seq).toBe(9);
    await second.flush();
  });
});

describe('make dev with MONGODB_URL', () => {
  const db = `console_restart_${run.replace(/-/g, '_')}`;
  afterAll(async () => {
    const store = (await openStore({ mongodbUrl: inject('mongodbUrl'), mongodbDb: db })) as DocumentStore;
    await (store as unknown as { db?: { dropDatabase(): Promise<unknown> } }).db?.dropDatabase();
    await store.close();
  });

  it('shows an event’s path again after make dev restarted', async () => {
    const env = { MONGODB_URL: inject('mongodbUrl'), MONGODB_DB: db };
    const id = `kept-${run}`;
    const first = await startConsolePlatform(env);
    try {
      expect(
        (await postEvent(first.platform.broker?.url ?? '', HELLO_TYPE, { name: 'Ada' }, id)).status,
      ).toBe(202);
      await until('hello delivered', async () => {
        const r = await first.api<{ root: LineageNode }>(`/v1/lineage/${id}`);
        return r.status === 200 && r.body.root.deliveries.length === 1 ? true : undefined;
      });
    } finally {
      await first.stop();
    }
    const second = await startConsolePlatform(env);
    try {
      const r = await second.api<{ root: LineageNode }>(`/v1/lineage/${id}`);
      expect(r.status).toBe(200);
      expect(r.body.root.deliveries[0]).toMatchObject({
        trigger: 'hello',
        outcome: 'delivered',
        status: 200,
      });
      expect((await second.api<RecorderStats>('/v1/stats')).body.store).toBe('mongodb');
    } finally {
      await second.stop();
    }
  });
});
