import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { FIXTURES, postBinary, spawnFunctionOnFreePort, waitFor } from '../test/support.ts';
import type { CloudEvent } from './types.ts';

const TYPE = 'dev.sluice.test.work.requested.v1';
const event = (id: string, n: number): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/tests/sigterm',
  type: TYPE,
  datacontenttype: 'application/json',
  data: { n },
  extensions: {},
});

type Outcome = { id: string; status: number } | { id: string; error: string };

describe('main.ts under SIGTERM', () => {
  const dbName = `sigterm_${process.pid}_${Date.now()}`;
  const client = new MongoClient(inject('mongodbUrl'));
  const db = client.db(dbName);
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  it('drains in-flight events, refuses new ones retriably, loses no accepted event and exits 0', async () => {
    const fn = await spawnFunctionOnFreePort(join(FIXTURES, 'slow-recorder'), {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: dbName,
      K_SERVICE: 'slow-recorder',
      LOG_LEVEL: 'info',
    });
    await waitFor('readiness', async () => (await fetch(`${fn.url}/health/readiness`)).status === 200);
    const work = db.collection<{ _id: string; started?: boolean; count?: number }>('work');

    const send = async (id: string, n: number): Promise<Outcome> => {
      try {
        const res = await postBinary(fn.url, event(id, n));
        await res.arrayBuffer();
        return { id, status: res.status };
      } catch (err) {
        return { id, error: String((err as Error).cause ?? err) };
      }
    };

    // Wave A: 25 events, held in their handlers until "go", so they are surely in flight at SIGTERM.
    const waveA = Array.from({ length: 25 }, (_, i) => send(`a-${i}`, i));
    await waitFor('wave A in flight', async () => (await work.countDocuments({ started: true })) === 25);
    fn.child.kill('SIGTERM');
    // Wave B: 25 more right after the signal; each is either served in full or refused.
    const waveB = Array.from({ length: 25 }, (_, i) => send(`b-${i}`, i));
    await waitFor('the readiness probe to fail', async () => {
      try {
        return (await fetch(`${fn.url}/health/readiness`)).status === 503;
      } catch {
        return true; // already closed
      }
    });
    await db.collection('control').insertOne({ _id: 'go' } as never);

    const a = await Promise.all(waveA);
    const b = await Promise.all(waveB);
    expect(await fn.exited).toBe(0);

    // Every event accepted before SIGTERM was finished and answered, not dropped.
    expect(a.map((o) => ('status' in o ? o.status : o.error))).toEqual(Array(25).fill(204));
    // After SIGTERM: served in full (2xx) or refused so that the broker retries.
    for (const o of b) {
      if ('status' in o) expect([204, 503]).toContain(o.status);
      else expect(o.error).toMatch(/ECONNREFUSED|ECONNRESET|other side closed|socket/i);
    }
    // Every 2xx was recorded exactly once; nothing ran twice.
    const docs = await work.find({}).toArray();
    const counts = new Map(docs.map((d) => [d._id, d.count ?? 0]));
    for (const o of [...a, ...b]) {
      if ('status' in o && o.status === 204) expect(counts.get(o.id), o.id).toBe(1);
    }
    for (const d of docs) expect(d.count ?? 0).toBeLessThanOrEqual(1);

    const log = fn.output();
    expect(log).toContain('received SIGTERM: draining in-flight events');
    expect(log).toContain('function stopped');
  });
});
