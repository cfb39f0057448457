import { describe, expect, it } from 'vitest';
import { dataExports } from './bundle.ts';

describe("a built-in's named exports in a bundle", () => {
  it('leave out what loads a module when read: getters and lazy data properties', () => {
    const util = dataExports('node:util');
    expect(util).toEqual(expect.arrayContaining(['format', 'inspect', 'promisify', 'types']));
    // setTraceSigInt loads worker_threads, diff the assert diff, parseArgs its parser.
    for (const lazy of ['setTraceSigInt', 'diff', 'parseArgs', 'aborted']) expect(util).not.toContain(lazy);
    const fs = dataExports('node:fs');
    expect(fs).toEqual(expect.arrayContaining(['readFileSync', 'writeSync', 'constants']));
    for (const lazy of ['promises', 'ReadStream', 'opendir', 'Dir']) expect(fs).not.toContain(lazy);
    expect(dataExports('node:crypto')).not.toContain('webcrypto');
  });
});
