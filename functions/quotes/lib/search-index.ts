/**
 * The search index, built only from quote events (so it can be dropped and rebuilt by replaying them) and
 * laid out for FerretDB, whose only cheap queries are `_id` lookups and `_id` ranges:
 *
 *   search_postings   _id `<term>#<quote id>`   {tf, ta}: occurrences in the text and in the author
 *   search_documents  _id `<quote id>`          the quote, for answers and to find its postings again
 *   search_deleted    _id `<quote id>`          deleted: a later (or redelivered) created event is ignored
 *
 * Every write is an insert of a fixed `_id` or a delete, so applying an event twice, or events out of
 * order, converges to the same index (no conditional update: FerretDB's are not atomic). The search
 * function therefore runs without the runtime's idempotency guard, and a replay of the same events
 * (same source and ids) rebuilds the index.
 *
 * A query's terms (text.ts) must all match: each term's postings are one `_id` range scan
 * (`<term>#` ≤ _id < `<term>$`), the candidate set is their intersection, ranked by BM25 over the text and
 * the author (the author's matches weigh double). MongoDB could do this with a text index
 * (`default_language: "none"`, each term quoted so all must match, `textScore` for the rank); FerretDB
 * 1.24 has no text index.
 */
import { type Collection, type DocumentStore, DuplicateKeyError } from '../../runtime/src/index.ts';
import { Collections, type QuoteCreated, type QuoteDeleted } from './quotes.ts';
import { termFrequencies, terms } from './text.ts';

export interface PostingDoc extends Record<string, unknown> {
  _id: string;
  tf: number;
  ta: number;
}

export interface IndexedDoc extends Record<string, unknown> {
  _id: string;
  text: string;
  author: string;
  createdAt: string;
  /** Terms in text + author (BM25's document length). */
  length: number;
  terms: string[];
}

export interface DeletedDoc extends Record<string, unknown> {
  _id: string;
  deletedAt: string;
}

export interface SearchCollections {
  readonly postings: Collection<PostingDoc>;
  readonly documents: Collection<IndexedDoc>;
  readonly deleted: Collection<DeletedDoc>;
}

export function searchCollections(store: DocumentStore): SearchCollections {
  return {
    postings: store.collection<PostingDoc>(Collections.postings),
    documents: store.collection<IndexedDoc>(Collections.documents),
    deleted: store.collection<DeletedDoc>(Collections.deleted),
  };
}

const SEP = '#';
/** The character after `#`: the exclusive end of a term's `_id` range. */
const SEP_END = '$';
const postingId = (term: string, quoteId: string): string => `${term}${SEP}${quoteId}`;

async function insertOnce<T extends Record<string, unknown>>(c: Collection<T>, doc: T): Promise<void> {
  try {
    await c.insertOne(doc);
  } catch (err) {
    if (!(err instanceof DuplicateKeyError)) throw err;
  }
}

export async function indexQuote(c: SearchCollections, q: QuoteCreated): Promise<'indexed' | 'deleted'> {
  if ((await c.deleted.findOne({ _id: q.id })) !== null) return 'deleted';
  const text = termFrequencies(q.text);
  const author = termFrequencies(q.author);
  const all = [...new Set([...text.keys(), ...author.keys()])];
  let length = 0;
  for (const n of [...text.values(), ...author.values()]) length += n;
  // The document first: a deletion racing with this creation finds the terms to remove.
  await insertOnce(c.documents, {
    _id: q.id,
    text: q.text,
    author: q.author,
    createdAt: q.createdAt,
    length,
    terms: all,
  });
  for (const term of all)
    await insertOnce(c.postings, {
      _id: postingId(term, q.id),
      tf: text.get(term) ?? 0,
      ta: author.get(term) ?? 0,
    });
  // A deletion that arrived meanwhile: undo what was just written (the answer filters it out anyway).
  if ((await c.deleted.findOne({ _id: q.id })) !== null) {
    await removeQuote(c, q.id, all);
    return 'deleted';
  }
  return 'indexed';
}

