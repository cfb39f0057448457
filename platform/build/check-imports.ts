/**
 * `make check-imports`: the dependency rule of docs/ARCHITECTURE.md, checked on every relative import of
 * every TypeScript file (static imports, re-exports and `import()` with a literal specifier).
 *
 *   functions/<system>/<function>/  → the runtime's public index, its own system's lib/, itself
 *   functions/<system>/lib/          → the runtime's public index, itself
 *   functions/runtime/src/           → itself only (the runtime knows no function, broker or platform)
 *   eventing/                        → the runtime's public index, the manifest readers' index, itself
 *   platform/manifests/              → the runtime's public index, itself (and npm packages)
 *   platform/, bench/, observability/ → the runtime's public index, the broker's index (eventing/src/index.ts),
 *                                      and platform/ (bench: also its own fixtures); of platform/manifests/,
 *                                      its index (platform/manifests/index.ts) only
 *
 * Nothing imports into a function's folder (its handler above all) but that folder's own files: the
 * runtime's loader finds handlers by path at run time. Tests may also use the shared test kits
 * (functions/runtime/test/, eventing/src/testing/, platform/test-servers/, observability/test/) and the
 * broker's index.
 *
 * Hand-written rather than dependency-cruiser: that tool parses TypeScript with the `typescript` package's
 * compiler API, which TypeScript 7 (the project's compiler) no longer ships. es-module-lexer (the lexer Vite
 * uses; v3 lexes TypeScript) reads the imports; the rule itself is the twenty lines of `ruleBroken`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { init, parse } from 'es-module-lexer';

const ROOT = resolve(import.meta.dirname, '../..');
const RUNTIME_INDEX = 'functions/runtime/src/index.ts';
const BROKER_INDEX = 'eventing/src/index.ts';
const MANIFESTS = 'platform/manifests/';
const MANIFESTS_INDEX = 'platform/manifests/index.ts';
const TEST_KITS = [
  'functions/runtime/test/',
  'eventing/src/testing/',
  'platform/test-servers/',
  'observability/test/',
];
const SCANNED = ['functions', 'eventing', 'platform', 'observability', 'bench'];
const SKIP_DIRS = new Set(['node_modules', 'dist', '.tmp', 'generated', 'static']);

export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly target: string;
  readonly rule: string;
}

/** Where a repository path sits in the architecture. */
type Zone =
  | { readonly kind: 'runtime' }
  | { readonly kind: 'function'; readonly system: string; readonly fn: string }
  | { readonly kind: 'lib'; readonly system: string }
  | { readonly kind: 'functions-root' }
  | { readonly kind: 'area'; readonly area: 'eventing' | 'platform' | 'observability' | 'bench' }
  | { readonly kind: 'other' };

export function zoneOf(path: string): Zone {
  const parts = path.split('/');
  if (parts[0] === 'functions') {
    if (parts[1] === 'runtime') return { kind: 'runtime' };
    if (parts.length === 2) return { kind: 'functions-root' };
    const system = parts[1] ?? '';
    if (parts[2] === 'lib') return { kind: 'lib', system };
    if (parts.length >= 4) return { kind: 'function', system, fn: parts[2] ?? '' };
    return { kind: 'other' };
  }
  const area = parts[0];
  if (area === 'eventing' || area === 'platform' || area === 'observability' || area === 'bench')
    return { kind: 'area', area };
  return { kind: 'other' };
}

/** Tests, test kits and the benchmark harness (which drives the same fixtures the tests do). */
export function isTestFile(path: string): boolean {
  return (
    path.startsWith('bench/') ||
    /\.(int\.)?test\.ts$|\.contract\.ts$|\.bench\.ts$|test-support\.ts$/.test(path) ||
    /(^|\/)(testing|test|fixtures)\//.test(path)
  );
}

