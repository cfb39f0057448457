/**
 * Search terms from quote text, the same way for the index and for queries: case- and accent-insensitive
 * (the quotes are French and English). Unicode NFKD splits a letter from its accents, which are then dropped;
 * the ligatures NFKD keeps whole (œ, æ, ß) are spelled out, so "cœur" finds "coeur" and the reverse.
 * A term is a run of letters or digits: apostrophes and hyphens separate ("l'été" → "l", "ete").
 * No stemming and no stop words: every term of a query must match as written (ranking weighs common terms
 * down instead).
 */

const LIGATURES: Readonly<Record<string, string>> = { œ: 'oe', æ: 'ae', ß: 'ss', ø: 'o', đ: 'd', ł: 'l' };
const LIGATURE = /[œæßøđł]/g;
const MARKS = /\p{M}+/gu;
const SEPARATOR = /[^\p{L}\p{N}]+/u;

/** A term is at most this long; longer runs are cut (they cannot be meant as words). */
export const MAX_TERM_LENGTH = 64;

/** Lower case, accents and ligatures folded: the form terms are compared in. */
export function fold(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(MARKS, '')
    .replace(LIGATURE, (c) => LIGATURES[c] ?? c);
}

/** Every term of `text`, in order, repeats kept. */
export function terms(text: string): string[] {
  return fold(text)
    .split(SEPARATOR)
    .filter((t) => t !== '')
    .map((t) => t.slice(0, MAX_TERM_LENGTH));
}

/** Term → number of occurrences. */
export function termFrequencies(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of terms(text)) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}
