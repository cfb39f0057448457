import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuplicateKeyError } from '../../errors.ts';
import { describeDocumentStoreContract } from '../../ports/document-store.contract.ts';
import type { Doc, Filter, FindOptions } from '../../ports/document-store.ts';
import { MemoryDocumentStore } from './memory-document-store.ts';

describeDocumentStoreContract('memory', async () => ({
  store: new MemoryDocumentStore(),
  close: async () => {},
}));

describe('MemoryDocumentStore', () => {
  it('keeps collections apart and by name', async () => {
    const store = new MemoryDocumentStore();
    await store.collection('a').insertOne({ _id: 1 });
    expect(await store.collection('a').countDocuments({})).toBe(1);
    expect(await store.collection('b').countDocuments({})).toBe(0);
  });

  it('tells numeric and string ids apart', async () => {
    const c = new MemoryDocumentStore().collection('c');
    await c.insertOne({ _id: 1, v: 'number' });
    await c.insertOne({ _id: '1', v: 'string' });
    expect((await c.findOne({ _id: 1 }))?.v).toBe('number');
    expect((await c.findOne({ _id: '1' }))?.v).toBe('string');
  });

  it('tells apart a string id from the JSON of another id, and a string that starts with NUL', async () => {
    const c = new MemoryDocumentStore().collection('c');
    const ids = [1, '1', '\u00001', '\u0000"\u00001"', { a: 1 }, '{"a":1}', '\u0000{"a":1}'];
    for (const [i, _id] of ids.entries()) await c.insertOne({ _id, i });
    for (const [i, _id] of ids.entries()) expect((await c.findOne({ _id }))?.i).toBe(i);
    expect(await c.countDocuments({})).toBe(ids.length);
  });

  it('stores Dates that no caller can change: not the one given, not one read back', async () => {
    const c = new MemoryDocumentStore().collection('c');
    const at = new Date('2026-01-01T00:00:00Z');
    await c.insertOne({ _id: 'a', at });
    await c.insertOne({ _id: 'b', at: new Date(at) }); // the same instant, stored once
    at.setTime(0);
    const read = await c.findOne({ _id: 'a' });
    if (!(read?.at instanceof Date)) throw new Error('no Date read back');
    read.at.setTime(1);
    expect(await c.findOne({ _id: 'a' })).toEqual({ _id: 'a', at: new Date('2026-01-01T00:00:00Z') });
    expect(await c.findOne({ _id: 'b' })).toEqual({ _id: 'b', at: new Date('2026-01-01T00:00:00Z') });
    expect(await c.countDocuments({ at: new Date('2026-01-01T00:00:00Z') })).toBe(2);
  });

  it('answers ping and close at once (nothing to reach)', async () => {
    const store = new MemoryDocumentStore();
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.close()).resolves.toBeUndefined();
    expect(store.kind).toBe('memory');
  });
});

