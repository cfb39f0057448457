/**
 * A seeded PRNG (the runtime's mulberry32, `seededUniform`) with integers and picks: the injector's runs and the
 * property tests are reproducible from a seed.
 */
import { seededUniform } from '../../runtime/src/index.ts';

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

export function seededRandom(seed: number): Random {
  const next = seededUniform(seed);
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[int(0, items.length - 1)] as T;
    },
  };
}
