import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Context, Handler, ReplyEvent, SluiceFunction } from '../../runtime/src/index.ts';
import { loadSchemas, MemoryDocumentStore, PermanentError } from '../../runtime/src/index.ts';
import { readExample } from '../../runtime/test/support.ts';
import { accepts, emits, GREETED, handle, init, REQUESTED } from './handler.ts';

const EXAMPLES = join(import.meta.dirname, 'examples');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function stubContext(store = new MemoryDocumentStore()): Context {
  return {
    log: silent,
    store,
    functionName: 'hello',
    signal: new AbortController().signal,
    traceId: '0'.repeat(32),
  };
}

describe('hello handler', () => {
  it('has the shape the runtime loads', () => {
    expectTypeOf(handle).toEqualTypeOf<Handler>();
    expectTypeOf(init).toEqualTypeOf<SluiceFunction['init']>();
    expectTypeOf(accepts).toExtend<SluiceFunction['accepts']>();
    expectTypeOf(emits).toExtend<NonNullable<SluiceFunction['emits']>>();
    expect(accepts).toEqual([REQUESTED]);
    expect(emits).toEqual([GREETED]);
  });

  const accepted = readdirSync(EXAMPLES)
    .filter((f) => (accepts as readonly string[]).includes(f.replace(/\.json$/, '')))
    .map((f) => [f, readExample(join(EXAMPLES, f))] as const);

  it('has an example for every accepted type', () => {
    expect(accepted.map(([, e]) => e.type).sort()).toEqual([...accepts].sort());
  });

  it.each(accepted)('answers the example %s with a greeting that passes its schema', async (_file, event) => {
    const schemas = await loadSchemas(join(import.meta.dirname, 'schemas'));
    const reply = (await handle(event, stubContext())) as ReplyEvent;
    expect(reply.type).toBe(GREETED);
    expect(reply.subject).toBe((event.data as { name: string }).name);
    expect(schemas.check(GREETED, reply.data)).toEqual([]);
  });

  it('counts greetings per name in the store', async () => {
    const store = new MemoryDocumentStore();
    const event = accepted[0]?.[1];
    if (event === undefined) throw new Error('no example');
    await init?.({ log: silent, store, functionName: 'hello' });
    await handle(event, stubContext(store));
    const second = (await handle(event, stubContext(store))) as ReplyEvent<{ timesGreeted: number }>;
    expect(second.data?.timesGreeted).toBe(2);
    expect(await store.collection('greetings').findOne({ _id: 'Ada' })).toEqual({ _id: 'Ada', count: 2 });
  });

  it.each([
    ['fr', 'Bonjour, Zoë!'],
    ['de', 'Hallo, Zoë!'],
    [undefined, 'Hello, Zoë!'],
  ])('greets in %s', async (language, greeting) => {
    const base = accepted[0]?.[1];
    if (base === undefined) throw new Error('no example');
    const reply = (await handle({ ...base, data: { name: 'Zoë', language } }, stubContext())) as ReplyEvent<{
      greeting: string;
    }>;
    expect(reply.data?.greeting).toBe(greeting);
  });

  it('refuses to greet nobody with a PermanentError (422, not retried)', async () => {
    const base = accepted[0]?.[1];
    if (base === undefined) throw new Error('no example');
    await expect(handle({ ...base, data: { name: ' Nobody ' } }, stubContext())).rejects.toBeInstanceOf(
      PermanentError,
    );
  });
});
