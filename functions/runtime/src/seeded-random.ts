/**
 * A seeded PRNG (mulberry32) for the dev tools' data — `make inject`, `make simulate`, `make stream` — and the tests
 * that replay it: the same seed, the same run. Hand-written because it is ten lines and a statistical-quality
 * dependency is not needed.
 */

/** Uniform numbers in [0, 1), the same sequence for the same seed. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
