/**
 * inventory's routes on a memory store that the tests can take down (503) or break (500), each answer checked
 * against the OpenAPI document (body, status, headers), every route of the router found in it, and
 * every status it documents answered at least once.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { JsonLogger, type SluiceFunction } from '../../runtime/src/index.ts';
import {
  answerRecorder,
  expectServedDocument,
  routeProblems,
  type Sent,
} from '../../runtime/test/openapi.ts';
import { type RoutesServer, serveRoutes } from '../../runtime/test/routes-server.ts';
import { expectStoreFailuresAnswered, SwitchableStore } from '../../runtime/test/switchable-store.ts';
import { accepts, init, routes } from './handler.ts';
import { openApiDocument } from './openapi.ts';

type JsonObject = Record<string, unknown>;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const silentLog = () => new JsonLogger({ serviceName: 'inventory', sink: { write: () => true } });
const store = new SwitchableStore();
let served: RoutesServer;

beforeAll(async () => {
  await init?.({ store, log: silentLog(), functionName: 'inventory' });
  served = await serveRoutes(routes, { store, log: silentLog(), functionName: 'inventory' });
});

afterAll(() => served.close());

/** Every answer a test reads, checked against the document (body, status, headers) and counted. */
const answers = answerRecorder(openApiDocument());

/**
 * One request; its answer is checked against the document before a test reads it, so the document cannot
 * drift from the handler. inventory serves the documented paths itself (the gateway only adds /api).
 */
async function call(method: string, path: string, sent?: Sent) {
  const answer = await answers.send(served.base, method, path, sent);
  return { ...answer, body: answer.body as JsonObject | undefined };
}

const movieJson = (movie: unknown): Sent => ({ json: movie });
const create = async (title: string, description = 'd') => {
  const created = await call('POST', '/movies', movieJson({ title, description }));
  expect(created.status).toBe(201);
  return created.body as { id: string; title: string };
};

