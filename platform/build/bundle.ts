/**
 * Builds one function into a self-contained ESM bundle for an image (see bench/bench.mk for the contract):
 *
 *   dist/functions/<name>/main.mjs      entry: runtime + handler + precompiled schema validators
 *   dist/functions/<name>/chunks/*.mjs  code loaded only when needed (MongoDB driver, OpenTelemetry, express)
 *   dist/functions/<name>/node_modules/<package>/<file>   files (not code) a function serves from an npm package,
 *                                       listed in its `bundle.json` (`packageFiles`): results-api's Swagger UI
 *   dist/functions/<name>/static/       the function's page (`page/`), built by pages.ts; the handler finds it at
 *                                       `join(import.meta.dirname, 'static')` here and in its source folder alike
 *
 * Why here and not in bench/: the deploy image is built from this output, benchmarks only measure it.
 * Schemas are compiled at build time with ajv's standalone code (the idea of the cloudevents SDK's
 * `build:schema` script), so a process scaled from zero neither loads ajv nor compiles anything.
 *
 *   node platform/build/bundle.ts hello transaction-processor   # functions/<name> → dist/functions/<name>
 *   node platform/build/bundle.ts --all
 *   node platform/build/bundle.ts --dir bench/fixtures/order-sink --out dist/bench/order-sink
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ajvStandalone from 'ajv/dist/standalone/index.js';
import { build, type Plugin } from 'esbuild';
import { createAjv, findFunction, listFunctions } from '../../functions/runtime/src/index.ts';
import { buildPage, PAGE_DIR, STATIC_DIR } from './pages.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const RUNTIME_SRC = join(ROOT, 'functions/runtime/src');
// ajv's standalone module is CommonJS: its `default` export is module.exports, whose `default` is the function.
const standaloneCode = (
  ajvStandalone as unknown as { default: { default: typeof import('ajv/dist/standalone/index.js').default } }
).default.default;

/** Optional peer modules that the MongoDB driver requires inside try/catch; absent by design. */
const OPTIONAL_EXTERNALS = [
  'kerberos',
  '@mongodb-js/zstd',
  '@aws-sdk/credential-providers',
  'gcp-metadata',
  'snappy',
  'socks',
  'aws4',
  'mongodb-client-encryption',
];

/**
 * `import … from 'node:http'` in ESM makes Node build an ESM facade of the module, which reads every
 * export — including node:http's lazy WebSocket/fetch getters, so undici gets loaded (~80 ms and ~13 MB
 * at start-up on the bench machine; likewise node:fs pulls in streams and readline). A CommonJS
 * `require` returns the object without touching them, so every built-in is required, not imported.
 *
 * For the project's own modules the required module is re-exported as ESM, its data properties as named
 * exports: as a CommonJS module each importing module got esbuild's `__toESM` copy of it, a getter per
 * export (node:crypto's 67 three times, node:fs's 104, …: ~2 ms of a ~65 ms cold start), and every call
 * went through a getter. Lazy properties are not named exports, so they are never read at start-up: getters
 * (node:fs's `promises`, node:crypto's `webcrypto`, …) and the ones that look like data but load a module when
 * first read (node:util's `parseArgs`, `diff`, `setTraceSigInt` — which loads worker_threads —, node:fs's
 * `opendir`: 15 internal modules and ~3 ms of every cold start, docs/performance.md). Importing one by name
 * fails the build, and reading one off a namespace import too (`import-is-undefined` is an error below); the
 * default export is the module itself, lazy properties and all. Packages keep the CommonJS form: some import
 * such getters by name (the OpenTelemetry resource detectors import `promises` from `fs`), and they load after
 * the first event.
 */