/** Why `from` may not import `to` (both repository paths), or undefined when it may. */
export function ruleBroken(from: string, to: string): string | undefined {
  const src = zoneOf(from);
  const dst = zoneOf(to);
  const test = isTestFile(from);
  if (test && TEST_KITS.some((k) => to.startsWith(k))) return undefined;
  if (test && to === BROKER_INDEX) return undefined;
  // Into a function's folder: only from the same folder.
  if (dst.kind === 'function') {
    if (src.kind === 'function' && src.system === dst.system && src.fn === dst.fn) return undefined;
    return `only functions/${dst.system}/${dst.fn}/ itself imports from it (the runtime loads handlers by path)`;
  }
  if (dst.kind === 'runtime') {
    if (src.kind === 'runtime') return undefined;
    if (to === RUNTIME_INDEX) return undefined;
    return `outside the runtime, import ${RUNTIME_INDEX} (its public index), not its internals`;
  }
  if (dst.kind === 'lib') {
    if ((src.kind === 'function' || src.kind === 'lib') && src.system === dst.system) return undefined;
    return `functions/${dst.system}/lib/ is shared by the ${dst.system} system's functions only`;
  }
  // The manifest readers: one public index; they import nothing of eventing or the rest of platform.
  if (to.startsWith(MANIFESTS) && !from.startsWith(MANIFESTS)) {
    if (to === MANIFESTS_INDEX && src.kind === 'area') return undefined;
    return `outside platform/manifests/, import ${MANIFESTS_INDEX} (its public index), not its internals`;
  }
  if (from.startsWith(MANIFESTS) && !to.startsWith(MANIFESTS)) {
    return `platform/manifests/ imports only npm packages and ${RUNTIME_INDEX}`;
  }
  switch (src.kind) {
    case 'runtime':
      return 'the runtime imports nothing outside functions/runtime/src/';
    case 'function':
    case 'lib':
      return 'functions import only the runtime index and their own system lib/';
    case 'functions-root':
      return 'functions/*.ts checks import only the runtime index';
    case 'area':
      if (dst.kind !== 'area') return `${src.area}/ does not import ${to}`;
      if (dst.area === src.area) return undefined;
      if (src.area === 'eventing')
        return 'eventing/ imports only the runtime index and the manifest readers’ index';
      if (dst.area === 'eventing' && to === BROKER_INDEX) return undefined;
      if (dst.area === 'platform' && (src.area === 'bench' || src.area === 'platform')) return undefined;
      if (dst.area === 'bench' && src.area === 'bench') return undefined;
      return `${src.area}/ may not import ${to}`;
    default:
      return undefined;
  }
}

function* typescriptFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* typescriptFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/** The relative specifiers a TypeScript source imports (type-only imports and `import()` included). */
export function relativeImports(source: string): string[] {
  const [imports] = parse(source);
  return imports
    .map((i) => i.specifier)
    .filter((n): n is string => typeof n === 'string' && (n.startsWith('./') || n.startsWith('../')));
}

export async function checkImports(root = ROOT): Promise<Violation[]> {
  await init;
  const violations: Violation[] = [];
  for (const top of SCANNED) {
    if (!existsSync(join(root, top))) continue;
    for (const file of typescriptFiles(join(root, top))) {
      const from = relative(root, file).split(sep).join('/');
      for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
        const to = relative(root, resolve(dirname(file), specifier))
          .split(sep)
          .join('/');
        const rule = ruleBroken(from, to);
        if (rule !== undefined) violations.push({ file: from, specifier, target: to, rule });
      }
    }
  }
  return violations;
}

if (import.meta.main) {
  const violations = await checkImports(process.argv[2] === undefined ? ROOT : resolve(process.argv[2]));
  for (const v of violations) process.stderr.write(`${v.file}: import '${v.specifier}': ${v.rule}\n`);
  if (violations.length > 0) {
    process.stderr.write(
      `check-imports: ${violations.length} import(s) break the dependency rule (docs/ARCHITECTURE.md)\n`,
    );
    process.exit(1);
  }
  process.stdout.write('check-imports: every import follows the dependency rule\n');
}