describe("MemoryDocumentStore and the idempotency guard's records (stored packed per chain)", () => {
  const T0 = new Date('2026-01-01T00:00:00Z');
  const EXPIRES = new Date('2026-01-02T00:00:00Z');
  /** Generation `g` of key `k`, in the shape the guard writes. */
  const record = (k: string, g: number, fields: Record<string, unknown>) => ({
    _id: g === 0 ? k : `${k}/${g}`,
    key: k,
    generation: g,
    functionName: 'fn',
    eventSource: '/s',
    eventId: `id-${k}`,
    expiresAt: EXPIRES,
    ...fields,
  });
  const claim = (k: string, g: number) => record(k, g, { status: 'IN_PROGRESS', lockedUntil: T0 });
  const done = (k: string, g: number, outcome: Record<string, unknown> = { status: 204 }) =>
    record(k, g, { status: 'COMPLETED', outcome });
  const released = (k: string, g: number) => record(k, g, { status: 'RELEASED' });

  it('reads back every generation as the document written, by _id and by query', async () => {
    const c = new MemoryDocumentStore().collection('records');
    const chain = [
      claim('k', 0),
      released('k', 1),
      claim('k', 2),
      done('k', 3, { status: 200, reply: { id: 'r' } }),
    ];
    for (const doc of chain) await c.insertOne(doc);
    await c.insertOne(done('k2', 0)); // a record the guard never writes first: stored as a document
    for (const doc of chain) expect(await c.findOne({ _id: doc._id })).toEqual(doc);
    expect(await c.find({ key: 'k' }, { sort: { generation: 1 } })).toEqual(chain);
    expect(await c.findOne({ key: 'k', generation: 3 })).toEqual(chain[3]);
    expect(await c.countDocuments({})).toBe(5);
    expect(await c.findOne({ _id: 'k/4' })).toBeNull();
    expect(await c.findOne({ _id: 'k/01' })).toBeNull();
  });

  it('keeps a record with one field more, or one of the guard fields present as undefined, as written', async () => {
    const c = new MemoryDocumentStore().collection('records');
    await c.insertOne(claim('k', 0));
    const odd = [
      record('k', 1, { status: 'COMPLETED', outcome: { status: 204 }, note: 'x' }),
      record('k', 2, { status: 'COMPLETED', outcome: { status: 204 }, lockedUntil: undefined }),
      record('k', 3, { status: 'RELEASED', outcome: undefined }),
      record('k', 4, { status: 'RELEASED', lockedUntil: undefined, extra: 1 }),
      record('k', 5, { status: 'IN_PROGRESS', lockedUntil: T0, outcome: undefined }),
    ];
    for (const doc of odd) await c.insertOne(doc);
    for (const doc of odd) expect(await c.findOne({ _id: doc._id })).toStrictEqual(doc);
    expect(await c.countDocuments({})).toBe(6);
  });

  it('refuses a taken _id whichever form holds it', async () => {
    const c = new MemoryDocumentStore().collection('records');
    await c.insertOne(claim('k', 0));
    await expect(c.insertOne(claim('k', 0))).rejects.toBeInstanceOf(DuplicateKeyError);
    await expect(c.insertOne({ _id: 'k', other: true })).rejects.toBeInstanceOf(DuplicateKeyError);
    await c.insertOne(done('k', 1));
    await expect(c.insertOne(released('k', 1))).rejects.toBeInstanceOf(DuplicateKeyError);
    await expect(c.insertOne({ _id: 'k/1' })).rejects.toBeInstanceOf(DuplicateKeyError);
    await c.insertOne({ _id: 'j', plain: true });
    await expect(c.insertOne(claim('j', 0))).rejects.toBeInstanceOf(DuplicateKeyError);
    await c.insertOne({ _id: 'j2/1', orphan: true }); // a later generation stored first, as a document
    await c.insertOne(claim('j2', 0));
    await expect(c.insertOne(done('j2', 1))).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await c.countDocuments({})).toBe(5);
  });

  it('refuses an unsafe key in a record it would pack as in any document, and stores nothing of it', async () => {
    const c = new MemoryDocumentStore().collection('records');
    await c.insertOne(claim('k', 0));
    const unsafe = done('k', 1, { status: 200, reply: { data: { $where: 'x' } } });
    await expect(c.insertOne(unsafe)).rejects.toThrow('unsafe key "$where" at outcome.reply.data');
    await expect(c.insertOne(done('j', 0, { status: 200, reply: { 'a.b': 1 } }))).rejects.toThrow(TypeError);
    expect(await c.findOne({ _id: 'k/1' })).toBeNull();
    expect(await c.countDocuments({})).toBe(1);
    await c.insertOne(done('k', 1)); // the slot is still free
  });

  it('keeps what was stored when the caller changes what it gave or what it read', async () => {
    const c = new MemoryDocumentStore().collection('records');
    const outcome = { status: 200, reply: { id: 'r', extensions: { a: 'b' } } };
    const doc = done('k', 0, outcome);
    const bareOutcome = { status: 204 };
    const bare = done('b', 0, bareOutcome);
    await c.insertOne(doc);
    await c.insertOne(bare);
    outcome.reply.extensions.a = 'changed';
    bareOutcome.status = 500;
    const read = (await c.findOne({ _id: 'k' })) as { outcome: typeof outcome; expiresAt: Date };
    read.outcome.reply.id = 'changed';
    read.expiresAt.setTime(0);
    const readBare = (await c.findOne({ _id: 'b' })) as { outcome: { status: number } };
    readBare.outcome.status = 503;
    expect(await c.findOne({ _id: 'k' })).toEqual(
      done('k', 0, { status: 200, reply: { id: 'r', extensions: { a: 'b' } } }),
    );
    expect(await c.findOne({ _id: 'b' })).toEqual(done('b', 0));
  });

  it('purges whole chains by expiry, and counts their generations', async () => {
    const c = new MemoryDocumentStore().collection('records');
    await c.insertOne(claim('old', 0));
    await c.insertOne(done('old', 1));
    await c.insertOne(
      record('new', 0, {
        status: 'IN_PROGRESS',
        lockedUntil: T0,
        expiresAt: new Date('2026-01-03T00:00:00Z'),
      }),
    );
    await c.insertOne({ _id: 'lease', expiresAt: T0 });
    expect(await c.deleteMany({ expiresAt: { $lte: EXPIRES } })).toBe(3);
    expect((await c.find({})).map((d) => d._id)).toEqual(['new']);
    await c.insertOne(claim('old', 0)); // the key is new again
  });

  it('applies any other write to them as to documents, and stays correct after', async () => {
    const c = new MemoryDocumentStore().collection('records');
    await c.insertOne(claim('k', 0));
    await c.insertOne(done('k', 1));
    expect(await c.updateOne({ _id: 'k' }, { $set: { note: 'x' } })).toMatchObject({ matchedCount: 1 });
    expect(await c.findOne({ _id: 'k' })).toEqual({ ...claim('k', 0), note: 'x' });
    expect(await c.deleteOne({ _id: 'k/1' })).toBe(1);
    await c.insertOne(done('k', 1));
    await expect(c.insertOne(done('k', 1))).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await c.countDocuments({ key: 'k' })).toBe(2);
  });
});

