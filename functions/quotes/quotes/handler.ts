/**
 * quotes — the quotes themselves (docs/quotes.md):
 *   POST   /quotes          {"text","author"} → 201; emits dev.sluice.quotes.quote.created.v1
 *   GET    /quotes          paged by id (?after=<id>&limit=)
 *   GET    /quotes/random   one quote, drawn at random (a random id, then the next one by `_id`)
 *   GET    /quotes/:id
 *   DELETE /quotes/:id      → 204; emits dev.sluice.quotes.quote.deleted.v1
 *   GET    /quotes/openapi.json  OpenAPI 3.1 (openapi.ts), readable without a key (its own gateway route)
 * Each change and its event are written together — the quote (or its tombstone) is its own outbox record —
 * then published to the broker (lib/publisher.ts); the relay republishes whatever a failure left behind.
 * Who made a change comes from `x-sluice-principal`, which api-gateway sets from the API key.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Request, Response, Router } from 'express';
import {
  ConfigError,
  DuplicateKeyError,
  type Logger,
  loadSchemas,
  openApiRoute,
  PermanentError,
  requireJson,
  route,
  type SluiceFunction,
  sendProblem,
} from '../../runtime/src/index.ts';
import { bodyErrors, byPathId, jsonBody, pageById } from '../lib/http.ts';
import { brokerPublisher, type Publisher, relayPending } from '../lib/publisher.ts';
import {
  Collections,
  createdEvent,
  deletedEvent,
  MAX_AUTHOR,
  MAX_TEXT,
  publicQuote,
  QUOTE_ID,
  type QuoteDoc,
  QuoteEventType,
  type TombstoneDoc,
} from '../lib/quotes.ts';
import { openApiDocument } from './openapi.ts';

export const accepts = [] as const;
/** Published to the broker (not replies): their schemas are checked before each publish. */
export const emits = [QuoteEventType.created, QuoteEventType.deleted] as const;

const PRINCIPAL_HEADER = 'x-sluice-principal';
/** The relay's period; also how long a change may wait when the broker was down at write time. */
const RELAY_EVERY_MS = 10_000;

let publisher: Publisher | undefined;
let relayTimer: NodeJS.Timeout | undefined;

async function makePublisher(): Promise<Publisher> {
  const brokerUrl = process.env.BROKER_URL;
  if (brokerUrl === undefined || brokerUrl === '')
    throw new ConfigError(['BROKER_URL must name the broker ingress the quote events are published to']);
  const schemas = await loadSchemas(join(import.meta.dirname, 'schemas'));
  return brokerPublisher({ brokerUrl, schemas });
}

const outbox = (store: Parameters<NonNullable<SluiceFunction['init']>>[0]['store']) => ({
  quotes: store.collection<QuoteDoc>(Collections.quotes),
  tombstones: store.collection<TombstoneDoc>(Collections.tombstones),
});

export const init: SluiceFunction['init'] = async ({ store, log }) => {
  publisher = await makePublisher();
  const collections = outbox(store);
  // The relay asks every 10 s for what is not yet published: on MongoDB (and the dev store) an index lookup,
  // not a scan of every quote ever written (FerretDB 1.24 scans either way: docs/ferretdb.md).
  await Promise.all([
    collections.quotes.createIndex({ keys: { published: 1 }, name: 'published' }),
    collections.tombstones.createIndex({ keys: { deletePublished: 1 }, name: 'deletePublished' }),
  ]);
  const relay = (): void => {
    if (publisher === undefined) return;
    relayPending(collections, publisher, log).catch((err: unknown) =>
      log.warn(`outbox relay failed: ${(err as Error).message}`, { 'event.action': 'outbox-relay-failed' }),
    );
  };
  relay();
  relayTimer = setInterval(relay, RELAY_EVERY_MS);
  relayTimer.unref();
};

export const shutdown: SluiceFunction['shutdown'] = async () => {
  clearInterval(relayTimer);
};

export const handle: SluiceFunction['handle'] = (event) => {
  throw new PermanentError('no-events', `quotes consumes no events (got ${event.type})`);
};

function readQuote(body: unknown): { text: string; author: string } | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be an object';
  const { text, author, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `unknown fields: ${Object.keys(rest).slice(0, 5).join(', ')}`;
  if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_TEXT)
    return `text must be a non-empty string of at most ${MAX_TEXT} characters`;
  if (typeof author !== 'string' || author.trim() === '' || author.length > MAX_AUTHOR)
    return `author must be a non-empty string of at most ${MAX_AUTHOR} characters`;
  return { text: text.trim(), author: author.trim() };
}

