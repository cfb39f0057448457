/**
 * Loads a function folder: `handler.ts` (or `handler.js`) and `schemas/`. Every accepted and emitted
 * type must have a schema; anything missing stops the start with a message that names the file.
 * A bundle (platform/build/bundle.ts) registers its function and precompiled validators first with
 * `useBundledFunction`, so nothing is read from disk and no schema is compiled at start-up.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FunctionLoadError } from './errors.ts';
import type { SchemaSet } from './schema-set.ts';
import type { SluiceFunction } from './types.ts';

export interface LoadedFunction {
  readonly fn: SluiceFunction;
  readonly schemas: SchemaSet;
}

let bundled: { readonly module: Partial<SluiceFunction>; readonly schemas: SchemaSet } | undefined;

/** Called by a bundle's entry before main runs: the handler module and its schemas are in the file. */
export function useBundledFunction(module: Partial<SluiceFunction>, schemas: SchemaSet): void {
  bundled = { module, schemas };
}

export async function loadFunction(dir: string): Promise<LoadedFunction> {
  if (bundled !== undefined)
    return { fn: checkFunction(bundled.module, 'the bundle'), schemas: bundled.schemas };
  const file = ['handler.ts', 'handler.js'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (file === undefined) throw new FunctionLoadError(`no handler.ts or handler.js in ${dir}`);
  const mod = (await import(pathToFileURL(file).href)) as Partial<SluiceFunction>;
  // Imported here, not at the top: ajv (~70 ms to load) is only needed when schemas are compiled now.
  const { loadSchemas } = await import('./validate.ts');
  return { fn: checkFunction(mod, file), schemas: await loadSchemas(join(dir, 'schemas')) };
}

export function checkFunction(mod: Partial<SluiceFunction>, where: string): SluiceFunction {
  if (typeof mod.handle !== 'function')
    throw new FunctionLoadError(`${where} must export a function named handle`);
  if (!Array.isArray(mod.accepts) || mod.accepts.some((t) => typeof t !== 'string' || t === '')) {
    throw new FunctionLoadError(
      `${where} must export accepts: the CloudEvent types it handles (an array, possibly empty)`,
    );
  }
  return mod as SluiceFunction;
}

/** Every accepted and emitted type needs a schema: an unvalidated type is a hole in the contract. */
export function checkSchemasCover(fn: SluiceFunction, schemas: SchemaSet, dir: string): void {
  const missing = [...fn.accepts, ...(fn.emits ?? [])].filter((t) => !schemas.types.has(t));
  if (missing.length > 0) {
    throw new FunctionLoadError(
      `missing schema file(s) in ${join(dir, 'schemas')}: ${missing.map((t) => `${t}.json`).join(', ')}`,
    );
  }
}
