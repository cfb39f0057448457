/**
 * Repo-level conformance check: every `functions/<name>/examples/*.json` is a valid structured-mode
 * CloudEvent (parsed by the runtime's own strict receive()), named after its type, and its data
 * passes that type's schema in the same function's `schemas/`. Functions added later are picked up
 * by the directory scan; nothing here names a function.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { receive, STRUCTURED_CONTENT_TYPE } from './runtime/src/cloudevent/receive.ts';
import { loadSchemas } from './runtime/src/validate.ts';

const FUNCTIONS = import.meta.dirname;

const examples = readdirSync(FUNCTIONS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(FUNCTIONS, d.name, 'examples')))
  .flatMap((d) =>
    readdirSync(join(FUNCTIONS, d.name, 'examples'))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((file) => ({ fn: d.name, file, path: join(FUNCTIONS, d.name, 'examples', file) })),
  );

describe('function examples', () => {
  it('finds examples to check', () => {
    expect(examples.map((e) => e.fn)).toContain('hello');
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
