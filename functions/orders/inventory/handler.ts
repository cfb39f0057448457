/**
 * inventory — the movie inventory behind api-gateway at `/api/movies` (its own database, `inventory`):
 *   GET    /movies                 paged by id (?after=<id>&limit=), ?title= filters by title: each word given
 *                                  starts a word of the title (case and accents ignored; lib/movies.ts)
 *   POST   /movies                 {"title","description"} (movie.schema.json) → 201 + Location
 *   GET    /movies/:id
 *   PUT    /movies/:id             the same body → 200
 *   DELETE /movies/:id             → 204
 *   GET    /movies/openapi.json    OpenAPI 3.1 of all of these (openapi.ts; public /api/movies/openapi.json)
 * Consumes no events. Bodies are checked by JSON Schema (compiled once at start); every refusal is problem+json.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import {
  createAjv,
  openApiRoute,
  PermanentError,
  QueryReader,
  requireJson,
  route,
  type SluiceFunction,
} from '../../runtime/src/index.ts';
import { bodyErrors, jsonBody, page, sendProblem } from '../lib/http.ts';
import {
  MAX_TITLE_FILTER,
  MOVIE_ID,
  type MovieDoc,
  publicMovie,
  titleFilter,
  titleWords,
} from '../lib/movies.ts';
import { Collections, type InvalidParam } from '../lib/orders.ts';
import movieSchema from './movie.schema.json' with { type: 'json' };
import { openApiDocument } from './openapi.ts';

export const accepts = [] as const;

const validMovie = createAjv().compile<{ title: string; description: string }>(movieSchema);

function readMovie(body: unknown): { title: string; description: string } | InvalidParam[] {
  if (validMovie(body)) return { title: body.title.trim(), description: body.description };
  const e = validMovie.errors?.[0];
  const missing = (e?.params as { missingProperty?: string; additionalProperty?: string } | undefined) ?? {};
  const name =
    missing.missingProperty ?? missing.additionalProperty ?? (e?.instancePath.replace(/^\//, '') || '(body)');
  return [{ name, reason: e?.message ?? 'invalid' }];
}

export const init: SluiceFunction['init'] = async ({ store }) => {
  await store
    .collection<MovieDoc>(Collections.movies)
    .createIndex({ keys: { titleKey: 1 }, name: 'titleKey' });
};

export const handle: SluiceFunction['handle'] = (event) => {
  throw new PermanentError('no-events', `inventory consumes no events (got ${event.type})`);
};

export const routes: SluiceFunction['routes'] = (router: Router, { store, log }) => {
  const movies = store.collection<MovieDoc>(Collections.movies);
  const onError = (err: unknown): void =>
    log.error(`inventory route failed: ${(err as Error).message}`, { 'event.action': 'route-failed' });
  const movieId = (req: Request, res: Response): string | undefined => {
    const id = req.params.id;
    if (typeof id === 'string' && MOVIE_ID.test(id)) return id;
    sendProblem(res, 404, 'no such movie (ids are UUIDs)');
    return undefined;
  };

  // Before /movies/:id, which would take `openapi.json` for an id.
  router.get('/movies/openapi.json', openApiRoute(openApiDocument()));

  router.get(
    '/movies',
    route(async (req, res) => {
      const query = new QueryReader(req);
      const paging = page(query);
      const title = query.string('title', {
        max: MAX_TITLE_FILTER,
        reason: `one value of at most ${MAX_TITLE_FILTER} characters`,
      });
      if (query.refused(res)) return;
      const byTitle = title === undefined ? undefined : titleFilter(title);
      const filter: Record<string, unknown> = { ...byTitle };
      if (paging.after !== undefined) filter._id = { $gt: paging.after };
      const list = await movies.find(filter, { sort: { _id: 1 }, limit: paging.limit });
      const last = list.at(-1);
      res.json({
        movies: list.map(publicMovie),
        next: list.length === paging.limit && last !== undefined ? last._id : null,
      });
    }, onError),
  );

  router.post(
    '/movies',
    jsonBody,
    route(async (req, res) => {
      if (!requireJson(req, res)) return;
      const input = readMovie(req.body);
      if (Array.isArray(input)) return sendProblem(res, 400, 'the movie does not match its schema', input);
      const now = new Date().toISOString();
      const doc: MovieDoc = {
        _id: randomUUID(),
        ...input,
        titleWords: titleWords(input.title),
        createdAt: now,
        updatedAt: now,
      };
      await movies.insertOne(doc);
      res.status(201).location(`movies/${doc._id}`).json(publicMovie(doc));
    }, onError),
  );

  router.get(
    '/movies/:id',
    route(async (req, res) => {
      const id = movieId(req, res);
      if (id === undefined) return;
      const doc = await movies.findOne({ _id: { $eq: id } });
      if (doc === null) return sendProblem(res, 404, `no movie ${id}`);
      res.json(publicMovie(doc));
    }, onError),
  );

  router.put(
    '/movies/:id',
    jsonBody,
    route(async (req, res) => {
      const id = movieId(req, res);
      if (id === undefined || !requireJson(req, res)) return;
      const input = readMovie(req.body);
      if (Array.isArray(input)) return sendProblem(res, 400, 'the movie does not match its schema', input);
      const updatedAt = new Date().toISOString();
      const done = await movies.findOneAndUpdate(
        { _id: { $eq: id } },
        { $set: { ...input, titleWords: titleWords(input.title), updatedAt } },
      );
      if (done === null) return sendProblem(res, 404, `no movie ${id}`);
      res.json(publicMovie(done));
    }, onError),
  );

  router.delete(
    '/movies/:id',
    route(async (req, res) => {
      const id = movieId(req, res);
      if (id === undefined) return;
      if ((await movies.deleteOne({ _id: { $eq: id } })) === 0)
        return sendProblem(res, 404, `no movie ${id}`);
      res.status(204).end();
    }, onError),
  );

  router.use(bodyErrors);
  router.use((_req: Request, res: Response) => {
    sendProblem(res, 404, 'GET/POST /movies, GET/PUT/DELETE /movies/:id, GET /movies/openapi.json');
  });
};
