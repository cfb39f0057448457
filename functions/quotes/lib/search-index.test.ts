import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../../runtime/src/index.ts';
import type { QuoteCreated, QuoteDeleted } from './quotes.ts';
import { clearIndex, indexQuote, search, searchCollections, unindexQuote } from './search-index.ts';

const quote = (n: number, text: string, author: string): QuoteCreated => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  text,
  author,
  createdAt: `2025-01-01T00:00:0${n}.000Z`,
  createdBy: 'ada',
});
const deletion = (q: QuoteCreated): QuoteDeleted => ({
  id: q.id,
  deletedAt: '2025-02-01T00:00:00.000Z',
  deletedBy: 'ada',
});

const Q = [
  quote(
    1,
    "On ne voit bien qu'avec le cœur. L'essentiel est invisible pour les yeux.",
    'Antoine de Saint-Exupéry',
  ),
  quote(2, 'Le coeur a ses raisons que la raison ne connaît point.', 'Blaise Pascal'),
  quote(3, 'Be yourself; everyone else is already taken.', 'Oscar Wilde'),
  quote(4, 'The heart has its reasons; a heart that knows.', 'Pascal, translated'),
  quote(5, 'The heart is a lonely hunter.', 'Carson McCullers'),
];

async function ids(c: ReturnType<typeof searchCollections>, q: string): Promise<string[]> {
  return (await search(c, q, { offset: 0, limit: 10 })).hits.map((h) => h.id.slice(-1));
}

describe('search-index', () => {
  it('matches every term, case- and accent-insensitively, both ways', async () => {
    const c = searchCollections(new MemoryDocumentStore());
    for (const q of Q) await indexQuote(c, q);
    expect(await ids(c, 'COEUR')).toEqual(expect.arrayContaining(['1', '2']));
    expect(await ids(c, 'cœur raisons')).toEqual(['2']);
    expect(await ids(c, 'connait')).toEqual(['2']);
    expect(await ids(c, 'exupéry ESSENTIEL')).toEqual(['1']);
    expect(await ids(c, 'coeur wilde')).toEqual([]);
  });

  it('ranks the quote where the terms weigh more first, and pages the ranking', async () => {
    const c = searchCollections(new MemoryDocumentStore());
    for (const q of Q) await indexQuote(c, q);
    expect(await ids(c, 'heart')).toEqual(['4', '5']); // twice in 4, once in 5
    expect(await ids(c, 'mccullers')).toEqual(['5']); // in the author only
    const page = await search(c, 'coeur', { offset: 1, limit: 1 });
    expect(page.total).toBe(2);
    expect(page.hits).toHaveLength(1);
  });

  it('converges whatever the order and number of deliveries', async () => {
    const log: (['created', QuoteCreated] | ['deleted', QuoteDeleted])[] = [
      ...Q.map((q) => ['created', q] as ['created', QuoteCreated]),
      ['deleted', deletion(Q[1] as QuoteCreated)],
    ];
    const orders = [
      log,
      [...log].reverse(),
      [...log, ...log],
      [log[4], log[1], log[4], ...log],
    ] as (typeof log)[];
    const answers = [];
    for (const order of orders) {
      const c = searchCollections(new MemoryDocumentStore());
      for (const [kind, data] of order) {
        if (kind === 'created') await indexQuote(c, data as QuoteCreated);
        else await unindexQuote(c, data as QuoteDeleted);
      }
      answers.push([await ids(c, 'coeur'), await ids(c, 'raisons'), await ids(c, 'pascal')]);
    }
    for (const a of answers) expect(a).toEqual([['1'], [], ['4']]);
  });

  it('is empty after clearIndex, and whole again after the same events are applied again', async () => {
    const c = searchCollections(new MemoryDocumentStore());
    for (const q of Q) await indexQuote(c, q);
    const before = await search(c, 'coeur', { offset: 0, limit: 10 });
    await clearIndex(c);
    expect((await search(c, 'coeur', { offset: 0, limit: 10 })).total).toBe(0);
    for (const q of Q) await indexQuote(c, q);
    expect(await search(c, 'coeur', { offset: 0, limit: 10 })).toEqual(before);
  });

  it('answers a query without words with nothing', async () => {
    const c = searchCollections(new MemoryDocumentStore());
    expect(await search(c, ' ,;! ', { offset: 0, limit: 10 })).toEqual({ terms: [], total: 0, hits: [] });
  });
});
