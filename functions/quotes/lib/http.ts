/**
 * What the system's express routes add to the runtime's route answers (route-answers.ts: problem+json, the
 * bounded JSON body, async handlers, paging, the query): the body limit, and the two reads users and quotes both
 * serve (a page in `_id` order, one document by the `:id` of the path).
 */
import type { Request, RequestHandler, Response } from 'express';
import {
  jsonBody as boundedJsonBody,
  type Collection,
  DEFAULT_PAGE,
  type Doc,
  MAX_PAGE,
  QueryReader,
  bodyErrors as refusedBodies,
  sendProblem,
} from '../../runtime/src/index.ts';

/** Bodies are small documents; anything larger is refused before it is read whole. */
export const MAX_JSON_BYTES = 16 * 1024;

export const jsonBody: RequestHandler = boundedJsonBody({ limitBytes: MAX_JSON_BYTES, strict: true });
export const bodyErrors = refusedBodies(MAX_JSON_BYTES);

/** A page's `?after`: an id, at most this many characters. */
export const MAX_AFTER = 64;

/**
 * One page of `collection` in `_id` order (`?after=<id>&limit=`): its documents, and `next`, the last id of a full
 * page (null after the last page); undefined once a 400 was sent.
 */
export async function pageById<T extends Doc & { _id: string }>(
  req: Request,
  res: Response,
  collection: Collection<T>,
): Promise<{ items: T[]; next: string | null } | undefined> {
  const query = new QueryReader(req);
  const limit = query.limit(DEFAULT_PAGE, MAX_PAGE);
  const after = query.string('after', { max: MAX_AFTER });
  if (query.refused(res)) return undefined;
  const filter = after === undefined ? {} : { _id: { $gt: after } };
  const items = await collection.find(filter, { sort: { _id: 1 }, limit });
  const last = items.at(-1);
  return { items, next: items.length === limit && last ? last._id : null };
}

/**
 * The document of `collection` whose `_id` is the path's `:id`; undefined once a 404 was sent: `no such <noun>`
 * when the id does not match `pattern` (it cannot be one, and the store is not asked), `no <noun> <id>` when no
 * document has it.
 */
export async function byPathId<T extends Doc>(
  req: Request,
  res: Response,
  collection: Collection<T>,
  pattern: RegExp,
  noun: string,
): Promise<T | undefined> {
  const id = req.params.id;
  if (typeof id !== 'string' || !pattern.test(id)) {
    sendProblem(res, 404, `no such ${noun}`);
    return undefined;
  }
  const doc = await collection.findOne({ _id: { $eq: id } });
  if (doc === null) {
    sendProblem(res, 404, `no ${noun} ${id}`);
    return undefined;
  }
  return doc;
}