const builtinsViaRequire: Plugin = {
  name: 'builtins-via-require',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) =>
      isBuiltin(args.path) && !args.namespace.startsWith('builtin') && args.kind === 'import-statement'
        ? {
            path: args.path,
            namespace: args.importer.includes('/node_modules/') ? 'builtin' : 'builtin-esm',
          }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'builtin-esm' }, (args) => {
      const names = dataExports(args.path).filter((name) => IDENTIFIER.test(name));
      return {
        contents: [
          `const builtin = require(${JSON.stringify(args.path)});`,
          'export default builtin;',
          names.length > 0 ? `export const { ${names.join(', ')} } = builtin;` : '',
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const builtinData = new Map<string, readonly string[]>();
/**
 * A built-in's named exports: its enumerable data properties that load nothing when read, as a fresh process
 * sees it right after requiring it alone, as a function does at start (in this process esbuild, ajv and the
 * other built-ins loaded may already have read some of them). "Loads nothing" is `process.moduleLoadList`
 * not growing on the read; a property read after another that loaded the same module looks free, so each
 * pass reads only the names the last one kept, in a fresh process, until a pass finds none that loads.
 */
export function dataExports(name: string): readonly string[] {
  const known = builtinData.get(name);
  if (known !== undefined) return known;
  let only: readonly string[] | null = null;
  for (let pass = 0; pass < 8; pass++) {
    const read = JSON.parse(
      execFileSync(process.execPath, ['-e', LAZY_PROBE, name, JSON.stringify(only)], {
        encoding: 'utf8',
        // A deprecated or experimental module (or property) warns when read: not the build's business.
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as { keep: string[]; loaded: number };
    if (read.loaded === 0) {
      builtinData.set(name, read.keep);
      return read.keep;
    }
    only = read.keep;
  }
  throw new BundleError(`${name}: reading its exports still loads modules after 8 passes`);
}
/** Run as `node -e LAZY_PROBE <built-in> <names to read | null>`; prints `{keep, loaded}`. */
const LAZY_PROBE = `const [name, only] = process.argv.slice(1);
const m = require(name);
const names = JSON.parse(only) ?? Object.keys(m).filter((k) => k !== 'default');
const lazy = new Set();
const before = process.moduleLoadList.length;
for (const k of names) {
  const n = process.moduleLoadList.length;
  void m[k];
  if (process.moduleLoadList.length !== n) lazy.add(k);
}
const loaded = process.moduleLoadList.length - before;
const d = Object.getOwnPropertyDescriptors(m);
const keep = names.filter((k) => !lazy.has(k) && d[k] !== undefined && d[k].get === undefined && d[k].enumerable);
process.stdout.write(JSON.stringify({ keep, loaded }));`;

export interface BundleOptions {
  /** Function folder (handler.ts + schemas/). */
  readonly dir: string;
  /** Output folder; emptied first. */
  readonly out: string;
}

export interface BundleResult {
  readonly out: string;
  readonly entry: string;
  readonly bytes: number;
  readonly schemas: readonly string[];
  /** Package files copied beside the bundle (`node_modules/<package>/<file>`), from the function's bundle.json. */
  readonly files: readonly string[];
  /** The built page's files (`static/…`), when the function has a `page/`. */
  readonly page: readonly string[];
}

/**
 * `<function>/bundle.json`: `{ "packageFiles": { "<npm package>": ["<file>", …] } }`, files the function reads
 * from a package at run time (found through `import.meta.resolve('<package>/package.json')`), copied to
 * `node_modules/<package>/` beside the bundle, so the same resolution finds them in the image.
 */
export async function copyPackageFiles(dir: string, out: string): Promise<string[]> {
  const file = join(dir, 'bundle.json');
  if (!existsSync(file)) return [];
  const spec = JSON.parse(await readFile(file, 'utf8')) as { packageFiles?: Record<string, unknown> };
  const require = createRequire(join(dir, 'handler.ts'));
  const copied: string[] = [];
  for (const [pkg, files] of Object.entries(spec.packageFiles ?? {})) {
    if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(pkg) || !Array.isArray(files))
      throw new BundleError(`${file}: packageFiles.${pkg} must be a package name and a list of files`);
    const from = dirname(require.resolve(`${pkg}/package.json`));
    for (const name of ['package.json', ...files]) {
      if (typeof name !== 'string' || name.split('/').some((part) => part === '..' || part === ''))
        throw new BundleError(`${file}: ${String(name)} is not a file inside ${pkg}`);
      const target = join(out, 'node_modules', pkg, name);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(join(from, name), target);
      copied.push(relative(out, target));
    }
  }
  return [...new Set(copied)];
}

export class BundleError extends Error {
  override name = 'BundleError';
}

/** Standalone ESM validators for every `schemas/*.json`, exported as v0, v1, … plus the type → name map. */
export async function precompileSchemas(schemaDir: string): Promise<{ code: string; types: string[] }> {
  const files = existsSync(schemaDir)
    ? (await readdir(schemaDir)).filter((f) => f.endsWith('.json')).sort()
    : [];
  const ajv = createAjv({ code: { source: true, esm: true } });
  const exports: Record<string, string> = {};
  const types: string[] = [];
  for (const [i, file] of files.entries()) {
    const type = file.slice(0, -'.json'.length);
    const schema = JSON.parse(await readFile(join(schemaDir, file), 'utf8')) as { $id?: string };
    try {
      ajv.addSchema(schema, type);
    } catch (err) {
      throw new BundleError(`schema ${join(schemaDir, file)} does not compile: ${(err as Error).message}`);
    }
    exports[`v${i}`] = type;
    types.push(type);
  }
  const code = types.length === 0 ? 'export {};\n' : standaloneCode(ajv, exports);
  return { code, types };
}

let builds = 0;

export async function bundleFunction(options: BundleOptions): Promise<BundleResult> {
  const dir = resolve(options.dir);
  const out = resolve(options.out);
  const handler = ['handler.ts', 'handler.js'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (handler === undefined) throw new BundleError(`no handler.ts or handler.js in ${dir}`);
  // One work folder per build: two builds into folders of the same name (tests bundling in parallel into
  // their own temporary `build/`) must not write each other's register.mjs.
  const work = join(ROOT, 'dist/.build', `${basename(out)}-${process.pid}-${++builds}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });

  const { code, types } = await precompileSchemas(join(dir, 'schemas'));
  await writeFile(join(work, 'schemas.gen.mjs'), code);
  const spec = (p: string): string => JSON.stringify(p);
  // The register module runs before main.ts (ESM evaluates imports in order): it hands the runtime the
  // handler and validators, and names the service after the bundle folder when FUNCTION_DIR is unset.
  await writeFile(
    join(work, 'register.mjs'),
    [
      `import { dirname } from 'node:path';`,
      `import { fileURLToPath } from 'node:url';`,
      `import * as handler from ${spec(handler)};`,
      `import { useBundledFunction } from ${spec(join(RUNTIME_SRC, 'function-loader.ts'))};`,
      `import { schemaSet } from ${spec(join(RUNTIME_SRC, 'schema-set.ts'))};`,
      `import * as compiled from './schemas.gen.mjs';`,
      `process.env.FUNCTION_DIR ||= dirname(fileURLToPath(import.meta.url));`,
      `useBundledFunction(handler, schemaSet(new Map([${types.map((t, i) => `[${spec(t)}, compiled.v${i}]`).join(', ')}])));`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(work, 'main.mjs'),
    `import './register.mjs';\nimport ${spec(join(RUNTIME_SRC, 'main.ts'))};\n`,
  );

  await rm(out, { recursive: true, force: true });
  const result = await build({
    entryPoints: [join(work, 'main.mjs')],
    outdir: out,
    entryNames: '[name]',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // No keepNames: it wraps every function and class in a `__name()` call (Object.defineProperty) when it is
    // created — ~5,000 at start-up and one per closure made on the hot path (~3 % of the function path's CPU,
    // docs/performance.md). Nothing reads inferred names: errors set `name` themselves.
    keepNames: false,
    sourcemap: 'linked',
    legalComments: 'linked',
    external: OPTIONAL_EXTERNALS,
    // CommonJS dependencies (express, mongodb) call require() for Node built-ins.
    banner: {
      // process.getBuiltinModule, not `import … from 'node:module'`: the ESM facade of node:module reads its
      // lazy getters too (SourceMap loads the source-map support) in every process at start-up.
      js: `const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);`,
    },
    plugins: [builtinsViaRequire],
    metafile: true,
    logLevel: 'warning',
    logOverride: { 'import-is-undefined': 'error' },
  }).finally(() => rm(work, { recursive: true, force: true }));
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.mjs'))
    .reduce((sum, [, o]) => sum + o.bytes, 0);
  const files = await copyPackageFiles(dir, out);
  const page = existsSync(join(dir, PAGE_DIR))
    ? (await buildPage({ dir: join(dir, PAGE_DIR), out: join(out, STATIC_DIR) })).files.map((f) =>
        join(STATIC_DIR, f),
      )
    : [];
  return { out, entry: join(out, 'main.mjs'), bytes, schemas: types, files, page };
}

function functionNames(): string[] {
  return listFunctions(join(ROOT, 'functions'))
    .filter((f) => f.hasHandler)
    .map((f) => f.name);
}

function functionDir(name: string): string {
  const found = findFunction(join(ROOT, 'functions'), name);
  if (found === undefined) throw new BundleError(`no function named ${name} under functions/<system>/`);
  return found.dir;
}

async function cli(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { all: { type: 'boolean' }, dir: { type: 'string' }, out: { type: 'string' } },
  });
  const jobs: BundleOptions[] = [];
  if (values.dir !== undefined) {
    jobs.push({ dir: values.dir, out: values.out ?? join(ROOT, 'dist/functions', basename(values.dir)) });
  }
  const names = values.all === true ? functionNames() : positionals;
  for (const name of names) {
    jobs.push({ dir: functionDir(name), out: join(ROOT, 'dist/functions', name) });
  }
  if (jobs.length === 0)
    throw new BundleError('usage: bundle.ts <name>… | --all | --dir <folder> [--out <folder>]');
  for (const job of jobs) {
    const r = await bundleFunction(job);
    process.stdout.write(
      `bundled ${relative(ROOT, job.dir)} -> ${relative(ROOT, r.entry)} (${(r.bytes / 1024).toFixed(0)} KiB, ${r.schemas.length} precompiled schema(s)${r.files.length === 0 ? '' : `, ${r.files.length} package file(s)`}${r.page.length === 0 ? '' : `, a page of ${r.page.length} file(s)`})\n`,
    );
  }
}

if (import.meta.main) {
  // Started by `make dev` (revision-bundles.ts) with an IPC channel: a build outlives no platform, even a killed one.
  if (process.channel !== undefined) {
    process.channel.unref();
    process.on('disconnect', () => process.exit(1));
  }
  try {
    await cli();
  } catch (err) {
    process.stderr.write(`bundle: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