/** `known`: the terms the caller just wrote (the document may already be gone, removed by the deletion). */
async function removeQuote(
  c: SearchCollections,
  quoteId: string,
  known: readonly string[] = [],
): Promise<void> {
  const doc = await c.documents.findOne({ _id: quoteId });
  for (const term of new Set([...known, ...(doc?.terms ?? [])]))
    await c.postings.deleteOne({ _id: postingId(term, quoteId) });
  await c.documents.deleteOne({ _id: quoteId });
}

export async function unindexQuote(c: SearchCollections, d: QuoteDeleted): Promise<void> {
  await insertOnce(c.deleted, { _id: d.id, deletedAt: d.deletedAt });
  await removeQuote(c, d.id);
}

/** Drops the whole index (before a replay rebuilds it). */
export async function clearIndex(c: SearchCollections): Promise<void> {
  await c.postings.deleteMany({});
  await c.documents.deleteMany({});
  await c.deleted.deleteMany({});
}

export interface SearchHit {
  readonly id: string;
  readonly text: string;
  readonly author: string;
  readonly createdAt: string;
  readonly score: number;
}

export interface SearchResult {
  readonly terms: readonly string[];
  readonly total: number;
  readonly hits: readonly SearchHit[];
}

/** At most this many distinct terms in a query; more are refused by the API. */
export const MAX_QUERY_TERMS = 10;
const K1 = 1.2;
const B = 0.75;
const AUTHOR_WEIGHT = 2;

/** All terms must match; ranked by BM25 (ties: newer first, then id); `offset`/`limit` page the ranking. */
export async function search(
  c: SearchCollections,
  query: string,
  page: { readonly offset: number; readonly limit: number },
): Promise<SearchResult> {
  const wanted = [...new Set(terms(query))].slice(0, MAX_QUERY_TERMS);
  if (wanted.length === 0) return { terms: [], total: 0, hits: [] };
  const lists = await Promise.all(
    wanted.map((term) =>
      c.postings.find({ _id: { $gte: `${term}${SEP}`, $lt: `${term}${SEP_END}` } }, { sort: { _id: 1 } }),
    ),
  );
  const byTerm = lists.map((list, i) => {
    const prefix = (wanted[i] as string).length + 1;
    return new Map(list.map((p) => [p._id.slice(prefix), p]));
  });
  // Intersect, smallest list first.
  const order = [...byTerm].sort((a, b) => a.size - b.size);
  let candidates = [...(order[0]?.keys() ?? [])];
  for (const m of order.slice(1)) candidates = candidates.filter((id) => m.has(id));
  if (candidates.length === 0) return { terms: wanted, total: 0, hits: [] };
  const [docs, deleted, totalDocs] = await Promise.all([
    c.documents.find({ _id: { $in: candidates } }),
    c.deleted.find({ _id: { $in: candidates } }),
    c.documents.countDocuments({}),
  ]);
  const gone = new Set(deleted.map((d) => d._id));
  const live = docs.filter((d) => !gone.has(d._id));
  const avgLength = live.reduce((s, d) => s + d.length, 0) / Math.max(1, live.length) || 1;
  const n = Math.max(totalDocs, live.length);
  const scored = live.map((d) => {
    let score = 0;
    byTerm.forEach((m) => {
      const p = m.get(d._id) as PostingDoc;
      const idf = Math.log(1 + (n - m.size + 0.5) / (m.size + 0.5));
      const f = p.tf + AUTHOR_WEIGHT * p.ta;
      score += (idf * (f * (K1 + 1))) / (f + K1 * (1 - B + (B * d.length) / avgLength));
    });
    return { id: d._id, text: d.text, author: d.author, createdAt: d.createdAt, score: round(score) };
  });
  scored.sort(
    (a, b) =>
      b.score - a.score ||
      (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0) ||
      (a.id < b.id ? -1 : 1),
  );
  return {
    terms: wanted,
    total: scored.length,
    hits: scored.slice(page.offset, page.offset + page.limit),
  };
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
