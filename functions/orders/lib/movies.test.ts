import { describe, expect, it } from 'vitest';
import { prefixRange, publicMovie, titleKey } from './movies.ts';

describe('titleKey', () => {
  it.each([
    ['Amélie', 'amelie'],
    ['  The   Third Man ', 'the third man'],
    ['ÉTÉ', 'ete'],
  ])('%j → %j', (title, key) => expect(titleKey(title)).toBe(key));
});

describe('prefixRange', () => {
  it('takes every key that starts with the prefix and nothing else', () => {
    const r = prefixRange('ame');
    const inRange = (k: string) => k >= r.$gte && k < r.$lt;
    expect(['ame', 'amelie', 'american psycho'].every(inRange)).toBe(true);
    expect(['am', 'amf', 'bame'].some(inRange)).toBe(false);
  });
});

describe('publicMovie', () => {
  it('answers the id and leaves the folded key out', () => {
    const m = publicMovie({
      _id: 'x',
      title: 'Amélie',
      titleKey: 'amelie',
      description: 'd',
      createdAt: 'c',
      updatedAt: 'u',
    });
    expect(m).toEqual({ id: 'x', title: 'Amélie', description: 'd', createdAt: 'c', updatedAt: 'u' });
  });
});
