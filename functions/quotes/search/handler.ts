/**
 * search — full-text search over the quotes, built only from their events (docs/quotes.md):
 *   consumes dev.sluice.quotes.quote.created.v1 / …deleted.v1 (one Trigger on the quotes source)
 *   GET /search?q=<terms>&limit=&offset=   every term must match, accents and case ignored, ranked
 *   GET /search/openapi.json               OpenAPI 3.1 (openapi.ts), readable without a key (its own gateway route)
 * The index (lib/search-index.ts) converges whatever the order and number of deliveries, so the function
 * runs without the runtime's idempotency guard (`idempotent: false`): replaying the same events (same
 * source and ids, `make quotes-reindex`) rebuilds a dropped index.
 */
import type { Request, Response, Router } from 'express';
import type { SluiceFunction } from '../../runtime/src/index.ts';
import {
  DEFAULT_PAGE,
  MAX_PAGE,
  openApiRoute,
  QueryReader,
  route,
  sendProblem,
} from '../../runtime/src/index.ts';
import { QuoteEventType } from '../lib/quotes.ts';
import { indexQuote, MAX_QUERY_TERMS, search, searchCollections, unindexQuote } from '../lib/search-index.ts';
import { terms } from '../lib/text.ts';
import type { Handle } from './events.gen.ts';
import { MAX_OFFSET, MAX_QUERY, openApiDocument } from './openapi.ts';

export const accepts = [QuoteEventType.created, QuoteEventType.deleted] as const;
export const idempotent = false;

export const handle: Handle<typeof accepts> = async (event, { store, log }) => {
  const c = searchCollections(store);
  if (event.type === QuoteEventType.created) {
    const outcome = await indexQuote(c, event.data);
    log.debug(`quote ${event.subject ?? ''} ${outcome}`, { 'event.action': `quote-${outcome}` });
  } else {
    await unindexQuote(c, event.data);
  }
  return undefined;
};

export const routes: SluiceFunction['routes'] = (router: Router, { store, log }) => {
  const c = searchCollections(store);
  const onError = (err: unknown): void =>
    log.error(`search failed: ${(err as Error).message}`, { 'event.action': 'route-failed' });

  router.get('/search/openapi.json', openApiRoute(openApiDocument()));

  router.get(
    '/search',
    route(async (req: Request, res: Response) => {
      const query = new QueryReader(req);
      const q = query.string('q', { max: MAX_QUERY }) ?? '';
      const words = new Set(terms(q)).size;
      if (words === 0 && !query.problems.some((p) => p.name === 'q')) query.invalid('q', 'at least one word');
      if (words > MAX_QUERY_TERMS) query.invalid('q', `at most ${MAX_QUERY_TERMS} distinct words`);
      const limit = query.limit(DEFAULT_PAGE, MAX_PAGE);
      const rawOffset = query.string('offset');
      const offset = rawOffset === undefined ? 0 : Number(rawOffset);
      if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET)
        query.invalid('offset', `an integer from 0 to ${MAX_OFFSET}`);
      if (query.refused(res)) return;
      const result = await search(c, q, { offset, limit });
      const nextOffset = offset + result.hits.length;
      res.json({
        query: q,
        terms: result.terms,
        total: result.total,
        results: result.hits,
        next: nextOffset < result.total ? nextOffset : null,
      });
    }, onError),
  );

  router.use((_req: Request, res: Response) => {
    sendProblem(res, 404, 'GET /search?q=<words>, GET /search/openapi.json');
  });
};
