/**
 * Rebuilding the search index from the events alone: drop the index, then publish every quote event again
 * (same source and ids: quotes.ts) through the broker, as the quotes function first did. The search
 * function applies them like any delivery (it converges whatever the order), so the index it ends with is
 * the one the live event flow built. The events come from the quotes function's own store, which keeps
 * every quote and every tombstone: it is the log.
 */
import type { DocumentStore } from '../../runtime/src/index.ts';
import { eventLog, type Publisher } from './publisher.ts';
import { Collections, type QuoteDoc, type TombstoneDoc } from './quotes.ts';
import { clearIndex, searchCollections } from './search-index.ts';

export interface ReindexResult {
  readonly published: number;
}

export async function reindex(
  quotesStore: DocumentStore,
  searchStore: DocumentStore,
  publisher: Publisher,
): Promise<ReindexResult> {
  await clearIndex(searchCollections(searchStore));
  let published = 0;
  const log = eventLog({
    quotes: quotesStore.collection<QuoteDoc>(Collections.quotes),
    tombstones: quotesStore.collection<TombstoneDoc>(Collections.tombstones),
  });
  for await (const event of log) {
    await publisher.publish(event);
    published++;
  }
  return { published };
}
