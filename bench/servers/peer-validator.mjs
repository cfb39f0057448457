// What a user of the peers would write: ajv (draft 2020-12 + formats) compiling the event's schema at start-up.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule.default ?? addFormatsModule;
const SCHEMA = new URL(
  '../fixtures/order-sink/schemas/dev.sluice.bench.order.placed.v1.json',
  import.meta.url,
);

export function compileValidator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
}
