/**
 * Repo-level conformance check: every `functions/<system>/<name>/examples/*.json` is a valid structured-mode
 * CloudEvent (parsed by the runtime's own strict receive()), named after its type, and its data
 * passes that type's schema in the same function's `schemas/`. Functions added later are picked up
 * by the directory scan; nothing here names a function.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFunctions, loadSchemas, receive, STRUCTURED_CONTENT_TYPE } from './runtime/src/index.ts';

const FUNCTIONS = import.meta.dirname;

const examples = listFunctions(FUNCTIONS)
  .filter((f) => existsSync(join(f.dir, 'examples')))
  .flatMap((f) =>
    readdirSync(join(f.dir, 'examples'))
      .filter((file) => file.endsWith('.json'))
      .sort()
      .map((file) => ({ fn: relative(FUNCTIONS, f.dir), file, path: join(f.dir, 'examples', file) })),
  );

describe('function examples', () => {
  it('finds examples to check', () => {
    expect(examples.map((e) => e.fn)).toContain('demo/hello');
  });

  it.each(examples.map((e) => [`${e.fn}/examples/${e.file}`, e] as const))(
    '%s is a valid CloudEvent whose data passes its schema',
    async (_name, { fn, file, path }) => {
      const { event } = receive({ 'content-type': STRUCTURED_CONTENT_TYPE }, readFileSync(path));
      expect(file, 'an example is named <ce-type>.json').toBe(`${event.type}.json`);
      const schemas = await loadSchemas(join(FUNCTIONS, fn, 'schemas'));
      expect(schemas.types.has(event.type), `functions/${fn}/schemas/${event.type}.json exists`).toBe(true);
      expect(schemas.check(event.type, event.data)).toEqual([]);
      expect(() => schemas.validate(event)).not.toThrow();
    },
  );
});
