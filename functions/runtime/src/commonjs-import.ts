/**
 * The exports of a CommonJS package loaded with `await import()`, the same from source and from a bundle. From
 * source, Node gives a CommonJS module's named exports (cjs-module-lexer); in a bundle, esbuild's chunk for it
 * (CommonJS under `platform: node`) exposes `module.exports` as `default` only, so a destructured name is
 * undefined there (the api-gateway's image failed at start on `parseDocument is not a function`, yaml).
 *
 *   const { parseDocument } = commonJsExports(await import('yaml'), 'parseDocument');
 */
export function commonJsExports<T extends object>(mod: T | { readonly default: T }, probe: keyof T): T {
  if (probe in mod) return mod as T;
  const inner = (mod as { readonly default?: T }).default;
  if (inner !== undefined && probe in inner) return inner;
  throw new TypeError(`the module has no export ${String(probe)}, neither named nor on its default`);
}
