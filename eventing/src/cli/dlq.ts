/**
 * `node eventing/src/cli/dlq.ts list [--all]` — the dead letters stored by functions/platform/dead-letter-sink.
 * `node eventing/src/cli/dlq.ts replay <id>|--all` — re-publish into the broker ingress (BROKER_URL,
 * default http://127.0.0.1:$BROKER_PORT/ or :8080) without the knativeerror* extensions, mark replayed.
 *
 * Store: MONGODB_URL (+ MONGODB_DB, default sluice) or SLUICE_DEV_STORE_URL + SLUICE_DEV_STORE_TOKEN (the `make dev` shared store),
 * the same the dead-letter-sink function uses. Unset, the dev store and broker of a running `make dev`
 * are used (.tmp/dev/endpoints.json); explicit env wins. Exit codes: 0 ok, 1 a replay failed, 64 usage,
 * 69 no store.
 */

import type { DocumentStore } from '../../../functions/runtime/src/index.ts';
import {
  openStore as openRuntimeStore,
  resolveDevStore,
  resolveEndpoint,
} from '../../../functions/runtime/src/index.ts';
import { formatTable, listDeadLetters, replayDeadLetter } from '../dead-letters.ts';

const usage = 'usage: dlq.ts list [--all] | replay <id>|--all\n';
const [command, arg] = process.argv.slice(2);

async function openStore(): Promise<DocumentStore | undefined> {
  if (process.env.MONGODB_URL) {
    process.stderr.write('dlq: MongoDB (from env MONGODB_URL)\n');
    return openRuntimeStore({
      mongodbUrl: process.env.MONGODB_URL,
      mongodbDb: process.env.MONGODB_DB || 'sluice',
    });
  }
  const devStore = resolveDevStore();
  if (devStore.url === undefined) return undefined;
  process.stderr.write(`dlq: dev store ${devStore.url} (from ${devStore.from})\n`);
  return openRuntimeStore({ devStoreUrl: devStore.url, devStoreToken: devStore.token, memory: false });
}

if (command !== 'list' && command !== 'replay') {
  process.stderr.write(usage);
  process.exit(64);
}
if (command === 'replay' && arg === undefined) {
  process.stderr.write(usage);
  process.exit(64);
}
const store = await openStore();
if (store === undefined) {
  process.stderr.write(
    'dlq: no store known: start make dev, or set MONGODB_URL (the MongoDB the dead-letter-sink writes to) or SLUICE_DEV_STORE_URL\n',
  );
  process.exit(69);
}
let failed = false;
try {
  if (command === 'list') {
    const rows = await listDeadLetters(store, { all: arg === '--all' });
    process.stdout.write(rows.length === 0 ? 'no dead letters\n' : `${formatTable(rows)}\n`);
  } else {
    const broker = resolveEndpoint(
      'BROKER_URL',
      (e) => e.brokerUrl,
      `http://127.0.0.1:${process.env.BROKER_PORT || 8080}/`,
    );
    const brokerUrl = broker.url as string;
    process.stderr.write(`dlq: broker ${brokerUrl} (from ${broker.from})\n`);
    const rows = await listDeadLetters(store, { all: arg !== '--all' });
    const chosen = arg === '--all' ? rows : rows.filter((d) => d._id === arg || d.eventId === arg);
    if (chosen.length === 0)
      process.stderr.write(`dlq: no dead letter ${arg === '--all' ? 'to replay' : arg}\n`);
    for (const d of chosen) {
      try {
        await replayDeadLetter(store, brokerUrl, d);
        process.stdout.write(`replayed ${d._id} (${d.type} ${d.eventId}) → ${brokerUrl}\n`);
      } catch (err) {
        failed = true;
        process.stderr.write(`dlq: ${(err as Error).message}\n`);
      }
    }
    if (chosen.length === 0) failed = true;
  }
} finally {
  await store.close();
}
process.exit(failed ? 1 : 0);
