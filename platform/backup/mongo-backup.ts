/**
 * A MongoDB database to a folder and back (docs/deploy.md, "Backups"): one `<collection>.ndjson` per collection,
 * each document a line of canonical Extended JSON (types kept: dates, longs, decimals, binaries, ObjectIds), its
 * indexes in `<collection>.indexes.json`, and `backup.json` saying what was written (database, collections,
 * counts, time) — written last, so a folder without it is an unfinished dump and is never restored.
 *
 * Hand-written over the Node driver because mongodump/mongorestore are not installable here (no Debian package,
 * and github.com/mongodb/mongo-tools is not served by the Go module proxy), and the local platform's FerretDB
 * needs its backups tested. The cluster's CronJob runs the upstream mongodump of the mongo image instead
 * (platform/k3s/kustomize/data/mongodb-backup.yaml). Restore creates each collection's indexes before its
 * documents, so unique keys hold from the first insert, and inserts in batches.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BSON, type Db, type Document, type IndexDescription } from 'mongodb';

const { EJSON } = BSON;

export const BACKUP_MANIFEST = 'backup.json';
const BATCH = 1000;

export interface BackupManifest {
  readonly database: string;
  readonly createdAt: string;
  readonly collections: Readonly<Record<string, number>>;
}

export class BackupError extends Error {
  override name = 'BackupError';
}

/** Writes every collection of `db` (but system.*) into `dir`, then its manifest. */
export async function dumpDatabase(db: Db, dir: string): Promise<BackupManifest> {
  await mkdir(dir, { recursive: true });
  const collections: Record<string, number> = {};
  const names = (await db.listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .filter((n) => !n.startsWith('system.'))
    .sort();
  for (const name of names) {
    const out = createWriteStream(join(dir, `${name}.ndjson`));
    let count = 0;
    for await (const doc of db.collection(name).find({}, { sort: { _id: 1 } })) {
      if (!out.write(`${EJSON.stringify(doc, { relaxed: false })}\n`)) await once(out, 'drain');
      count++;
    }
    out.end();
    await once(out, 'finish');
    const indexes = (await db.collection(name).listIndexes().toArray()).filter((i) => i.name !== '_id_');
    await writeFile(join(dir, `${name}.indexes.json`), `${JSON.stringify(indexes, null, 2)}\n`);
    collections[name] = count;
  }
  const manifest: BackupManifest = {
    database: db.databaseName,
    createdAt: new Date().toISOString(),
    collections,
  };
  await writeFile(join(dir, BACKUP_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Replaces the collections of `db` that the backup in `dir` holds with its documents and indexes. */
export async function restoreDatabase(db: Db, dir: string): Promise<BackupManifest> {
  const manifest = await readManifest(dir);
  for (const [name, expected] of Object.entries(manifest.collections)) {
    await db
      .collection(name)
      .drop()
      .catch((err: { codeName?: string }) => {
        if (err.codeName !== 'NamespaceNotFound') throw err;
      });
    await db.createCollection(name);
    const indexes = JSON.parse(await readFile(join(dir, `${name}.indexes.json`), 'utf8')) as Document[];
    if (indexes.length > 0)
      await db
        .collection(name)
        .createIndexes(
          indexes.map(({ key, v: _v, ns: _ns, ...options }) => ({ key, ...options }) as IndexDescription),
        );
    let batch: Document[] = [];
    let count = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await db.collection(name).insertMany(batch, { ordered: true });
      count += batch.length;
      batch = [];
    };
    const lines = createInterface({
      input: createReadStream(join(dir, `${name}.ndjson`)),
      crlfDelay: Infinity,
    });
    for await (const line of lines) {
      if (line === '') continue;
      batch.push(EJSON.parse(line, { relaxed: false }) as Document);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    if (count !== expected)
      throw new BackupError(`${name}: restored ${count} documents, the backup says ${expected}`);
  }
  return manifest;
}

export async function readManifest(dir: string): Promise<BackupManifest> {
  try {
    return JSON.parse(await readFile(join(dir, BACKUP_MANIFEST), 'utf8')) as BackupManifest;
  } catch (err) {
    throw new BackupError(
      `${dir} is not a finished backup (no readable ${BACKUP_MANIFEST}): ${(err as Error).message}`,
    );
  }
}

/** `<root>/<database>-<UTC time>`, written as `…​.partial` and renamed once complete. */
export async function dumpInto(db: Db, root: string, now = new Date()): Promise<string> {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const final = join(root, `${db.databaseName}-${stamp}`);
  const partial = `${final}.partial`;
  await rm(partial, { recursive: true, force: true });
  await dumpDatabase(db, partial);
  await rename(partial, final);
  return final;
}

/** Keeps the newest `keep` finished backups of `root` (by their manifest's time) and removes the rest. */
export async function prune(root: string, keep: number): Promise<string[]> {
  const found: { dir: string; at: string }[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, name);
    if (!(await stat(dir)).isDirectory() || name.endsWith('.partial')) continue;
    const manifest = await readManifest(dir).catch(() => undefined);
    if (manifest !== undefined) found.push({ dir, at: manifest.createdAt });
  }
  found.sort((a, b) => b.at.localeCompare(a.at));
  const removed = found.slice(Math.max(keep, 0)).map((f) => f.dir);
  for (const dir of removed) await rm(dir, { recursive: true, force: true });
  return removed;
}

/** The newest finished backup of `root`. */
export async function latest(root: string): Promise<string | undefined> {
  let best: { dir: string; at: string } | undefined;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name.endsWith('.partial')) continue;
    const manifest = await readManifest(join(root, name)).catch(() => undefined);
    if (manifest !== undefined && (best === undefined || manifest.createdAt > best.at))
      best = { dir: join(root, name), at: manifest.createdAt };
  }
  return best?.dir;
}
