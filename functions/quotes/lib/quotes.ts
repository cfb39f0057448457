/**
 * The quotes system's shared model: event types, their data, the collections each function owns, and
 * the events a quote's stored state stands for (the outbox the quotes function publishes from, and what
 * `make quotes-reindex` replays).
 */

export const QuoteEventType = {
  created: 'dev.sluice.quotes.quote.created.v1',
  deleted: 'dev.sluice.quotes.quote.deleted.v1',
} as const;
export type QuoteEventType = (typeof QuoteEventType)[keyof typeof QuoteEventType];

/** `source` of every quote event: the quotes function. Replays keep it (and the ids). */
export const QUOTES_SOURCE = '/sluice/functions/quotes';

export const Collections = {
  /** users: one document per user, `_id` = user id. */
  users: 'quotes_users',
  /** quotes: live quotes, `_id` = quote id; each is also its own outbox record (`published`). */
  quotes: 'quotes_quotes',
  /** quotes: deleted quotes, whole, with their deletion (the other half of the event log). */
  tombstones: 'quotes_tombstones',
  /** search: one posting per (term, quote), `_id` = `<term>#<quote id>`. */
  postings: 'search_postings',
  /** search: the indexed quotes (display and term lists), `_id` = quote id. */
  documents: 'search_documents',
  /** search: quotes deleted, `_id` = quote id; wins over a created event that arrives later. */
  deleted: 'search_deleted',
} as const;

export interface QuoteCreated {
  readonly id: string;
  readonly text: string;
  readonly author: string;
  readonly createdAt: string;
  readonly createdBy: string;
}

export interface QuoteDeleted {
  readonly id: string;
  readonly deletedAt: string;
  readonly deletedBy: string;
}

export interface QuoteDoc extends Record<string, unknown> {
  _id: string;
  text: string;
  author: string;
  createdAt: string;
  createdBy: string;
  /** The created event reached the broker. */
  published: boolean;
}

export interface TombstoneDoc extends QuoteDoc {
  deletedAt: string;
  deletedBy: string;
  /** The deleted event reached the broker. */
  deletePublished: boolean;
}

export interface QuoteEvent {
  readonly id: string;
  readonly type: QuoteEventType;
  readonly source: typeof QUOTES_SOURCE;
  readonly subject: string;
  readonly time: string;
  readonly data: QuoteCreated | QuoteDeleted;
}

export const QUOTE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const MAX_TEXT = 2000;
export const MAX_AUTHOR = 200;

/** Deterministic ids: a retried publish, a relay and a replay all send the same event. */
export function createdEvent(q: QuoteDoc): QuoteEvent {
  return {
    id: `quote-${q._id}-created`,
    type: QuoteEventType.created,
    source: QUOTES_SOURCE,
    subject: q._id,
    time: q.createdAt,
    data: { id: q._id, text: q.text, author: q.author, createdAt: q.createdAt, createdBy: q.createdBy },
  };
}

export function deletedEvent(t: TombstoneDoc): QuoteEvent {
  return {
    id: `quote-${t._id}-deleted`,
    type: QuoteEventType.deleted,
    source: QUOTES_SOURCE,
    subject: t._id,
    time: t.deletedAt,
    data: { id: t._id, deletedAt: t.deletedAt, deletedBy: t.deletedBy },
  };
}

/** The public shape of a quote. */
export function publicQuote(q: QuoteDoc): Record<string, unknown> {
  return { id: q._id, text: q.text, author: q.author, createdAt: q.createdAt, createdBy: q.createdBy };
}
