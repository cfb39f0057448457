/**
 * Loads a function folder: `handler.ts` (or `handler.js`) and `schemas/`. Every accepted and emitted
 * type must have a schema; anything missing stops the start with a message that names the file.
 * A bundle (platform/build/bundle.ts) registers its function and precompiled validators first with
 * `useBundledFunction`, so nothing is read from disk and no schema is compiled at start-up.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FunctionLoadError } from './errors.ts';
import type { SchemaSet } from './schema-set.ts';
import type { HttpFunction, SluiceFunction } from './types.ts';

export interface LoadedFunction {
  readonly fn: SluiceFunction;
  readonly schemas: SchemaSet;
}

/** A module that exports `serve`: a plain HTTP function (types.ts `HttpFunction`). */
export interface LoadedHttpFunction {
  readonly http: HttpFunction;
}

type FunctionModule = Partial<SluiceFunction> & Partial<HttpFunction>;

let bundled: { readonly module: FunctionModule; readonly schemas: SchemaSet } | undefined;

/** Called by a bundle's entry before main runs: the handler module and its schemas are in the file. */
export function useBundledFunction(module: FunctionModule, schemas: SchemaSet): void {
  bundled = { module, schemas };
}

const HANDLER_FILES = ['handler.ts', 'handler.js'] as const;

export async function loadFunction(dir: string): Promise<LoadedFunction | LoadedHttpFunction> {
  if (bundled !== undefined) {
    if (typeof bundled.module.serve === 'function') return { http: checkHttpFunction(bundled.module) };
    return { fn: checkFunction(bundled.module, 'the bundle'), schemas: bundled.schemas };
  }
  const file = HANDLER_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (file === undefined) throw new FunctionLoadError(`no handler.ts or handler.js in ${dir}`);
  const mod = (await import(pathToFileURL(file).href)) as FunctionModule;
  if (typeof mod.serve === 'function') return { http: checkHttpFunction(mod, file) };
  // Imported here, not at the top: ajv (~70 ms to load) is only needed when schemas are compiled now.
  const { loadSchemas } = await import('./validate.ts');
  return { fn: checkFunction(mod, file), schemas: await loadSchemas(join(dir, 'schemas')) };
}

function checkHttpFunction(mod: FunctionModule, where = 'the bundle'): HttpFunction {
  // One kind per module: an event handler beside `serve` would never be called.
  if (mod.handle !== undefined || mod.accepts !== undefined) {
    throw new FunctionLoadError(
      `${where} exports serve and handle/accepts: a function is either plain HTTP or CloudEvents`,
    );
  }
  return mod as HttpFunction;
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

/** A function folder found under `functions/`: `functions/<system>/<name>/` with a handler or a service.yaml. */
export interface FunctionFolder {
  /** The Knative Service name: the folder's name, unique across systems. */
  readonly name: string;
  /** The system folder it belongs to (`banking`, `platform`, …). */
  readonly system: string;
  readonly dir: string;
  readonly hasHandler: boolean;
  readonly hasService: boolean;
}

/** Folders under `functions/` that are not systems. */
const NOT_SYSTEMS = new Set(['runtime', 'node_modules']);
/** Folders inside a system that are not functions (its shared domain code). */
const NOT_FUNCTIONS = new Set(['lib', 'node_modules']);

/** The system folders under `functionsRoot` (`functions/<system>/`), sorted. */
export function listSystems(functionsRoot: string): string[] {
  return readdirSync(functionsRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !NOT_SYSTEMS.has(d.name) && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
}

/**
 * Every function folder under `functionsRoot` (`functions/<system>/<name>/`), sorted by name. The one
 * place that knows the layout: the local platform, the broker's reply-loop check, the bundler, the
 * image build and the deploy checks all list functions through it. Throws when two systems hold a
 * function of the same name (they would be one Knative Service in a namespace).
 */
export function listFunctions(functionsRoot: string): FunctionFolder[] {
  const found: FunctionFolder[] = [];
  for (const system of readdirSync(functionsRoot, { withFileTypes: true })) {
    if (!system.isDirectory() || NOT_SYSTEMS.has(system.name) || system.name.startsWith('.')) continue;
    const systemDir = join(functionsRoot, system.name);
    for (const entry of readdirSync(systemDir, { withFileTypes: true })) {
      if (!entry.isDirectory() || NOT_FUNCTIONS.has(entry.name) || entry.name.startsWith('.')) continue;
      const dir = join(systemDir, entry.name);
      const hasHandler = HANDLER_FILES.some((f) => existsSync(join(dir, f)));
      const hasService = existsSync(join(dir, 'service.yaml'));
      if (hasHandler || hasService)
        found.push({ name: entry.name, system: system.name, dir, hasHandler, hasService });
    }
  }
  found.sort((a, b) => a.name.localeCompare(b.name));
  for (let i = 1; i < found.length; i++) {
    const [a, b] = [found[i - 1], found[i]];
    if (a !== undefined && b !== undefined && a.name === b.name) {
      throw new FunctionLoadError(
        `two functions are named ${a.name} (${relative(functionsRoot, a.dir)}, ${relative(functionsRoot, b.dir)}): Knative Service names must be unique`,
      );
    }
  }
  return found;
}

/** The folder of the function named `name`, or undefined. */
export function findFunction(functionsRoot: string, name: string): FunctionFolder | undefined {
  return listFunctions(functionsRoot).find((f) => f.name === name);
}

/** What a function folder declares: the types it accepts and the types it may reply with. */
export interface FunctionDescription {
  readonly accepts: readonly string[];
  /** `emits` from the handler, else the schemas' types it does not accept. */
  readonly emits: readonly string[];
  /** Whether the handler exports `emits` (else `emits` was inferred from the schemas). */
  readonly emitsDeclared: boolean;
}

/** Reads a function's declared types by loading its handler module (the loader is the one place that does). */
export async function describeFunction(dir: string): Promise<FunctionDescription | undefined> {
  const file = HANDLER_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (file === undefined) return undefined;
  const mod = (await import(pathToFileURL(file).href)) as { emits?: unknown; accepts?: unknown };
  const accepts = Array.isArray(mod.accepts)
    ? mod.accepts.filter((t): t is string => typeof t === 'string')
    : [];
  if (Array.isArray(mod.emits))
    return {
      accepts,
      emits: mod.emits.filter((t): t is string => typeof t === 'string'),
      emitsDeclared: true,
    };
  let files: string[] = [];
  try {
    files = readdirSync(join(dir, 'schemas'));
  } catch {
    files = [];
  }
  const accepted = new Set(accepts);
  const emits = files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .filter((t) => !accepted.has(t));
  return { accepts, emits, emitsDeclared: false };
}
