/**
 * Loads a function folder: `handler.ts` (or the bundled `handler.js` in an image) and `schemas/`.
 * Every accepted and emitted type must have a schema; anything missing stops the start with a message
 * that names the file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FunctionLoadError } from './errors.ts';
import type { SluiceFunction } from './types.ts';
import { loadSchemas, type SchemaSet } from './validate.ts';

export interface LoadedFunction {
  readonly fn: SluiceFunction;
  readonly schemas: SchemaSet;
}

export async function loadFunction(dir: string): Promise<LoadedFunction> {
  const file = ['handler.ts', 'handler.js'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (file === undefined) throw new FunctionLoadError(`no handler.ts or handler.js in ${dir}`);
  const mod = (await import(pathToFileURL(file).href)) as Partial<SluiceFunction>;
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
