import { describe, expect, it } from 'vitest';
import { commonJsExports } from './commonjs-import.ts';

describe('commonJsExports', () => {
  const exports = { parseDocument: () => 'doc' };

  it("takes the named export when Node gave it (source: cjs-module-lexer's names)", () => {
    expect(commonJsExports(exports, 'parseDocument')).toBe(exports);
  });

  it("takes module.exports from `default` when only that is there (esbuild's chunk in a bundle)", () => {
    expect(commonJsExports({ default: exports }, 'parseDocument')).toBe(exports);
  });

  it('says which export is missing instead of handing back undefined', () => {
    expect(() => commonJsExports({ default: {} } as { default: typeof exports }, 'parseDocument')).toThrow(
      /no export parseDocument/,
    );
  });
});
