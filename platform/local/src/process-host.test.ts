import { describe, expect, it } from 'vitest';
import { containerHeapArgs } from './process-host.ts';

describe('containerHeapArgs', () => {
  it('gives an instance the heap its container limit would: a quarter of it as old space', () => {
    expect(containerHeapArgs(256 * 2 ** 20, undefined)).toEqual(['--max-old-space-size=64']);
    expect(containerHeapArgs(2 ** 30, '--enable-source-maps')).toEqual(['--max-old-space-size=256']);
  });

  it('leaves the heap alone without a limit, or when NODE_OPTIONS sets it', () => {
    expect(containerHeapArgs(undefined, undefined)).toEqual([]);
    expect(containerHeapArgs(256 * 2 ** 20, '--max-old-space-size=512')).toEqual([]);
  });
});
