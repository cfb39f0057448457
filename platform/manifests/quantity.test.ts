import { describe, expect, it } from 'vitest';
import { quantity } from './quantity.ts';

const Mi = 2 ** 20;

describe('quantity', () => {
  it('reads CPU and memory as Kubernetes writes them', () => {
    expect(quantity('120m')).toBeCloseTo(0.12);
    expect(quantity('2')).toBe(2);
    expect(quantity(4)).toBe(4);
    expect(quantity('0.5')).toBe(0.5);
    expect(quantity('144Mi')).toBe(144 * Mi);
    expect(quantity('8Gi')).toBe(8 * 2 ** 30);
    expect(quantity('1k')).toBe(1000);
    expect(quantity('lots')).toBeUndefined();
  });
});
