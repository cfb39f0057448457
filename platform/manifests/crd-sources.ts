/**
 * Where the upstream CRDs come from, in this order:
 * 1. `CRD_DIR` (default: `../shared/upstream-crds/`, the repository root's sibling — for a linked git worktree,
 *    the main worktree's), the CRD files as released;
 * 2. the per-machine cache (`~/.cache/sluice/crds/`, or `$XDG_CACHE_HOME/sluice/crds/`);
 * 3. when `download` is set (`make check-manifests`, `make test`), the pinned release file that `make deploy`
 *    installs (platform/k3s/versions.env), whose CRDs are then kept in the cache: one download per machine
 *    and version.
 * Nothing derived from a CRD is committed: the repository carries no copy of an upstream file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { stringify } from 'yaml';
import { crdDocuments, crdInfo } from './crd-schema.ts';
import type { Json } from './documents.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * `../shared/upstream-crds` beside the repository. In a linked git worktree (`.git` is a file naming
 * `<main>/.git/worktrees/<name>`), beside the main worktree: that is where the clone's siblings are.
 */
function defaultCrdDir(root: string): string {
  const beside = resolve(root, '..', 'shared', 'upstream-crds');
  const dotGit = join(root, '.git');
  if (existsSync(beside) || !existsSync(dotGit) || !statSync(dotGit).isFile()) return beside;
  const gitdir = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim() ?? '';
  const main = gitdir.split(`${sep}.git${sep}worktrees${sep}`)[0];
  return main === undefined || main === gitdir ? beside : resolve(main, '..', 'shared', 'upstream-crds');
}

export const DEFAULT_CRD_DIR = defaultCrdDir(REPO_ROOT);
export const VERSIONS_FILE = join(REPO_ROOT, 'platform', 'k3s', 'versions.env');

type JsonObject = { [key: string]: Json };

/** A release file that carries CRDs, and the kinds (`group/Kind`) the manifests need from it. */
export interface CrdRelease {
  readonly component: string;
  /** The versions.env key of its version. */
  readonly versionKey: string;
  readonly url: (version: string) => string;
  readonly kinds: readonly string[];
}

const GH = 'https://github.com';
export const CRD_RELEASES: readonly CrdRelease[] = [
  {
    component: 'knative-serving',
    versionKey: 'KNATIVE_SERVING_VERSION',
    url: (v) => `${GH}/knative/serving/releases/download/${v}/serving-crds.yaml`,
    kinds: ['serving.knative.dev/Service'],
  },
  {
    component: 'knative-eventing',
    versionKey: 'KNATIVE_EVENTING_VERSION',
    url: (v) => `${GH}/knative/eventing/releases/download/${v}/eventing-crds.yaml`,
    kinds: ['eventing.knative.dev/Broker', 'eventing.knative.dev/Trigger', 'sources.knative.dev/PingSource'],
  },
  {
    component: 'eventing-rabbitmq-broker',
    versionKey: 'KNATIVE_EVENTING_RABBITMQ_VERSION',
    url: (v) => `${GH}/knative-extensions/eventing-rabbitmq/releases/download/${v}/rabbitmq-broker.yaml`,
    kinds: ['eventing.knative.dev/RabbitmqBrokerConfig'],
  },
  {
    component: 'eventing-rabbitmq-source',
    versionKey: 'KNATIVE_EVENTING_RABBITMQ_VERSION',
    url: (v) => `${GH}/knative-extensions/eventing-rabbitmq/releases/download/${v}/rabbitmq-source.yaml`,
    kinds: ['sources.knative.dev/RabbitmqSource'],
  },
  {
    component: 'rabbitmq-cluster-operator',
    versionKey: 'RABBITMQ_CLUSTER_OPERATOR_VERSION',
    url: (v) => `${GH}/rabbitmq/cluster-operator/releases/download/${v}/cluster-operator.yml`,
    kinds: ['rabbitmq.com/RabbitmqCluster'],
  },
  {
    component: 'keda',
    versionKey: 'KEDA_VERSION',
    url: (v) => `${GH}/kedacore/keda/releases/download/${v}/keda-${v.replace(/^v/, '')}-crds.yaml`,
    kinds: ['keda.sh/ScaledObject', 'keda.sh/TriggerAuthentication'],
  },
];

export const releaseOf = (group: string, kind: string): CrdRelease | undefined =>
  CRD_RELEASES.find((r) => r.kinds.includes(`${group}/${kind}`));

