/**
 * results-api as its image runs it (bench/bench.mk "BUNDLE CONTRACT"): `make bundle FN=results-api`, the folder
 * copied outside the repository (no node_modules around it but the package files bundle.json lists), `node
 * main.mjs`; its Swagger UI files are served from the bundle's own copy.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundledFunction, startBundledFunction } from '../../runtime/test/support.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
let bundled: BundledFunction | undefined;
let url: string;

beforeAll(async () => {
  bundled = await startBundledFunction(join(ROOT, 'functions/streams/results-api'));
  url = bundled.url;
}, 90_000);

afterAll(async () => {
  await bundled?.stop();
});

describe('results-api bundle', () => {
  it('serves Swagger UI from the files bundled beside it', async () => {
    for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
      const res = await fetch(`${url}/streams/docs/${file}`);
      expect(res.status, file).toBe(200);
      const served = Buffer.from(await res.arrayBuffer());
      expect(served.equals(await readFile(join(ROOT, 'node_modules/swagger-ui-dist', file))), file).toBe(
        true,
      );
    }
    const page = await fetch(`${url}/streams/docs`);
    expect(page.status).toBe(200);
    const doc = (await (await fetch(`${url}/streams/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toBe('3.1.0');
  });
});