describe('MemoryDocumentStore: _id ranges through its sorted ids', () => {
  /** What mingo answers over the same documents: the store's reference for every query it serves itself. */
  async function reference(docs: readonly Doc[], filter: Filter, options: FindOptions): Promise<unknown[]> {
    const { Query } = await import('mingo');
    let cursor = new Query(filter).find<Doc>([...docs]);
    if (options.sort !== undefined) cursor = cursor.sort(options.sort);
    if (options.limit !== undefined) cursor = cursor.limit(options.limit);
    return cursor.all().map((d) => d._id);
  }

  const id = fc.stringMatching(/^[a-c|~é]{0,4}$/);
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('insert' as const),
      id,
      n: fc.constantFrom<unknown>(undefined, 2, [1, 2]),
    }),
    fc.record({ kind: fc.constant('delete' as const), id }),
    fc.record({ kind: fc.constant('upsert' as const), id }),
    fc.record({ kind: fc.constant('get' as const), id, eq: fc.boolean() }),
    fc.record({
      kind: fc.constant('find' as const),
      from: fc.option(fc.tuple(id, fc.boolean()), { nil: undefined }),
      to: fc.option(fc.tuple(id, fc.boolean()), { nil: undefined }),
      order: fc.constantFrom(1 as const, -1 as const, undefined),
      limit: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      // A field beside the range (a vehicle's id beside its `_id` range), tested on each document in it.
      n: fc.constantFrom(undefined, 1, 2, { $eq: 1 }, { $exists: false }),
    }),
  );

  it('answers every range read and lookup as mingo does over the whole collection, across inserts, upserts and deletes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const c = new MemoryDocumentStore().collection('c');
        const model = new Map<string, Doc>();
        for (const o of ops) {
          if (o.kind === 'insert') {
            const d: Doc = o.n === undefined ? { _id: o.id } : { _id: o.id, n: o.n };
            if (model.has(o.id)) {
              await expect(c.insertOne(d)).rejects.toBeInstanceOf(DuplicateKeyError);
            } else {
              await c.insertOne(d);
              model.set(o.id, d);
            }
          } else if (o.kind === 'delete') {
            await c.deleteOne({ _id: o.id });
            model.delete(o.id);
          } else if (o.kind === 'upsert') {
            await c.updateOne({ _id: o.id }, { $set: { n: 1 } }, { upsert: true });
            model.set(o.id, { _id: o.id, n: 1 });
          } else if (o.kind === 'get') {
            const got = await c.findOne({ _id: o.eq ? { $eq: o.id } : o.id });
            expect(got).toEqual(model.get(o.id) ?? null);
          } else {
            const range: Record<string, string> = {};
            if (o.from !== undefined) range[o.from[1] ? '$gte' : '$gt'] = o.from[0];
            if (o.to !== undefined) range[o.to[1] ? '$lte' : '$lt'] = o.to[0];
            const filter: Filter = Object.keys(range).length === 0 ? {} : { _id: range };
            if (o.n !== undefined && filter._id !== undefined) filter.n = o.n;
            const options: FindOptions = {
              sort: { _id: o.order ?? 1 },
              ...(o.limit === undefined ? {} : { limit: o.limit }),
            };
            const got = (await c.find(filter, options)).map((d) => d._id);
            expect(got).toEqual(await reference([...model.values()], filter, options));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads ranges right after a deleteMany of many documents (the sorted ids are dropped and sorted again)', async () => {
    const c = new MemoryDocumentStore().collection('c');
    for (let i = 0; i < 300; i++)
      await c.insertOne({ _id: `k${String(i).padStart(3, '0')}`, odd: i % 2 === 1 });
    expect(await c.find({ _id: { $gte: 'k' } }, { sort: { _id: 1 }, limit: 1 })).toHaveLength(1);
    expect(await c.deleteMany({ odd: true })).toBe(150);
    await c.insertOne({ _id: 'k001', odd: true });
    const ids = (await c.find({ _id: { $gte: 'k000', $lt: 'k006' } }, { sort: { _id: -1 } })).map(
      (d) => d._id,
    );
    expect(ids).toEqual(['k004', 'k002', 'k001', 'k000']);
  });

  it('returns copies: a caller changing what it read changes nothing stored', async () => {
    const c = new MemoryDocumentStore().collection('c');
    await c.insertOne({ _id: 'a|1', v: 1 });
    const [read] = await c.find({ _id: { $gte: 'a|' } }, { sort: { _id: 1 } });
    if (read !== undefined) read.v = 2;
    expect((await c.findOne({ _id: 'a|1' }))?.v).toBe(1);
  });
});

