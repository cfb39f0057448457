import { describe, expect, it } from 'vitest';
import { summariseAllocations } from './heap-sampling.ts';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}
const node = (functionName: string, url: string, selfSize: number, children: Node[] = []): Node => ({
  callFrame: { functionName, url, lineNumber: 9 },
  selfSize,
  children,
});

describe('summariseAllocations', () => {
  it('gives bytes per request by function, largest first, a builtin named with its caller', () => {
    const head = node('(root)', '', 0, [
      node('handle', 'file:///repo/main.mjs', 3000, [
        node('exec', '', 1000),
        node('parse', 'file:///repo/main.mjs', 500),
      ]),
      node('parse', 'file:///repo/main.mjs', 1500),
      node('exec', '', 200),
    ]);
    const summary = summariseAllocations(head, 10, '/repo');
    expect(summary.bytesPerRequest).toBe(620);
    expect(summary.top).toEqual([
      ['handle main.mjs:10', 300],
      ['parse main.mjs:10', 200],
      ['exec < handle main.mjs:10', 100],
      ['exec < (root)', 20],
    ]);
  });
});
