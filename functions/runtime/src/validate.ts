/**
 * One JSON Schema (2020-12) per CloudEvent type, compiled once at start-up with ajv; the hot path
 * only calls the compiled function. A schema that does not compile stops the start with its file name.
 * Bundles skip this module: their validators are precompiled at build time (platform/build/bundle.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { _, Ajv2020, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FormatsPlugin } from 'ajv-formats';
import * as ajvFormats from 'ajv-formats';
import { dateTimeFormat } from './date-time-format.ts';
import { FunctionLoadError } from './errors.ts';
import { type SchemaSet, schemaSet } from './schema-set.ts';

export type { SchemaSet } from './schema-set.ts';

// ajv-formats is CommonJS: under Node's ESM loader its `default` is the module.exports object,
// whose own `default` is the plugin.
const addFormats = (ajvFormats as unknown as { default: { default: FormatsPlugin } }).default.default;

/**
 * The ajv options the runtime validates with; the bundler precompiles with the same ones. Validation
 * stops at the first error (`allErrors: false`): an event with a hundred thousand extra keys costs one
 * error, not a hundred thousand (docs/runtime.md, "Bad input costs little").
 */
export const AJV_OPTIONS = { allErrors: false, strict: true } as const satisfies Options;

/**
 * Where standalone code (platform/build/bundle.ts) requires formats from: ajv-formats' set with the fast
 * `date-time`. Only read at build time, from the source tree; esbuild resolves the path into the bundle.
 */
const FORMATS_MODULE = join(import.meta.dirname, 'date-time-format.ts');

/** An ajv instance configured as the runtime's (formats included); `extra` adds e.g. standalone `code`. */
export function createAjv(extra: Options = {}): Ajv2020 {
  // Set before addFormats, which points `code.formats` at ajv-formats' own module only when it is unset.
  const code = { ...extra.code, formats: extra.code?.formats ?? _`require(${FORMATS_MODULE}).formats` };
  const ajv = new Ajv2020({ ...AJV_OPTIONS, ...extra, code });
  addFormats(ajv);
  // ajv-formats' date-time costs thousands of instructions per event; ours answers the same, ~10x cheaper.
  ajv.addFormat('date-time', dateTimeFormat);
  return ajv;
}

/** Loads `<dir>/*.json`; each file name (without .json) is the CloudEvent type it describes. */
export async function loadSchemas(dir: string): Promise<SchemaSet> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  } catch {
    files = [];
  }
  const sources = await Promise.all(
    files.map(async (file) => ({ file, text: await readFile(join(dir, file), 'utf8') })),
  );
  return compileSchemas(
    sources.map(({ file, text }) => ({ type: file.slice(0, -5), file: join(dir, file), text })),
  );
}

export function compileSchemas(sources: readonly { type: string; file: string; text: string }[]): SchemaSet {
  const ajv = createAjv();
  const validators = new Map<string, ValidateFunction>();
  for (const { type, file, text } of sources) {
    try {
      validators.set(type, ajv.compile(JSON.parse(text) as object));
    } catch (err) {
      throw new FunctionLoadError(`schema ${file} does not compile: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return schemaSet(validators);
}
