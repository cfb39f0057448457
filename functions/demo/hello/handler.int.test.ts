import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CloudEvent, MongoDocumentStore } from '../../runtime/src/index.ts';
import { receive } from '../../runtime/src/index.ts';
import {
  postBinary,
  readExample,
  type StartedFunction,
  startInProcess,
  waitFor,
} from '../../runtime/test/support.ts';

const EXAMPLE = readExample(join(import.meta.dirname, 'examples/dev.sluice.hello.requested.v1.json'));

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

async function answer(res: Response): Promise<Answer> {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name !== 'date') headers[name] = value;
  });
  return { status: res.status, headers, body: await res.text() };
}

describe('hello on the runtime, with MongoDB (FerretDB unless MONGODB_URL)', () => {
  let fn: StartedFunction;
  let store: MongoDocumentStore;

  beforeAll(async () => {
    fn = await startInProcess(import.meta.dirname, {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: `hello_${process.pid}_${Date.now()}`,
      K_SERVICE: 'hello',
      K_REVISION: 'hello-00001',
    });
    store = fn.running.store as MongoDocumentStore;
  });
  afterAll(async () => {
    await store?.db.dropDatabase();
    await fn?.running.stop();
  });

  const greetings = async (name: string): Promise<number | undefined> =>
    (await store.collection<{ _id: string; count: number }>('greetings').findOne({ _id: name }))?.count;

  it('answers the binary-mode example with a greeting event in binary mode', async () => {
    const res = await postBinary(fn.url, { ...EXAMPLE, id: `int-${Date.now()}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('ce-type')).toBe('dev.sluice.hello.greeted.v1');
    expect(res.headers.get('ce-source')).toBe('/sluice/functions/hello');
    expect(res.headers.get('ce-specversion')).toBe('1.0');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({ greeting: 'Hello, Ada!' });
  });

  it('runs the side effect once when the same (source, id) is delivered twice', async () => {
    const event: CloudEvent = { ...EXAMPLE, id: 'redelivered-1', data: { name: 'Twice' } };
    const first = await answer(await postBinary(fn.url, event));
    const second = await answer(await postBinary(fn.url, event));
    expect(first.status).toBe(200);
    expect(second).toEqual(first);
    expect(await greetings('Twice')).toBe(1);
    // A new id is a new event: the side effect runs again.
    expect((await postBinary(fn.url, { ...event, id: 'redelivered-2' })).status).toBe(200);
    expect(await greetings('Twice')).toBe(2);
  });

  it('runs the side effect once under 10 concurrent deliveries; every sender ends with the same answer', async () => {
    const event: CloudEvent = { ...EXAMPLE, id: 'concurrent-1', data: { name: 'Crowd' } };
    const statuses: number[] = [];
    // Each sender behaves like the broker: a 503 (in progress elsewhere) is retried until it is not.
    const sender = () =>
      waitFor('a final answer', async () => {
        const a = await answer(await postBinary(fn.url, event));
        statuses.push(a.status);
        return a.status === 503 ? undefined : a;
      });
    const finals = await Promise.all(Array.from({ length: 10 }, sender));
    expect(new Set(statuses.filter((s) => s !== 200 && s !== 503))).toEqual(new Set());
    for (const final of finals) expect(final).toEqual(finals[0]);
    expect(finals[0]?.status).toBe(200);
    const reply = receive(finals[0]?.headers ?? {}, Buffer.from(finals[0]?.body ?? ''));
    expect(reply.event.extensions.causationid).toBe('concurrent-1');
    expect(await greetings('Crowd')).toBe(1);
    // One chain: the claim that ran and its completion (docs/runtime.md, "Fencing").
    const records = await store
      .collection('sluice_idempotency')
      .find({ eventId: 'concurrent-1' }, { sort: { generation: 1 } });
    expect(records.map((r) => r.status)).toEqual(['IN_PROGRESS', 'COMPLETED']);
  });
});
