/**
 * One JSON Schema (2020-12) per CloudEvent type, compiled once at start-up with ajv; the hot path
 * only calls the compiled function. A schema that does not compile stops the start with its file name.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FormatsPlugin } from 'ajv-formats';
import * as ajvFormats from 'ajv-formats';
import { isJsonMediaType, mediaType } from './cloudevent/receive.ts';
import { FunctionLoadError, InvalidEventError, type InvalidParam } from './errors.ts';
import type { CloudEvent } from './types.ts';

// ajv-formats is CommonJS: under Node's ESM loader its `default` is the module.exports object,
// whose own `default` is the plugin.
const addFormats = (ajvFormats as unknown as { default: { default: FormatsPlugin } }).default.default;

export interface SchemaSet {
  /** Types that have a schema file. */
  readonly types: ReadonlySet<string>;
  /** Throws InvalidEventError naming each failing schema path; no-op for types without a schema. */
  validate(event: CloudEvent): void;
  /** Validates plain data against a type's schema (used for replies in tests and by injectors). */
  check(type: string, data: unknown): readonly InvalidParam[];
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
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
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
  const check = (type: string, data: unknown): readonly InvalidParam[] => {
    const validator = validators.get(type);
    if (validator === undefined || validator(data)) return [];
    return toParams(validator.errors ?? []);
  };
  return {
    types: new Set(validators.keys()),
    check,
    validate(event) {
      if (!validators.has(event.type)) return;
      const media = mediaType(event.datacontenttype);
      if (media !== '' && !isJsonMediaType(media)) {
        throw new InvalidEventError(
          `events of type ${event.type} carry JSON data; got Content-Type "${media}"`,
          [{ name: 'datacontenttype', reason: 'must be application/json' }],
          415,
        );
      }
      const params = check(event.type, event.data);
      if (params.length > 0) {
        throw new InvalidEventError(`data does not match the schema of ${event.type}`, params, 400, 'schema');
      }
    },
  };
}

function toParams(errors: readonly ErrorObject[]): InvalidParam[] {
  return errors.map((e) => ({
    name: `data${e.instancePath}`,
    reason: `${e.message ?? 'is invalid'} (schema ${e.schemaPath})`,
  }));
}
