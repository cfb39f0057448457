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
import { openApiRoute, pageLimit, route, sendProblem } from '../../runtime/src/index.ts';
import { queryString } from '../lib/http.ts';
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
      const q = queryString(req, res, 'q', MAX_QUERY);
      const limit = pageLimit(req, res);
      if (!q.ok || limit === undefined) return;
      if (q.value === undefined || terms(q.value).length === 0)
        return sendProblem(res, 400, 'q must hold at least one word');
      if (new Set(terms(q.value)).size > MAX_QUERY_TERMS)
        return sendProblem(res, 400, `q may hold at most ${MAX_QUERY_TERMS} distinct words`);
      const rawOffset = req.query.offset;
      const offset = rawOffset === undefined ? 0 : Number(rawOffset);
      if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET)
        return sendProblem(res, 400, `offset must be an integer from 0 to ${MAX_OFFSET}`);
      const result = await search(c, q.value, { offset, limit });
      const nextOffset = offset + result.hits.length;
      res.json({
        query: q.value,
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
