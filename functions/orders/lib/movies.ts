/**
 * The movie inventory's documents (inventory's own database, `inventory`): the stored shape, what the API
 * answers, and the title key the list filters on. Pure.
 */
export type MovieDoc = {
  readonly _id: string;
  readonly title: string;
  /** The title folded for the prefix filter: lower case, accents off, spaces collapsed (indexed). */
  readonly titleKey: string;
  readonly description: string;
  readonly createdAt: string;
  readonly updatedAt: string;
};

export interface Movie {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const MOVIE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const MAX_TITLE_FILTER = 200;

/** `Amélie  ` → `amelie`: what `?title=` is compared with, so `?title=ame` finds it. */
export function titleKey(title: string): string {
  return title.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** A MongoDB range that matches every key starting with `prefix` (an index range, not a scan). */
export function prefixRange(prefix: string): { $gte: string; $lt: string } {
  return { $gte: prefix, $lt: `${prefix}\uffff` };
}

export function publicMovie(doc: MovieDoc): Movie {
  return {
    id: doc._id,
    title: doc.title,
    description: doc.description,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}
