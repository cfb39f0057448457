/**
 * `make quotes-reindex` — drops the search index and replays every quote event through the broker
 * (lib/reindex.ts). Finds a running `make dev` through .tmp/dev/endpoints.json (its broker and dev store);
 * BROKER_URL, MONGODB_URL (+ MONGODB_DB) win when set. On a cluster: run it in a pod of the namespace with
 * the function's env (MONGODB_URL from sluice-function-env, BROKER_URL the broker ingress).
 */
import { join } from 'node:path';
import { loadSchemas, openToolStore, resolveEndpoint } from '../../runtime/src/index.ts';
import { brokerPublisher } from '../lib/publisher.ts';
import { reindex } from '../lib/reindex.ts';

const broker = resolveEndpoint('BROKER_URL', (e) => e.brokerUrl, 'http://127.0.0.1:8080/');
const opened = await openToolStore();
if (opened === undefined) {
  process.stderr.write('no store: set MONGODB_URL, or run make dev (its dev store is found in .tmp/dev)\n');
  process.exit(69);
}
const { store } = opened;
try {
  const schemas = await loadSchemas(join(import.meta.dirname, '../quotes/schemas'));
  const publisher = brokerPublisher({ brokerUrl: broker.url as string, schemas });
  const { published } = await reindex(store, store, publisher);
  process.stdout.write(
    `search index dropped; ${published} quote events replayed to ${broker.url} (${broker.from})\n`,
  );
} finally {
  await store.close();
}
