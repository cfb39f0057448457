import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BackupError, dumpInto, latest, prune, restoreDatabase } from './mongo-backup.ts';

/** Documents keyed by a string, as the functions' collections are. */
type Doc = { _id: string } & Record<string, unknown>;

const dbName = `backup_int_${process.pid}_${Date.now().toString(36)}`;
let client: MongoClient;
let root: string;

beforeAll(async () => {
  client = await MongoClient.connect(inject('mongodbUrl'));
  root = await mkdtemp(join(tmpdir(), 'sluice-backup-'));
});

afterAll(async () => {
  await client.db(dbName).dropDatabase();
  await client.close();
  await rm(root, { recursive: true, force: true });
});

describe('dump and restore over the Node driver (FerretDB)', () => {
  it('brings back every document with its BSON types and every index, unique ones enforced', async () => {
    const db = client.db(dbName);
    const entries = db.collection<Doc>('entries');
    await entries.createIndex({ account: 1, txId: 1 }, { unique: true, name: 'account_tx' });
    const docs = Array.from({ length: 2500 }, (_, i) => ({
      _id: `e-${String(i).padStart(5, '0')}`,
      account: `a-${i % 7}`,
      txId: `t-${i}`,
      at: new Date(Date.UTC(2026, 10, 29, 12, 0, i % 60)),
      big: BSON.Long.fromString('9007199254740993'),
      nested: { amount: i, tags: ['x', `y${i}`], raw: new BSON.Binary(Buffer.from([i % 256, 1, 2])) },
    }));
    await entries.insertMany(docs);
    await db.collection<Doc>('empty').insertOne({ _id: 'gone' });
    await db.collection<Doc>('empty').deleteOne({ _id: 'gone' });

    const dir = await dumpInto(db, root);
    await db.dropDatabase();
    expect(await db.collection('entries').countDocuments()).toBe(0);
    await restoreDatabase(db, dir);

    const back = await db
      .collection('entries')
      .find({}, { sort: { _id: 1 }, promoteLongs: false })
      .toArray();
    expect(back).toHaveLength(docs.length);
    expect(BSON.EJSON.stringify(back[42], { relaxed: false })).toBe(
      BSON.EJSON.stringify(docs[42], { relaxed: false }),
    );
    expect(await db.collection('empty').countDocuments()).toBe(0);
    const indexes = await db.collection('entries').listIndexes().toArray();
    expect(indexes.find((i) => i.name === 'account_tx')).toMatchObject({
      key: { account: 1, txId: 1 },
      unique: true,
    });
    await expect(
      db.collection<Doc>('entries').insertOne({ _id: 'dup', account: 'a-0', txId: 't-0' }),
    ).rejects.toThrow(/duplicate key|E11000/);
  });

  it('keeps the newest N finished backups and never restores an unfinished one', async () => {
    const db = client.db(dbName);
    const pruned = join(root, 'pruned');
    await mkdir(pruned);
    const made: string[] = [];
    for (let i = 0; i < 4; i++) made.push(await dumpInto(db, pruned, new Date(Date.UTC(2026, 0, 1 + i))));
    await mkdir(join(pruned, `${dbName}-20270101T000000Z.partial`));
    expect(await prune(pruned, 2)).toHaveLength(2);
    expect((await readdir(pruned)).sort()).toEqual(
      [...made.slice(2).map((d) => d.split('/').at(-1)), `${dbName}-20270101T000000Z.partial`].sort(),
    );
    expect(await latest(pruned)).toBe(made[3]);
    await writeFile(join(pruned, 'note.txt'), 'not a backup');
    await expect(restoreDatabase(db, join(pruned, `${dbName}-20270101T000000Z.partial`))).rejects.toThrow(
      BackupError,
    );
  });
});