export interface CrdLocatorOptions {
  /** @default process.env.CRD_DIR, else ../shared/upstream-crds beside the repository */
  readonly crdDir?: string | undefined;
  /** @default ~/.cache/sluice/crds */
  readonly cacheDir?: string | undefined;
  /** Fetch the pinned release file when neither CRD_DIR nor the cache has the CRD. @default false */
  readonly download?: boolean;
  /** @default platform/k3s/versions.env */
  readonly versionsFile?: string;
  /** @default globalThis.fetch (tests pass a local server's) */
  readonly fetch?: (url: string) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;
}

export interface FoundCrd {
  readonly crd: JsonObject;
  /** The file it was read from, for messages. */
  readonly origin: string;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'sluice') : join(homedir(), '.cache', 'sluice');
  return join(base, 'crds');
}

export const crdDirOf = (options: CrdLocatorOptions): string =>
  options.crdDir ?? (process.env.CRD_DIR || DEFAULT_CRD_DIR);

export function readVersions(file = VERSIONS_FILE): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) versions[m[1]] = m[2];
  }
  return versions;
}

function yamlFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

// Per process: a CRD file is read (and parsed, when it names the kind) once however many kinds ask.
const texts = new Map<string, string>();
const parsed = new Map<string, JsonObject[]>();

function findIn(files: readonly string[], group: string, kind: string): FoundCrd | undefined {
  // A cheap look at the text first: only files naming the kind and the group are parsed.
  const kindLine = new RegExp(`^\\s+kind: ${kind}\\s*$`, 'm');
  for (const file of files) {
    if (!existsSync(file)) continue;
    let crds = parsed.get(file);
    if (crds === undefined) {
      const text = texts.get(file) ?? readFileSync(file, 'utf8');
      texts.set(file, text);
      if (!kindLine.test(text) || !text.includes(group)) continue;
      crds = crdDocuments(text);
      parsed.set(file, crds);
    }
    const crd = crds.find((c) => {
      const info = crdInfo(c);
      return info?.group === group && info.kind === kind;
    });
    if (crd !== undefined) return { crd, origin: file };
  }
  return undefined;
}

export class CrdDownloadError extends Error {
  override name = 'CrdDownloadError';
}

function pinnedVersion(release: CrdRelease, options: CrdLocatorOptions): string {
  const version = readVersions(options.versionsFile)[release.versionKey];
  if (version === undefined) {
    throw new CrdDownloadError(`${release.versionKey} is not pinned in platform/k3s/versions.env`);
  }
  return version;
}

/** The cache keeps one file per release and pinned version: a moved pin reads (or fetches) the new one. */
const cacheFileOf = (release: CrdRelease, version: string, cacheDir: string): string =>
  join(cacheDir, `${release.component}-${version}.yaml`);

async function download(release: CrdRelease, options: CrdLocatorOptions, cacheDir: string): Promise<void> {
  const version = pinnedVersion(release, options);
  const url = release.url(version);
  const get = options.fetch ?? ((u: string) => fetch(u));
  let text: string;
  try {
    const res = await get(url);
    if (!res.ok) throw new CrdDownloadError(`GET ${url}: HTTP ${res.status}`);
    text = await res.text();
  } catch (err) {
    if (err instanceof CrdDownloadError) throw err;
    throw new CrdDownloadError(`GET ${url}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const crds = crdDocuments(text);
  if (crds.length === 0) throw new CrdDownloadError(`${url} has no CustomResourceDefinition`);
  await mkdir(cacheDir, { recursive: true });
  const file = cacheFileOf(release, version, cacheDir);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `# CRDs of ${url}\n${crds.map((c) => stringify(c)).join('---\n')}`);
  await rename(tmp, file);
  texts.delete(file);
  parsed.delete(file);
}

/** The CRD of `group`/`kind`, from CRD_DIR, the cache, or (when allowed) the pinned release; undefined if none. */
export async function findCrd(
  group: string,
  kind: string,
  options: CrdLocatorOptions = {},
): Promise<FoundCrd | undefined> {
  const fromDir = findIn(yamlFilesUnder(crdDirOf(options)), group, kind);
  const release = releaseOf(group, kind);
  if (fromDir !== undefined || release === undefined) return fromDir;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const cached = cacheFileOf(release, pinnedVersion(release, options), cacheDir);
  const fromCache = findIn([cached], group, kind);
  if (fromCache !== undefined || options.download !== true) return fromCache;
  await download(release, options, cacheDir);
  return findIn([cached], group, kind);
}
