import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nodeCryptoLoaded, randomBytes, sha256 } from './lazy-crypto.ts';

const INPUTS: (string | Uint8Array)[] = [
  '',
  'abc',
  'fn\0/orders/web\0ord-1',
  'é漢字🙂 and a lone surrogate \ud800',
  'x'.repeat(55),
  'x'.repeat(64),
  'y'.repeat(10_000),
  Buffer.from([0, 1, 2, 255, 254]),
  new Uint8Array(Buffer.from('a slice of a larger buffer').subarray(2, 9)),
];

describe('lazy-crypto', () => {
  it('answers the first calls without node:crypto, with the same digests, and switches to it a turn later', async () => {
    expect(nodeCryptoLoaded()).toBe(false);
    const before = INPUTS.flatMap((i) => [sha256(i, 'hex'), sha256(i, 'base64url')]);
    const bytes = randomBytes(16);
    expect(bytes).toHaveLength(16);
    expect(nodeCryptoLoaded()).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(nodeCryptoLoaded()).toBe(true);
    const expected = INPUTS.flatMap((i) => [hash('sha256', i, 'hex'), hash('sha256', i, 'base64url')]);
    expect(before).toEqual(expected);
    expect(INPUTS.flatMap((i) => [sha256(i, 'hex'), sha256(i, 'base64url')])).toEqual(expected);
    expect(randomBytes(32)).toHaveLength(32);
  });
});
