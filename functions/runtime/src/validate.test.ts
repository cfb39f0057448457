import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionLoadError, InvalidEventError } from './errors.ts';
import type { CloudEvent } from './types.ts';
import { compileSchemas, loadSchemas } from './validate.ts';

const TYPE = 'dev.sluice.test.order.placed.v1';
const SCHEMA = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  required: ['orderId', 'amount'],
  properties: {
    orderId: { type: 'string', format: 'uuid' },
    amount: { type: 'integer', minimum: 1 },
  },
});

function event(data: unknown, datacontenttype = 'application/json'): CloudEvent {
  return { specversion: '1.0', id: '1', source: '/s', type: TYPE, datacontenttype, data, extensions: {} };
}

describe('validate', () => {
  describe('compileSchemas', () => {
    it('names the file of a schema that does not compile', () => {
      const broken = JSON.stringify({ type: 'object', properties: { a: { type: 'strnig' } } });
      expect(() => compileSchemas([{ type: TYPE, file: '/fn/schemas/broken.json', text: broken }])).toThrow(
        expect.objectContaining({
          name: 'FunctionLoadError',
          message: expect.stringContaining('/fn/schemas/broken.json'),
        }),
      );
    });

    it('names the file of a schema that is not JSON', () => {
      expect(() => compileSchemas([{ type: TYPE, file: '/fn/schemas/x.json', text: '{' }])).toThrow(
        FunctionLoadError,
      );
    });

    it('turns the first ajv error into invalid-params naming its data path and schema path', () => {
      const schemas = compileSchemas([{ type: TYPE, file: 'x.json', text: SCHEMA }]);
      const caught = (data: unknown): InvalidEventError => {
        try {
          schemas.validate(event(data));
        } catch (err) {
          if (err instanceof InvalidEventError) return err;
          throw err;
        }
        throw new Error('no error');
      };
      const err = caught({ orderId: crypto.randomUUID(), amount: 0 });
      expect(err.status).toBe(400);
      expect(err.reason).toBe('schema');
      expect(err.invalidParams).toEqual([
        { name: 'data/amount', reason: expect.stringMatching(/>= 1.*#\/properties\/amount\/minimum/) },
      ]);
      // Validation stops at the first error: a bad event costs one error however many it has.
      expect(caught({ orderId: 'not-a-uuid', amount: 0, extra: true }).invalidParams).toHaveLength(1);
      expect(caught({ orderId: crypto.randomUUID(), amount: 3, extra: true }).invalidParams).toEqual([
        { name: 'data/extra', reason: expect.stringContaining('must NOT have additional properties') },
      ]);
    });

    it('accepts valid data and ignores types without a schema', () => {
      const schemas = compileSchemas([{ type: TYPE, file: 'x.json', text: SCHEMA }]);
      expect(() => schemas.validate(event({ orderId: crypto.randomUUID(), amount: 3 }))).not.toThrow();
      expect(() => schemas.validate({ ...event(42), type: 'other' })).not.toThrow();
      expect(schemas.types).toEqual(new Set([TYPE]));
    });

    it('answers 415 when data of a schema-typed event is not JSON', () => {
      const schemas = compileSchemas([{ type: TYPE, file: 'x.json', text: SCHEMA }]);
      expect(() => schemas.validate(event('x', 'text/plain'))).toThrow(
        expect.objectContaining({ status: 415 }),
      );
    });

    it('checks plain data for a type', () => {
      const schemas = compileSchemas([{ type: TYPE, file: 'x.json', text: SCHEMA }]);
      expect(schemas.check(TYPE, { orderId: crypto.randomUUID(), amount: 1 })).toEqual([]);
      expect(schemas.check(TYPE, {}).length).toBe(1);
    });
  });

  describe('loadSchemas', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sluice-schemas-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('loads one schema per file, named by the CloudEvent type', async () => {
      await writeFile(join(dir, `${TYPE}.json`), SCHEMA);
      await writeFile(join(dir, 'README.md'), 'not a schema');
      const schemas = await loadSchemas(dir);
      expect([...schemas.types]).toEqual([TYPE]);
    });

    it('names the failing file when one does not compile', async () => {
      await writeFile(join(dir, 'dev.sluice.test.bad.v1.json'), '{"type": 12}');
      await expect(loadSchemas(dir)).rejects.toThrow(/dev\.sluice\.test\.bad\.v1\.json/);
    });
  });
});
