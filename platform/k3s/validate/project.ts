/**
 * The repository as the validation sees it: overlays rendered by the pinned kustomize, function folders with
 * the types their handlers emit, versions.env. Shared by the tests and by `make check-manifests` (cli.ts).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type KubeObject, parseManifest } from './manifest.ts';
import { checkRules, type FunctionInfo } from './rules.ts';
import { createSchemaValidator } from './schema.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const K3S_DIR = join(REPO_ROOT, 'platform', 'k3s');
export const OVERLAYS_DIR = join(K3S_DIR, 'kustomize', 'overlays');
const KUSTOMIZE_TOOLS = join(REPO_ROOT, 'platform', 'tools', 'kustomize');

export class KustomizeMissingError extends Error {
  override name = 'KustomizeMissingError';
}

export function readVersions(file = join(K3S_DIR, 'versions.env')): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) versions[m[1]] = m[2];
  }
  return versions;
}

/** Same name as platform/k3s/deploy.mk's KUSTOMIZE_BIN: changes when the tools module does, like FERRETDB_BIN. */
export function kustomizeBin(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KUSTOMIZE_BIN) return env.KUSTOMIZE_BIN;
  const version = /sigs\.k8s\.io\/kustomize\/kustomize\/v5 v(\S+)/.exec(
    readFileSync(join(KUSTOMIZE_TOOLS, 'go.mod'), 'utf8'),
  )?.[1];
  const sum = createHash('sha256')
    .update(readFileSync(join(KUSTOMIZE_TOOLS, 'go.sum')))
    .update(readFileSync(join(KUSTOMIZE_TOOLS, 'tools.go')))
    .digest('hex')
    .slice(0, 12);
  const cache = env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'sluice') : join(homedir(), '.cache', 'sluice');
  return join(cache, 'bin', `kustomize-${version}-${sum}`);
}

export function overlayNames(): string[] {
  return readdirSync(OVERLAYS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(OVERLAYS_DIR, d.name, 'kustomization.yaml')))
    .map((d) => d.name)
    .sort();
}

/** `kustomize build` of a directory: the exact bytes `make manifests` writes and `make deploy` applies. */
export function kustomizeBuild(dir: string): string {
  const bin = kustomizeBin();
  if (!existsSync(bin)) throw new KustomizeMissingError(`${bin} is missing: run \`make kustomize\` first`);
  return execFileSync(bin, ['build', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

export const renderOverlay = (name: string): string => kustomizeBuild(join(OVERLAYS_DIR, name));

/** Function folders (functions/<name>/ with a handler.ts or a service.yaml) and what their handlers emit. */
export async function loadFunctions(root = REPO_ROOT): Promise<Map<string, FunctionInfo>> {
  const dir = join(root, 'functions');
  const found = new Map<string, FunctionInfo>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === 'runtime') continue;
    const handler = join(dir, entry.name, 'handler.ts');
    if (!existsSync(handler) && !existsSync(join(dir, entry.name, 'service.yaml'))) continue;
    let emits: string[] = [];
    if (existsSync(handler)) {
      const mod = (await import(pathToFileURL(handler).href)) as { emits?: unknown };
      if (Array.isArray(mod.emits)) emits = mod.emits.filter((t): t is string => typeof t === 'string');
    }
    found.set(entry.name, { emits });
  }
  return found;
}

export interface OverlayReport {
  readonly objects: KubeObject[];
  readonly schemaErrors: string[];
  readonly ruleProblems: string[];
}

export async function checkManifest(text: string, source: string): Promise<OverlayReport> {
  const objects = parseManifest(text, source);
  const validator = createSchemaValidator();
  const schemaErrors = (await Promise.all(objects.map((o) => validator.validate(o)))).flat();
  const ruleProblems = checkRules({ objects, functions: await loadFunctions(), versions: readVersions() });
  return { objects, schemaErrors, ruleProblems };
}

/** functions/kustomization.yaml must list every functions/<name>/service.yaml (and nothing else). */
export function functionsKustomizationProblems(root = REPO_ROOT): string[] {
  const dir = join(root, 'functions');
  const listed = new Set<string>();
  const text = readFileSync(join(dir, 'kustomization.yaml'), 'utf8');
  for (const m of text.matchAll(/^\s*-\s*(\S+)\s*$/gm)) if (m[1] !== undefined) listed.add(m[1]);
  const present = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'service.yaml')))
    .map((d) => `${d.name}/service.yaml`);
  return [
    ...present.filter((p) => !listed.has(p)).map((p) => `functions/kustomization.yaml does not list ${p}`),
    ...[...listed]
      .filter((p) => !present.includes(p))
      .map((p) => `functions/kustomization.yaml lists missing ${p}`),
  ];
}
