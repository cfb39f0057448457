import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_TYPES_FILE, generateEventTypes, syncEventTypes, typeNameOf } from './event-types.ts';

const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'A thing happened',
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string' }, kind: { enum: ['a', 'b'] } },
};

describe('event-types', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** functions/<system>/<fn>/ with the given schemas and a handler, in a temporary root. */
  function functionsRoot(schemas: Record<string, unknown>): { root: string; dir: string } {
    const root = mkdtempSync(join(tmpdir(), 'sluice-types-'));
    dirs.push(root);
    const dir = join(root, 'functions/demo/thing');
    mkdirSync(join(dir, 'schemas'), { recursive: true });
    writeFileSync(join(dir, 'handler.ts'), 'export const accepts = [];\n');
    for (const [type, schema] of Object.entries(schemas))
      writeFileSync(join(dir, 'schemas', `${type}.json`), JSON.stringify(schema));
    return { root, dir };
  }

  it('names a type after its CloudEvent type, without the project prefix', () => {
    expect(typeNameOf('dev.sluice.hello.requested.v1')).toBe('HelloRequestedV1');
    expect(typeNameOf('dev.sluice.banking.transaction-batch.closed.v2')).toBe(
      'BankingTransactionBatchClosedV2',
    );
    expect(typeNameOf('com.example.3d.made.v1')).toBe('ComExample3dMadeV1');
  });

  it('generates an interface per schema, the Events map and Handle', async () => {
    const { dir } = functionsRoot({ 'dev.sluice.demo.thing.happened.v1': SCHEMA });
    const text = await generateEventTypes(dir);
    expect(text).toContain("export interface DemoThingHappenedV1 {\n  id: string;\n  kind?: 'a' | 'b';\n}");
    expect(text).toContain("  'dev.sluice.demo.thing.happened.v1': DemoThingHappenedV1;");
    expect(text).toContain('export type Handle<');
    expect(text).toContain(' * A thing happened');
  });

  it('finds a stale file, a missing one and an orphan, and rewrites them with write', async () => {
    const { root, dir } = functionsRoot({ 'dev.sluice.demo.thing.happened.v1': SCHEMA });
    const functions = join(root, 'functions');
    expect(await syncEventTypes(functions, { write: false })).toEqual({
      stale: [`functions/demo/thing/${EVENT_TYPES_FILE}`],
      orphans: [],
      diverged: [],
    });
    await syncEventTypes(functions, { write: true });
    expect(await syncEventTypes(functions, { write: false })).toEqual({
      stale: [],
      orphans: [],
      diverged: [],
    });
    writeFileSync(
      join(dir, 'schemas/dev.sluice.demo.thing.happened.v1.json'),
      JSON.stringify({ ...SCHEMA, required: [] }),
    );
    expect((await syncEventTypes(functions, { write: false })).stale).toHaveLength(1);
    await syncEventTypes(functions, { write: true });
    expect(readFileSync(join(dir, EVENT_TYPES_FILE), 'utf8')).toContain('  id?: string;');
    rmSync(join(dir, 'schemas'), { recursive: true });
    expect(await syncEventTypes(functions, { write: true })).toEqual({
      stale: [],
      orphans: [`functions/demo/thing/${EVENT_TYPES_FILE}`],
      diverged: [],
    });
  });

  it('finds a type whose copies differ between functions (formatting aside), one contract per type', async () => {
    const { root } = functionsRoot({ 'dev.sluice.demo.thing.happened.v1': SCHEMA });
    const other = join(root, 'functions/demo/other/schemas');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, '..', 'handler.ts'), 'export const accepts = [];\n');
    writeFileSync(join(other, 'dev.sluice.demo.thing.happened.v1.json'), JSON.stringify(SCHEMA, null, 2));
    const functions = join(root, 'functions');
    expect((await syncEventTypes(functions, { write: false })).diverged).toEqual([]);
    writeFileSync(
      join(other, 'dev.sluice.demo.thing.happened.v1.json'),
      JSON.stringify({ ...SCHEMA, required: [] }),
    );
    expect((await syncEventTypes(functions, { write: false })).diverged).toEqual([
      {
        type: 'dev.sluice.demo.thing.happened.v1',
        files: [
          'functions/demo/other/schemas/dev.sluice.demo.thing.happened.v1.json',
          'functions/demo/thing/schemas/dev.sluice.demo.thing.happened.v1.json',
        ],
      },
    ]);
  });

  it('says which function is unknown', async () => {
    const { root } = functionsRoot({});
    await expect(syncEventTypes(join(root, 'functions'), { write: false, only: ['nope'] })).rejects.toThrow(
      'no function named nope',
    );
  });
});
