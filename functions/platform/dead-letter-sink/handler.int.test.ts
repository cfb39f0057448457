import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  listDeadLetters,
  type RunningBroker,
  replayDeadLetter,
  startBroker,
} from '../../../eventing/src/index.ts';
import { contractManifests, quietLog } from '../../../eventing/src/testing/manifests.ts';
import {
  postEvent,
  startTestSink,
  type TestSink,
  testEvent,
  waitFor,
} from '../../../eventing/src/testing/test-sink.ts';
import type { MongoDocumentStore } from '../../runtime/src/index.ts';
import { type StartedFunction, startInProcess } from '../../runtime/test/support.ts';

describe('dead-letter-sink behind the broker, with MongoDB (FerretDB unless MONGODB_URL)', () => {
  let sink: StartedFunction;
  let store: MongoDocumentStore;
  let broker: RunningBroker;
  let subscriber: TestSink;
  let healthy = false;

  beforeAll(async () => {
    sink = await startInProcess(import.meta.dirname, {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: `dls_${process.pid}_${Date.now()}`,
      K_SERVICE: 'dead-letter-sink',
    });
    store = sink.running.store as MongoDocumentStore;
    // Failing for good the way the broker dead-letters on every data plane: retries used up (a 422 the
    // upstream dispatcher acks; functions keep those themselves, keep-rejected.ts).
    subscriber = await startTestSink(() =>
      healthy ? { status: 204 } : { status: 503, body: '{"detail":"store down"}' },
    );
    broker = await startBroker({
      manifests: contractManifests([{ name: 'processor', filter: { type: 'dev.test.dls' } }]),
      resolveSubscriber: (ref) => (ref.name === 'dead-letter-sink' ? `${sink.url}/` : subscriber.url),
      replyTypesOf: async () => undefined,
      port: 0,
      log: quietLog,
    });
  });
  afterAll(async () => {
    await broker?.stop();
    await subscriber?.close();
    await store?.db.dropDatabase();
    await sink?.running.stop();
  });

  it('stores a dead letter, lists it, and replays it without the error extensions', async () => {
    const exact = Buffer.from('{"n":9007199254740993,"price":1.10}');
    const event = testEvent({ type: 'dev.test.dls', extensions: { tenant: 'acme' }, dataBytes: exact });
    expect(await postEvent(broker.url, event)).toBe(202);
    let rows = await listDeadLetters(store);
    await waitForAsync(async () => {
      rows = await listDeadLetters(store);
      return rows.some((d) => d.eventId === event.id);
    });
    const stored = rows.find((d) => d.eventId === event.id);
    expect(stored).toMatchObject({
      code: 503,
      reason: '', // upstream never sets knativeerrordata
      dest: subscriber.url,
      count: 1,
      extensions: { tenant: 'acme' },
    });

    const failedAttempts = subscriber.attemptsOf(event.id).length; // 1 + retry 2
    healthy = true;
    await replayDeadLetter(store, broker.url, stored as NonNullable<typeof stored>);
    await waitFor('the replayed event', () => subscriber.attemptsOf(event.id).length === failedAttempts + 1);
    const replayed = subscriber.attemptsOf(event.id)[failedAttempts]?.event;
    expect(replayed?.extensions).toEqual({ tenant: 'acme' });
    expect(replayed?.data).toEqual(JSON.parse(exact.toString()));
    expect(subscriber.attemptsOf(event.id)[1]?.body.toString()).toBe(exact.toString()); // byte for byte
    expect((await listDeadLetters(store)).some((d) => d.eventId === event.id)).toBe(false);
    expect((await listDeadLetters(store, { all: true })).find((d) => d.eventId === event.id)?.status).toBe(
      'replayed',
    );
  });
});

async function waitForAsync(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
