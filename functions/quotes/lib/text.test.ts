import { describe, expect, it } from 'vitest';
import { fold, termFrequencies, terms } from './text.ts';

describe('text', () => {
  describe('fold', () => {
    it('drops accents and case, and spells out ligatures', () => {
      expect(fold('Éléphant CŒUR Ægir Straße')).toBe('elephant coeur aegir strasse');
    });
  });

  describe('terms', () => {
    it('splits on anything but letters and digits, French apostrophes included', () => {
      expect(terms("L'été, c’est la saison — n°1!")).toEqual([
        'l',
        'ete',
        'c',
        'est',
        'la',
        'saison',
        'n',
        '1',
      ]);
    });

    it('finds the same terms in accented and unaccented spellings', () => {
      expect(terms('Noël à Saint-Exupéry')).toEqual(terms('noel a saint exupery'));
    });

    it('cuts overlong runs', () => {
      expect(terms('a'.repeat(500))[0]).toHaveLength(64);
    });
  });

  describe('termFrequencies', () => {
    it('counts repeats', () => {
      expect(termFrequencies('to be or not to be')).toEqual(
        new Map([
          ['to', 2],
          ['be', 2],
          ['or', 1],
          ['not', 1],
        ]),
      );
    });
  });
});
