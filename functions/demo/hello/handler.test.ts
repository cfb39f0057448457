import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { EventOf, SluiceFunction } from '../../runtime/src/index.ts';
import { loadSchemas, MemoryDocumentStore, PermanentError } from '../../runtime/src/index.ts';
import { readExample, stubContext } from '../../runtime/test/support.ts';
import type { Events, Handle, HelloGreetedV1 } from './events.gen.ts';
import { accepts, emits, GREETED, handle, init, REQUESTED } from './handler.ts';

type Requested = EventOf<Events, typeof REQUESTED>;

const EXAMPLES = join(import.meta.dirname, 'examples');

describe('hello handler', () => {
  it('has the shape the runtime loads', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts, typeof emits>>();
    expectTypeOf(init).toEqualTypeOf<SluiceFunction['init']>();
    expectTypeOf(accepts).toExtend<SluiceFunction['accepts']>();
    expectTypeOf(emits).toExtend<NonNullable<SluiceFunction['emits']>>();
    expect(accepts).toEqual([REQUESTED]);
    expect(emits).toEqual([GREETED]);
  });

  const accepted = readdirSync(EXAMPLES)
    .filter((f) => (accepts as readonly string[]).includes(f.replace(/\.json$/, '')))
    .map((f) => [f, readExample<Requested>(join(EXAMPLES, f))] as const);

  it('is typed by its schemas: a field they do not define, or a reply that does not match, does not compile', () => {
    const reads: Handle<typeof accepts, typeof emits> = (event) => {
      expectTypeOf(event.data).toEqualTypeOf<Events[typeof REQUESTED]>();
      // @ts-expect-error -- `nickname` is not in schemas/dev.sluice.hello.requested.v1.json
      return event.data.nickname;
    };
    const wrongData: Handle<typeof accepts, typeof emits> = () =>
      // @ts-expect-error -- `timesGreeted` is an integer (schemas/dev.sluice.hello.greeted.v1.json)
      ({ type: GREETED, data: { greeting: 'Hi', timesGreeted: 'once' } });
    const wrongType: Handle<typeof accepts, typeof emits> = (event) =>
      // @ts-expect-error -- a reply is of a type in `emits`
      ({ type: REQUESTED, data: event.data });
    expect([reads, wrongData, wrongType]).toHaveLength(3);
  });

  it('has an example for every accepted type', () => {
    expect(accepted.map(([, e]) => e.type).sort()).toEqual([...accepts].sort());
  });

  it.each(accepted)('answers the example %s with a greeting that passes its schema', async (_file, event) => {
    const schemas = await loadSchemas(join(import.meta.dirname, 'schemas'));
    const reply = await handle(event, stubContext(new MemoryDocumentStore()));
    expect(reply?.type).toBe(GREETED);
    expect(reply?.subject).toBe(event.data.name);
    expect(schemas.check(GREETED, reply?.data)).toEqual([]);
  });

  it('counts greetings per name in the store', async () => {
    const store = new MemoryDocumentStore();
    const event = accepted[0]?.[1];
    if (event === undefined) throw new Error('no example');
    await init?.({ log: stubContext(store).log, store, functionName: 'hello' });
    await handle(event, stubContext(store));
    const second = await handle(event, stubContext(store));
    expectTypeOf(second?.data).toEqualTypeOf<HelloGreetedV1 | undefined>();
    expect(second?.data?.timesGreeted).toBe(2);
    expect(await store.collection('greetings').findOne({ _id: 'Ada' })).toEqual({ _id: 'Ada', count: 2 });
  });

  it.each([
    ['fr', 'Bonjour, Zoë!'],
    ['de', 'Hallo, Zoë!'],
    [undefined, 'Hello, Zoë!'],
  ] as const)('greets in %s', async (language, greeting) => {
    const base = accepted[0]?.[1];
    if (base === undefined) throw new Error('no example');
    const data = language === undefined ? { name: 'Zoë' } : { name: 'Zoë', language };
    const reply = await handle({ ...base, data }, stubContext(new MemoryDocumentStore()));
    expect(reply?.data?.greeting).toBe(greeting);
  });

  it('refuses to greet nobody with a PermanentError (422, not retried)', async () => {
    const base = accepted[0]?.[1];
    if (base === undefined) throw new Error('no example');
    await expect(
      handle({ ...base, data: { name: ' Nobody ' } }, stubContext(new MemoryDocumentStore())),
    ).rejects.toBeInstanceOf(PermanentError);
  });
});
