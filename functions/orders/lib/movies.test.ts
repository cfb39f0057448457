import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../../runtime/src/index.ts';
import { publicMovie, titleFilter, titleWords } from './movies.ts';

describe('titleWords', () => {
  it.each([
    ['Amélie', ['amelie']],
    ['  The   Third Man ', ['the', 'third', 'man']],
    ['Le Fabuleux Destin d’Amélie Poulain', ['le', 'fabuleux', 'destin', 'd', 'amelie', 'poulain']],
    ['ÉTÉ 85', ['ete', '85']],
  ])('%j → %j', (title, words) => expect(titleWords(title)).toEqual(words));
});

describe('titleFilter', () => {
  it('asks every word of the query to start a word of the title', () => {
    expect(titleFilter('Third MAN')).toEqual({
      $and: [
        { titleWords: { $elemMatch: { $gte: 'third', $lt: 'third\uffff' } } },
        { titleWords: { $elemMatch: { $gte: 'man', $lt: 'man\uffff' } } },
      ],
    });
    expect(titleFilter('  ')).toBeUndefined();
  });

  it('matches on the memory store as on MongoDB (mingo)', async () => {
    const store = new MemoryDocumentStore();
    const movies = store.collection('movies');
    for (const [i, title] of ['The Third Man', 'Amélie', 'American Graffiti', 'Manhattan'].entries())
      await movies.insertOne({ _id: String(i), title, titleWords: titleWords(title) });
    const titles = async (q: string) => (await movies.find(titleFilter(q) ?? {})).map((m) => m.title).sort();
    expect(await titles('third')).toEqual(['The Third Man']);
    expect(await titles('AME')).toEqual(['American Graffiti', 'Amélie']);
    expect(await titles('man')).toEqual(['Manhattan', 'The Third Man']);
    expect(await titles('third man')).toEqual(['The Third Man']);
    expect(await titles('hird')).toEqual([]);
  });
});

describe('publicMovie', () => {
  it('answers the id and leaves the folded key out', () => {
    const m = publicMovie({
      _id: 'x',
      title: 'Amélie',
      titleWords: ['amelie'],
      description: 'd',
      createdAt: 'c',
      updatedAt: 'u',
    });
    expect(m).toEqual({ id: 'x', title: 'Amélie', description: 'd', createdAt: 'c', updatedAt: 'u' });
  });
});
