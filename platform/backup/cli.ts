/**
 * make backup / make restore on the local platform (docs/deploy.md, "Backups"): the database of MONGODB_URL
 * (MONGODB_DB, default sluice) to BACKUP_DIR and back, over the Node driver (mongo-backup.ts).
 *   node platform/backup/cli.ts dump    [--keep N]          a new <db>-<UTC time> folder, then the newest N kept
 *   node platform/backup/cli.ts restore [--from <folder>]   the newest finished backup unless --from says which
 * Env: MONGODB_URL (required), MONGODB_DB, BACKUP_DIR (default .tmp/backups).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { dumpInto, latest, prune, readManifest, restoreDatabase } from './mongo-backup.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { keep: { type: 'string', default: '7' }, from: { type: 'string' } },
});
const command = positionals[0];
const url = process.env.MONGODB_URL;
const database = process.env.MONGODB_DB || 'sluice';
const root = resolve(process.env.BACKUP_DIR || '.tmp/backups');
const keep = Number(values.keep);
if ((command !== 'dump' && command !== 'restore') || !Number.isInteger(keep) || keep < 1) {
  process.stderr.write('usage: cli.ts dump [--keep N>=1] | restore [--from <backup folder>]\n');
  process.exit(64);
}
if (!url) {
  process.stderr.write(
    "MONGODB_URL is not set: which MongoDB (e.g. make banking-mongo's mongodb://127.0.0.1:27017/)?\n",
  );
  process.exit(64);
}
const client = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000 });
try {
  const db = client.db(database);
  if (command === 'dump') {
    const dir = await dumpInto(db, root);
    const manifest = await readManifest(dir);
    process.stdout.write(
      `backup of ${database}: ${dir} (${Object.entries(manifest.collections)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')})\n`,
    );
    for (const removed of await prune(root, keep))
      process.stdout.write(`removed ${removed} (keeping the newest ${keep})\n`);
  } else {
    const from = values.from === undefined ? await latest(root) : resolve(values.from);
    if (from === undefined) {
      process.stderr.write(`no finished backup in ${root}\n`);
      process.exit(66);
    }
    const manifest = await restoreDatabase(db, from);
    process.stdout.write(
      `restored ${database} from ${from} (${manifest.createdAt}): ${Object.entries(manifest.collections)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')}\n`,
    );
  }
} finally {
  await client.close();
}