describe('MemoryDocumentStore: queries narrowed by the fields that lead declared indexes', () => {
  /** Values of every kind an equality distinguishes, and those (missing, null, arrays, objects) no scalar finds. */
  // Mostly two values, so that documents share them and move between them (where order can go wrong).
  const value = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom<unknown>('x', 'y') },
    {
      weight: 2,
      arbitrary: fc.constantFrom<unknown>(
        '1',
        1,
        0,
        -0,
        2.5,
        true,
        false,
        null,
        undefined,
        new Date(0),
        new Date(1),
        ['x', 1],
        [],
        { a: 1 },
      ),
    },
  );
  const condition = fc.oneof(
    value,
    value.map(($eq) => ({ $eq })),
    fc.constant({ $in: ['x', 1] }),
    fc.constant({ $ne: 'x' }),
  );
  const id = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
  const field = fc.constantFrom('f', 'g');
  const op = fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), id, f: value, g: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ kind: fc.constant('index' as const), field }),
    fc.record({ kind: fc.constant('setById' as const), id, f: value }),
    fc.record({ kind: fc.constant('setWhere' as const), where: condition, f: value }),
    fc.record({ kind: fc.constant('deleteOne' as const), where: condition }),
    fc.record({ kind: fc.constant('deleteMany' as const), where: condition }),
    fc.record({
      kind: fc.constant('find' as const),
      where: condition,
      g: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
      order: fc.constantFrom(1 as const, -1 as const, undefined),
      limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    }),
  );

  /** A document from an op: a missing value is a missing field, as the store keeps it. */
  const doc = (_id: string, f: unknown, g?: number): Doc => ({
    _id,
    ...(f === undefined ? {} : { f }),
    ...(g === undefined ? {} : { g }),
  });

  it('answers finds, counts, updates and deletes as mingo does over the whole collection, in the same order, with indexes made before or after the data', async () => {
    const { Query } = await import('mingo');
    const matching = (docs: Map<string, Doc>, filter: Filter): Doc[] =>
      new Query(filter).find<Doc>([...docs.values()]).all();
    await fc.assert(
      // size max: fast-check's default keeps arrays near 10 ops, too few for a document to move between shared values.
      fc.asyncProperty(fc.array(op, { maxLength: 40, size: 'max' }), async (ops) => {
        const c = new MemoryDocumentStore().collection('c');
        // A Map keeps a replaced key in its place and puts a new one last: the collection's order.
        const model = new Map<string, Doc>();
        for (const o of ops) {
          if (o.kind === 'insert') {
            if (model.has(o.id)) continue;
            await c.insertOne(doc(o.id, o.f, o.g));
            model.set(o.id, doc(o.id, o.f, o.g));
          } else if (o.kind === 'index') {
            await c.createIndex({ keys: { [o.field]: 1, _id: 1 }, name: o.field });
          } else if (o.kind === 'setById' || o.kind === 'setWhere') {
            const filter: Filter = o.kind === 'setById' ? { _id: o.id } : { f: o.where };
            const [first] = matching(model, filter);
            const update = o.f === undefined ? { $unset: { f: '' } } : { $set: { f: o.f } };
            const r = await c.updateOne(filter, update);
            expect(r.matchedCount).toBe(first === undefined ? 0 : 1);
            if (first !== undefined)
              model.set(first._id as string, doc(first._id as string, o.f, first.g as number | undefined));
          } else if (o.kind === 'deleteOne') {
            const [first] = matching(model, { f: o.where });
            expect(await c.deleteOne({ f: o.where })).toBe(first === undefined ? 0 : 1);
            if (first !== undefined) model.delete(first._id as string);
          } else if (o.kind === 'deleteMany') {
            const gone = matching(model, { f: o.where });
            expect(await c.deleteMany({ f: o.where })).toBe(gone.length);
            for (const d of gone) model.delete(d._id as string);
          } else {
            const filter: Filter = o.g === undefined ? { f: o.where } : { g: o.g, f: o.where };
            const options: FindOptions = {
              ...(o.order === undefined ? {} : { sort: { g: o.order } }),
              ...(o.limit === undefined ? {} : { limit: o.limit }),
            };
            let cursor = new Query(filter).find<Doc>([...model.values()]);
            if (options.sort !== undefined) cursor = cursor.sort(options.sort);
            if (options.limit !== undefined) cursor = cursor.limit(options.limit);
            expect((await c.find(filter, options)).map((d) => d._id)).toEqual(cursor.all().map((d) => d._id));
            expect(await c.countDocuments(filter)).toBe(matching(model, filter).length);
            expect((await c.findOne(filter))?._id ?? null).toEqual(matching(model, filter)[0]?._id ?? null);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
