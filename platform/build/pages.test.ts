import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction } from './bundle.ts';
import { buildPage, externalReferences, findPages, PageError } from './pages.ts';

let base: string;

async function writePage(owner: string, files: Record<string, string>): Promise<string> {
  const dir = join(owner, 'page');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

const HTML = `<!doctype html>
<html lang="en"><head><link rel="stylesheet" href="main.css"><script type="module" src="main.js"></script></head>
<body><main id="app"></main></body></html>`;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'sluice-pages-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('buildPage', () => {
  it('bundles main.ts with its imports and CSS into static/, beside copies of index.html and assets/', async () => {
    const owner = join(base, 'console');
    const dir = await writePage(owner, {
      'index.html': HTML,
      'main.ts': `import './look.css';\nimport { greet } from './views/greet.ts';\ndocument.querySelector('#app')!.textContent = greet('Ada');\n`,
      'views/greet.ts': `export const greet = (name: string): string => \`Hello, \${name}\`;\n`,
      'look.css': 'main { color: rebeccapurple; }\n',
      'assets/outline.geojson': '{"type":"FeatureCollection","features":[]}',
    });
    const r = await buildPage({ dir });
    expect(r.out).toBe(join(owner, 'static'));
    expect(r.files).toEqual(
      expect.arrayContaining(['index.html', 'main.js', 'main.js.map', 'main.css', 'assets/outline.geojson']),
    );
    const js = await readFile(join(owner, 'static', 'main.js'), 'utf8');
    expect(js).toContain('Hello, ');
    expect(js).not.toMatch(/\bimport\b[^;]*from/);
    expect(await readFile(join(owner, 'static', 'main.css'), 'utf8')).toMatch(/color:\s*#639/);
    expect(await readFile(join(owner, 'static', 'index.html'), 'utf8')).toBe(HTML);
    expect(r.bytes).toBeGreaterThan(0);
  });

  it('refuses an index.html that loads from another origin (no CDN)', async () => {
    const dir = await writePage(join(base, 'cdn'), {
      'index.html': '<script src="https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"></script>',
      'main.ts': 'export {};\n',
    });
    await expect(buildPage({ dir })).rejects.toThrow(/unpkg\.com.*no CDN/);
    expect(existsSync(join(base, 'cdn', 'static'))).toBe(false);
  });

  it('names the file and line of a build error and keeps the previous output', async () => {
    const owner = join(base, 'broken');
    const dir = await writePage(owner, { 'index.html': HTML, 'main.ts': 'export const ok = 1;\n' });
    await buildPage({ dir });
    await writeFile(join(dir, 'main.ts'), "import { nothing } from './missing.ts';\nconsole.log(nothing);\n");
    const err = await buildPage({ dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PageError);
    expect((err as Error).message).toMatch(/main\.ts:1: Could not resolve "\.\/missing\.ts"/);
    expect(await readFile(join(owner, 'static', 'main.js'), 'utf8')).toContain('ok');
  });

  it('refuses a folder without index.html and main.ts', async () => {
    await expect(buildPage({ dir: join(base, 'nothing') })).rejects.toThrow(/needs index\.html and main\.ts/);
  });
});

describe('externalReferences', () => {
  it('lists what leaves the origin and nothing relative, absolute-path or data:', () => {
    expect(
      externalReferences(
        `<link href="main.css"><img src="/logo.png"><img src='data:image/png;base64,AA'><script src=//cdn.example/x.js></script><a href="http://example.com">x</a>`,
      ),
    ).toEqual(['//cdn.example/x.js', 'http://example.com']);
  });
});

describe('findPages', () => {
  it('finds the page/ folders under functions/ and platform/', async () => {
    const root = join(base, 'repo');
    await writePage(join(root, 'functions', 'fleet', 'fleet-web'), { 'index.html': HTML, 'main.ts': '' });
    await writePage(join(root, 'platform', 'local', 'console'), { 'index.html': HTML, 'main.ts': '' });
    await mkdir(join(root, 'functions', 'fleet', 'other', 'page'), { recursive: true });
    expect(await findPages(root)).toEqual([
      join(root, 'functions', 'fleet', 'fleet-web', 'page'),
      join(root, 'platform', 'local', 'console', 'page'),
    ]);
  });
});

describe('bundleFunction with a page', () => {
  it("builds the function's page into the bundle's static/", async () => {
    const fn = join(base, 'web-fn');
    await mkdir(fn, { recursive: true });
    await writeFile(
      join(fn, 'handler.ts'),
      'export const serve = () => (_req: unknown, res: { end(): void }) => res.end();\n',
    );
    await writePage(fn, { 'index.html': HTML, 'main.ts': "document.title = 'web';\n" });
    const out = join(base, 'web-fn-bundle');
    const r = await bundleFunction({ dir: fn, out });
    expect(r.page).toEqual(expect.arrayContaining(['static/index.html', 'static/main.js']));
    expect(await readFile(join(out, 'static', 'main.js'), 'utf8')).toContain('web');
    expect(resolve(r.entry, '..', 'static')).toBe(join(out, 'static'));
  }, 60_000);
});
