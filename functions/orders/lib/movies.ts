/**
 * The movie inventory's documents (inventory's own database, `inventory`): the stored shape, what the API
 * answers, and the title key the list filters on. Pure.
 */
export type MovieDoc = {
  readonly _id: string;
  readonly title: string;
  /** The title's words folded for the filter: lower case, accents off (`?title=third` finds The Third Man; indexed). */
  readonly titleWords: readonly string[];
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

/** `Le Fabuleux Destin d’Amélie` → `['le', 'fabuleux', 'destin', 'd', 'amelie']`: case and accents off, split
 * on anything but letters and digits. Stored with the movie, and applied to `?title=` the same way. */
export function titleWords(title: string): string[] {
  return title
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w !== '');
}

/** At most this many words of a `?title=` filter are used. */
export const MAX_FILTER_WORDS = 8;

/**
 * The store filter for `?title=`: every word of it starts some word of the title (`third man`, `ame`), as one
 * `$elemMatch` range per word over the indexed `titleWords` (a multikey index range on MongoDB). Undefined for none.
 */
export function titleFilter(query: string): Record<string, unknown> | undefined {
  const words = titleWords(query).slice(0, MAX_FILTER_WORDS);
  if (words.length === 0) return undefined;
  return { $and: words.map((w) => ({ titleWords: { $elemMatch: { $gte: w, $lt: `${w}\uffff` } } })) };
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
