/**
 * The repository as the validation sees it: overlays rendered by the pinned kustomize, function folders with
 * the types their handlers emit, versions.env. Shared by the tests and by `make check-manifests` (cli.ts).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import {
  describeFunction,
  listFunctions,
  repositoryRouteSources,
} from '../../../functions/runtime/src/index.ts';
import { loadSchemas, type ManifestSet, readVersions as readPinnedVersions } from '../../manifests/index.ts';
import { type KubeObject, parseManifest } from './manifest.ts';
import { checkRules, type FunctionInfo, ruleContext } from './rules.ts';
import { DEPLOY_SCHEMAS } from './schema.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const K3S_DIR = join(REPO_ROOT, 'platform', 'k3s');
export const OVERLAYS_DIR = join(K3S_DIR, 'kustomize', 'overlays');
const KUSTOMIZE_TOOLS = join(REPO_ROOT, 'platform', 'tools', 'kustomize');

export class KustomizeMissingError extends Error {
  override name = 'KustomizeMissingError';
}

export function readVersions(file = join(K3S_DIR, 'versions.env')): Record<string, string> {
  return readPinnedVersions(file);
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

/**
 * Function folders (functions/<system>/<name>/) and what their handlers reply with: the same reply types the
 * local broker's loop check reads (declared `emits`, else the schema types a handler does not accept).
 */
export async function loadFunctions(root = REPO_ROOT): Promise<Map<string, FunctionInfo>> {
  const found = new Map<string, FunctionInfo>();
  for (const f of listFunctions(join(root, 'functions'))) {
    const described = f.hasHandler ? await describeFunction(f.dir) : undefined;
    found.set(f.name, { emits: described?.emits ?? [] });
  }
  return found;
}

export interface OverlayReport {
  readonly objects: KubeObject[];
  /** The objects the readers model, typed (platform/manifests). */
  readonly manifests: ManifestSet;
  /** Upstream schema errors, and what the typed readers refuse (the webhooks would), by object and field. */
  readonly schemaErrors: string[];
  /** The project rules, and the readers' warnings (accepted by a cluster, but not what they seem). */
  readonly ruleProblems: string[];
}

export async function checkManifest(text: string, source: string): Promise<OverlayReport> {
  const objects = parseManifest(text, source);
  // Each object once against its upstream schema, then (when valid) by its kind's typed reader.
  const schemas = await loadSchemas(objects, DEPLOY_SCHEMAS);
  const ctx = ruleContext(
    { objects, functions: await loadFunctions(), versions: readVersions() },
    source,
    schemas,
  );
  return {
    objects,
    manifests: ctx.manifests,
    schemaErrors: [...ctx.readProblems],
    ruleProblems: [...ctx.manifests.warnings, ...checkRules(ctx)],
  };
}

/**
 * What `make dev` reads but `kustomize build` would not deploy: every functions/<system>/<function>/service.yaml
 * and every manifest under eventing/manifests/ must be reachable from the top kustomization.yaml through the
 * systems' own kustomization.yaml files (and nothing listed may be missing).
 */
export function kustomizationProblems(root = REPO_ROOT): string[] {
  const functionsDir = join(root, 'functions');
  const eventingDir = join(root, 'eventing', 'manifests');
  const services = listFunctions(functionsDir)
    .filter((f) => f.hasService)
    .map((f) => join(f.dir, 'service.yaml'));
  return [
    ...coverageProblems(root, functionsDir, services),
    ...coverageProblems(root, eventingDir, yamlFilesUnder(eventingDir)),
    ...routeGeneratorProblems(root),
  ];
}

/** The ConfigMap the gateway mounts, generated in functions/kustomization.yaml. */
export const ROUTES_CONFIGMAP = 'api-gateway-routes';

/**
 * What `make dev` gives the gateway and what the cluster mounts must be the same table: the ConfigMap generator
 * lists every functions/<system>/routes.yaml as the key <system>.yaml, and nothing else.
 */
export function routeGeneratorProblems(root = REPO_ROOT): string[] {
  const functionsDir = join(root, 'functions');
  const file = join(functionsDir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as { configMapGenerator?: unknown };
  const generators = Array.isArray(k.configMapGenerator) ? k.configMapGenerator : [];
  const gen = generators.find((g) => (g as { name?: unknown }).name === ROUTES_CONFIGMAP) as
    | { files?: unknown }
    | undefined;
  const listed = new Map<string, string>();
  for (const entry of Array.isArray(gen?.files) ? gen.files : []) {
    const [key = '', path = ''] = String(entry).split('=');
    listed.set(join(functionsDir, path), key);
  }
  const problems: string[] = [];
  const expected = repositoryRouteSources(functionsDir);
  for (const source of expected) {
    const key = listed.get(source.file);
    if (key === undefined)
      problems.push(
        `${relative(root, source.file)} is not in the ${ROUTES_CONFIGMAP} generator of ${relative(root, file)}`,
      );
    else if (key !== `${source.system}.yaml`)
      problems.push(
        `${relative(root, file)}: ${relative(root, source.file)} must be the key ${source.system}.yaml, not ${key}`,
      );
  }
  for (const path of listed.keys()) {
    if (!expected.some((s) => s.file === path))
      problems.push(
        `${relative(root, file)}: ${ROUTES_CONFIGMAP} lists ${relative(root, path)}, which is not a system's routes.yaml`,
      );
  }
  return problems;
}

function coverageProblems(root: string, dir: string, expected: readonly string[]): string[] {
  const problems: string[] = [];
  const listed = new Set<string>();
  const visit = (kdir: string): void => {
    const file = join(kdir, 'kustomization.yaml');
    if (!existsSync(file)) {
      problems.push(`${relative(root, kdir)}/ has no kustomization.yaml`);
      return;
    }
    const k = parse(readFileSync(file, 'utf8')) as { resources?: unknown };
    for (const r of Array.isArray(k.resources) ? k.resources : []) {
      if (typeof r !== 'string') continue;
      const target = join(kdir, r);
      if (!existsSync(target)) problems.push(`${relative(root, file)} lists missing ${r}`);
      else if (statSync(target).isDirectory()) visit(target);
      else listed.add(target);
    }
  };
  visit(dir);
  for (const f of expected) {
    if (!listed.has(f))
      problems.push(
        `${relative(root, f)} is not listed by any kustomization.yaml under ${relative(root, dir)}/`,
      );
  }
  return problems;
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name) && e.name !== 'kustomization.yaml')
    .map((e) => join(e.parentPath, e.name))
    .sort();
}