const principalOf = (req: Request): string => {
  const p = req.headers[PRINCIPAL_HEADER];
  return typeof p === 'string' && p !== '' ? p.slice(0, 64) : 'anonymous';
};

/** Publishes now; a failure is logged and left to the relay (the change is stored either way). */
async function publishNow(
  send: () => Promise<void>,
  mark: () => Promise<unknown>,
  log: Logger,
  what: string,
): Promise<void> {
  try {
    await send();
    await mark();
  } catch (err) {
    log.warn(`${what}: publish deferred to the relay: ${(err as Error).message}`, {
      'event.action': 'publish-deferred',
    });
  }
}

export const routes: SluiceFunction['routes'] = (router: Router, { store, log }) => {
  const { quotes, tombstones } = outbox(store);
  const onError = (err: unknown): void =>
    log.error(`quotes route failed: ${(err as Error).message}`, { 'event.action': 'route-failed' });
  const pub = (): Publisher => publisher as Publisher; // set by init, which runs before any request

  // Before '/quotes/:id', which would take `openapi.json` for an id.
  router.get('/quotes/openapi.json', openApiRoute(openApiDocument()));

  router.post(
    '/quotes',
    jsonBody,
    route(async (req: Request, res: Response) => {
      if (!requireJson(req, res)) return;
      const input = readQuote(req.body);
      if (typeof input === 'string') return sendProblem(res, 400, input);
      const quote: QuoteDoc = {
        _id: randomUUID(),
        text: input.text,
        author: input.author,
        createdAt: new Date().toISOString(),
        createdBy: principalOf(req),
        published: false,
      };
      await quotes.insertOne(quote);
      await publishNow(
        () => pub().publish(createdEvent(quote)),
        () => quotes.updateOne({ _id: quote._id }, { $set: { published: true } }),
        log,
        `quote ${quote._id}`,
      );
      res.status(201).location(`/quotes/${quote._id}`).json(publicQuote(quote));
    }, onError),
  );

  router.get(
    '/quotes',
    route(async (req, res) => {
      const page = await pageById(req, res, quotes);
      if (page === undefined) return;
      res.json({ quotes: page.items.map(publicQuote), next: page.next });
    }, onError),
  );

  router.get(
    '/quotes/random',
    route(async (_req, res) => {
      // Ids are random UUIDs: the first id at or after a random one is a fair enough draw, and it is an
      // `_id` range read on every store (no $sample on FerretDB).
      const pick = randomUUID();
      const [next] = await quotes.find({ _id: { $gte: pick } }, { sort: { _id: 1 }, limit: 1 });
      const quote = next ?? (await quotes.find({}, { sort: { _id: 1 }, limit: 1 }))[0];
      if (quote === undefined) return sendProblem(res, 404, 'there are no quotes yet');
      res.json(publicQuote(quote));
    }, onError),
  );

  router.get(
    '/quotes/:id',
    route(async (req, res) => {
      const quote = await byPathId(req, res, quotes, QUOTE_ID, 'quote');
      if (quote === undefined) return;
      res.json(publicQuote(quote));
    }, onError),
  );

  router.delete(
    '/quotes/:id',
    route(async (req, res) => {
      const quote = await byPathId(req, res, quotes, QUOTE_ID, 'quote');
      if (quote === undefined) return;
      const id = quote._id;
      const tombstone: TombstoneDoc = {
        ...quote,
        deletedAt: new Date().toISOString(),
        deletedBy: principalOf(req),
        deletePublished: false,
      };
      // The tombstone first (the durable record of the deletion and of its event), then the quote goes.
      try {
        await tombstones.insertOne(tombstone);
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err; // a concurrent or interrupted delete: finish it
      }
      await quotes.deleteOne({ _id: id });
      const stored = (await tombstones.findOne({ _id: id })) ?? tombstone;
      await publishNow(
        async () => {
          if (!stored.published) await pub().publish(createdEvent(stored));
          await pub().publish(deletedEvent(stored));
        },
        () => tombstones.updateOne({ _id: id }, { $set: { published: true, deletePublished: true } }),
        log,
        `quote ${id} deletion`,
      );
      res.status(204).end();
    }, onError),
  );

  router.use(bodyErrors);
  router.use((_req: Request, res: Response) => {
    sendProblem(
      res,
      404,
      'POST/GET /quotes, GET /quotes/random, GET/DELETE /quotes/:id, GET /quotes/openapi.json',
    );
  });
};
