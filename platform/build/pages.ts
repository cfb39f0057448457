/**
 * The one way a static page is built in this repository (`make pages`; `make dev` and `make bundle` call it too).
 *
 * A page is a folder named `page/` beside the code that serves it:
 *
 *   <owner>/page/index.html   the document; loads `main.js` (type="module") and `main.css` by relative URL (no CDN, no
 *                             other origin); `<link rel="icon" href="data:,">` unless it ships an icon
 *   <owner>/page/main.ts      the entry, bundled by esbuild with everything it imports (one module per view);
 *                             CSS it imports (`import './console.css'`) becomes `main.css`
 *   <owner>/page/assets/…     copied as they are (GeoJSON outlines, icons)
 *   <owner>/static/           the build product (index.html, main.js, main.css, assets/, source maps): not committed
 *
 * Owners: a function (`functions/fleet/fleet-web/page/`, served by its handler's `serve`) and `make dev`'s console
 * (`platform/local/src/console/page/`). Pages are browser code: `tsconfig.pages.json` type-checks them with the DOM
 * library (the root tsconfig leaves every `page/` folder out), and `make check-imports` applies as everywhere. A page
 * may import types and pure modules from its owner (the console's `records.ts`, `lineage.ts`; a system's `lib/`),
 * never a module that reaches Node (the runtime's index): tsc would check it with the DOM's types, and esbuild would
 * try to bundle it for the browser.
 *
 * Serving: `loadStaticFiles(join(<owner>, 'static'), { prefix })` from the runtime's index (re-exported here): a
 * function may import the runtime but not platform/, so the server half lives there. It reads the built folder
 * into memory once; see functions/runtime/src/static-files.ts for content types, caching and why no path can
 * leave the folder.
 *
 * For an image, `bundle.ts` builds a function's `page/` into `<bundle>/static/`, next to main.mjs, so
 * `join(import.meta.dirname, 'static')` in the handler finds it both from source (`make dev`) and in the bundle.
 *
 *   node platform/build/pages.ts                  # every page of the repository
 *   node platform/build/pages.ts <owner>/page …   # these
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

export {
  loadStaticFiles,
  type StaticFiles,
  StaticFilesError,
  type StaticFilesOptions,
} from '../../functions/runtime/src/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** The folder name of a page's sources, and of its build product beside it. */
export const PAGE_DIR = 'page';
export const STATIC_DIR = 'static';

export interface PageBuildOptions {
  /** The `page/` folder (index.html + main.ts). */
  readonly dir: string;
  /** @default the `static/` folder beside `dir` */
  readonly out?: string;
  /** @default true (false: readable output for debugging) */
  readonly minify?: boolean;
}

export interface PageBuildResult {
  readonly out: string;
  /** Files written, relative to `out`. */
  readonly files: readonly string[];
  /** Bytes of main.js + main.css. */
  readonly bytes: number;
}

export class PageError extends Error {
  override name = 'PageError';
}

/** `src`/`href` values of index.html that leave the page's origin (a CDN, `//host`): refused, the page must work offline. */
export function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)) {
    const value = m[1] ?? '';
    if (/^(?:[a-z][a-z0-9+.-]*:|\/\/)/i.test(value) && !/^(?:data|blob|mailto):/i.test(value))
      found.push(value);
  }
  return found;
}

/**
 * Builds one page into its `static/` folder: esbuild bundles main.ts (and the CSS it imports) for the browser,
 * index.html and assets/ are copied. The output replaces the previous one only when the build succeeded.
 */
export async function buildPage(options: PageBuildOptions): Promise<PageBuildResult> {
  const dir = resolve(options.dir);
  const out = resolve(options.out ?? join(dirname(dir), STATIC_DIR));
  const entry = join(dir, 'main.ts');
  const htmlFile = join(dir, 'index.html');
  if (!existsSync(htmlFile) || !existsSync(entry))
    throw new PageError(`${dir} is not a page: it needs index.html and main.ts`);
  const html = await readFile(htmlFile, 'utf8');
  const external = externalReferences(html);
  if (external.length > 0)
    throw new PageError(
      `${htmlFile} loads ${external.join(', ')}: a page ships its files (no CDN), import them from main.ts`,
    );
  const work = `${out}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const result = await build({
      entryPoints: [entry],
      outdir: work,
      entryNames: 'main',
      bundle: true,
      format: 'esm',
      platform: 'browser',
      // What Debian's Chromium and any browser of the last two years run.
      target: ['chrome120', 'firefox120', 'safari17'],
      minify: options.minify ?? true,
      sourcemap: 'linked',
      legalComments: 'linked',
      metafile: true,
      // GeoJSON (fleet-web's routes and outline, functions/fleet/lib/map/) is JSON: bundled, no fetch, no tile server.
      loader: { '.geojson': 'json' },
      logLevel: 'silent',
    });
    const bytes = Object.entries(result.metafile.outputs)
      .filter(([file]) => /\.(js|css)$/.test(file))
      .reduce((sum, [, o]) => sum + o.bytes, 0);
    await writeFile(join(work, 'index.html'), html);
    if (existsSync(join(dir, 'assets')))
      await cp(join(dir, 'assets'), join(work, 'assets'), { recursive: true });
    await rm(out, { recursive: true, force: true });
    await rename(work, out);
    const files = (await readdir(out, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => relative(out, join(e.parentPath, e.name)))
      .sort();
    return { out, files, bytes };
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    if (err instanceof PageError) throw err;
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] })
      .errors;
    const detail =
      errors === undefined
        ? (err as Error).message
        : errors
            .map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
            .join('; ');
    throw new PageError(`page ${relative(ROOT, dir)} does not build: ${detail}`, { cause: err });
  }
}

// testing/: fixture pages, built by their tests into a temporary folder.
const SKIP = new Set(['node_modules', 'dist', '.tmp', '.tools', '.git', 'testing', STATIC_DIR]);

/** Every `page/` folder (with index.html and main.ts) under the repository's functions/ and platform/. */
export async function findPages(root = ROOT): Promise<string[]> {
  const pages: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory() || SKIP.has(e.name)) continue;
      const path = join(dir, e.name);
      if (e.name === PAGE_DIR && existsSync(join(path, 'index.html')) && existsSync(join(path, 'main.ts')))
        pages.push(path);
      else await walk(path);
    }
  };
  for (const top of ['functions', 'platform']) await walk(join(root, top));
  return pages.sort();
}

async function cli(): Promise<void> {
  const args = process.argv.slice(2);
  const dirs = args.length > 0 ? args.map((a) => resolve(a)) : await findPages();
  for (const dir of dirs) {
    const r = await buildPage({ dir });
    process.stdout.write(
      `built ${relative(ROOT, dir)} -> ${relative(ROOT, r.out)} (${r.files.length} files, ${(r.bytes / 1024).toFixed(0)} KiB of js+css)\n`,
    );
  }
}

if (import.meta.main) {
  try {
    await cli();
  } catch (err) {
    process.stderr.write(`pages: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