describe('inventory', () => {
  it('is a SluiceFunction with routes and no events', () => {
    expectTypeOf(routes).toEqualTypeOf<SluiceFunction['routes']>();
    expect(accepts).toEqual([]);
  });

  it('serves its OpenAPI 3.1 document at GET /movies/openapi.json', async () => {
    expectServedDocument(await call('GET', '/movies/openapi.json'), openApiDocument());
    expect((await call('HEAD', '/movies/openapi.json')).status).toBe(200);
  });

  it('documents every route its router has, and no other', () => {
    expect(routeProblems(served.router, openApiDocument())).toEqual([]);
  });

  it('adds, reads, replaces and removes a movie', async () => {
    const created = await call(
      'POST',
      '/movies',
      movieJson({ title: '  The Third Man ', description: 'Vienna' }),
    );
    expect(created.status).toBe(201);
    const movie = created.body as { id: string; title: string };
    expect(movie.title).toBe('The Third Man');
    expect(created.headers.get('location')).toBe(`movies/${movie.id}`);
    expect((await call('GET', `/movies/${movie.id}`)).body).toEqual(movie);
    expect((await call('HEAD', `/movies/${movie.id}`)).status).toBe(200);
    const replaced = await call(
      'PUT',
      `/movies/${movie.id}`,
      movieJson({ title: 'The Third Man', description: 'Vienna, 1949' }),
    );
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: movie.id, description: 'Vienna, 1949' });
    expect((await call('DELETE', `/movies/${movie.id}`)).status).toBe(204);
    expect((await call('GET', `/movies/${movie.id}`)).status).toBe(404);
    expect((await call('HEAD', `/movies/${movie.id}`)).status).toBe(404);
  });

  it('lists movies by id a page at a time, filtered by title', async () => {
    const made = [await create('Amélie'), await create('American Graffiti'), await create('Manhattan')];
    const first = await call('GET', '/movies?limit=2');
    expect(first.status).toBe(200);
    const ids = made.map((m) => m.id).sort();
    expect((first.body?.movies as { id: string }[] | undefined)?.map((m) => m.id)).toEqual(ids.slice(0, 2));
    expect(first.body?.next).toBe(ids[1]);
    const rest = await call('GET', `/movies?limit=2&after=${ids[1]}`);
    expect(rest.body).toMatchObject({ movies: [{ id: ids[2] }], next: null });
    const byTitle = await call('GET', '/movies?title=AME');
    expect((byTitle.body?.movies as { title: string }[] | undefined)?.map((m) => m.title).sort()).toEqual([
      'American Graffiti',
      'Amélie',
    ]);
    expect((await call('HEAD', '/movies?title=man')).status).toBe(200);
  });

  it('answers 404 for a movie that is not there or an id that is not a UUID, 400 for one that is not even percent-encoding', async () => {
    const json = movieJson({ title: 'T', description: '' });
    expect((await call('GET', `/movies/${UNKNOWN_ID}`)).body).toMatchObject({
      detail: `no movie ${UNKNOWN_ID}`,
    });
    expect((await call('GET', '/movies/%24where')).status).toBe(404);
    expect((await call('PUT', `/movies/${UNKNOWN_ID}`, json)).status).toBe(404);
    expect((await call('PUT', '/movies/not-a-uuid', json)).status).toBe(404);
    expect((await call('DELETE', `/movies/${UNKNOWN_ID}`)).status).toBe(404);
    // Not even percent-encoding: express cannot decode the id.
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE'])
      expect((await call(method, '/movies/%E0', method === 'PUT' ? json : {})).status, method).toBe(400);
  });

  it('refuses bad queries and bodies with problem+json, naming the field', async () => {
    const { id } = await create('Ran');
    for (const query of [
      'limit=0',
      'limit=101',
      `after=${'x'.repeat(65)}`,
      'title=a&title=b',
      `title=${'t'.repeat(201)}`,
    ]) {
      const bad = await call('GET', `/movies?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body?.['invalid-params'], query).toHaveLength(1);
    }
    expect((await call('HEAD', '/movies?limit=0')).status).toBe(400);
    for (const [method, path] of [
      ['POST', '/movies'],
      ['PUT', `/movies/${id}`],
    ] as const) {
      const unknownField = await call(method, path, movieJson({ title: 'T', description: '', year: 1950 }));
      expect(unknownField.status).toBe(400);
      expect(unknownField.body?.['invalid-params']).toEqual([{ name: 'year', reason: expect.any(String) }]);
      const noTitle = await call(method, path, movieJson({ description: '' }));
      expect(noTitle.body?.['invalid-params']).toEqual([{ name: 'title', reason: expect.any(String) }]);
      expect((await call(method, path, { body: '{"title":', contentType: 'application/json' })).status).toBe(
        400,
      );
      expect((await call(method, path, { body: 'title=T', contentType: 'text/plain' })).status).toBe(415);
      const tooLarge = movieJson({ title: 'T', description: 'x'.repeat(17_000) });
      expect((await call(method, path, tooLarge)).status).toBe(413);
    }
  });

  it('answers 503 + Retry-After while its store is unavailable, and 500 for a bug', async () => {
    const { id } = await create('Stalker');
    const movie = movieJson({ title: 'T', description: '' });
    await expectStoreFailuresAnswered(store, {
      'GET /movies': () => call('GET', '/movies'),
      'HEAD /movies': () => call('HEAD', '/movies'),
      'POST /movies': () => call('POST', '/movies', movie),
      'GET /movies/{id}': () => call('GET', `/movies/${id}`),
      'HEAD /movies/{id}': () => call('HEAD', `/movies/${id}`),
      'PUT /movies/{id}': () => call('PUT', `/movies/${id}`, movie),
      'DELETE /movies/{id}': () => call('DELETE', `/movies/${id}`),
    });
    expect((await call('GET', `/movies/${id}`)).body).toMatchObject({ title: 'Stalker' });
  });

  it('has answered every status its document gives, for every operation', () => {
    expect(answers.unanswered()).toEqual([]);
  });
});
