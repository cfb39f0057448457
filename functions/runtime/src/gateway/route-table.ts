/**
 * The API gateway's route table: data, not code (docs/gateway.md). Each system declares its public
 * routes in `functions/<system>/routes.yaml`; on the cluster kustomize turns every such file into one
 * key (`<system>.yaml`) of the ConfigMap the gateway mounts, and `make dev` writes the same files for the
 * local gateway. One reader for every consumer: the gateway at start, the local platform's checks and
 * the deploy rules (platform/k3s/validate) all parse the table here.
 *
 * A file is validated by `route-table.schema.json` (JSON Schema 2020-12); the rules a schema cannot say
 * well are checked below: exactly one target per route, fields that belong to the other kind, prefixes
 * reserved by the runtime, and clashes between files (the same prefix twice, or one system's prefix
 * inside another's: a system owns the paths under its prefixes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonJsExports } from '../commonjs-import.ts';
import { RouteTableError } from '../errors.ts';
import { listSystems } from '../function-loader.ts';
import { createAjv } from '../validate.ts';
import schema from './route-table.schema.json' with { type: 'json' };

export const ROUTE_TABLE_API_VERSION = 'gateway.sluice.dev/v1alpha1';
export const ROUTE_TABLE_KIND = 'RouteTable';
/** The file each system keeps its routes in: `functions/<system>/routes.yaml`. */
export const ROUTES_FILE = 'routes.yaml';

export const ROUTE_KIND = { proxy: 'proxy', publish: 'publish' } as const;
export type RouteKind = (typeof ROUTE_KIND)[keyof typeof ROUTE_KIND];

export const RATE_LIMIT_KEY = { clientAddress: 'client-address', principal: 'principal' } as const;
export type RateLimitKey = (typeof RATE_LIMIT_KEY)[keyof typeof RATE_LIMIT_KEY];

export const ROUTE_DEFAULTS = {
  timeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxBodyBytes: 1024 * 1024,
  proxyMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  publishContentTypes: ['application/json'],
} as const;

/** Paths the runtime answers itself (Knative's health probes): no route may claim them. */
export const RESERVED_PREFIXES = ['/health'] as const;

export interface HookRef {
  readonly hook: string;
  readonly config: Readonly<Record<string, unknown>>;
}

export interface RateLimitRef extends HookRef {
  readonly key: RateLimitKey;
}

export interface AuthRef extends HookRef {
  /**
   * Whether the client's `Authorization` header still reaches the upstream once the hook has checked it
   * (default false: the upstream gets the principal, not the credential; true only for an upstream that checks
   * the credential again itself, such as users for the admin key).
   */
  readonly forwardAuthorization: boolean;
}

interface RouteCommon {
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly auth: AuthRef | undefined;
  readonly rateLimit: RateLimitRef | undefined;
  /** The system that declared it (the file's system folder, or its ConfigMap key). */
  readonly system: string;
  readonly file: string;
}

export interface ProxyRoute extends RouteCommon {
  readonly kind: typeof ROUTE_KIND.proxy;
  /** The cluster-local Knative Service the route proxies to. */
  readonly service: string;
  readonly prefixRewrite: string | undefined;
  readonly methods: readonly string[];
  readonly idleTimeoutMs: number;
}

export interface PublishRoute extends RouteCommon {
  readonly kind: typeof ROUTE_KIND.publish;
  readonly eventType: string;
  readonly eventSource: string;
  readonly contentTypes: readonly string[];
}

export type GatewayRoute = ProxyRoute | PublishRoute;

/** One route file's text, and which system it belongs to. */
export interface RouteSource {
  readonly system: string;
  readonly file: string;
  readonly text: string;
}

/** One route file, already parsed from YAML. */
export interface RouteDocument {
  readonly system: string;
  readonly file: string;
  readonly document: unknown;
}

export interface RouteTable {
  /** Longest prefix first: the order `match` tries them in. */
  readonly routes: readonly GatewayRoute[];
  /** The route whose prefix is the path or a path-segment prefix of it (longest wins). */
  match(path: string): GatewayRoute | undefined;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

function durationMs(text: string): number {
  const m = DURATION.exec(text);
  return m === null ? Number.NaN : Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

interface RawRoute {
  prefix: string;
  service?: string;
  prefixRewrite?: string;
  publish?: { type: string; source: string; contentTypes?: string[] };
  methods?: string[];
  timeout?: string;
  idleTimeout?: string;
  maxBodyBytes?: number;
  auth?: { hook: string; config?: Record<string, unknown>; forwardAuthorization?: boolean };
  rateLimit?: { hook: string; key: RateLimitKey; config?: Record<string, unknown> };
}

let validateFile: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

/**
 * Parses every file (YAML) and checks them together; throws RouteTableError listing every problem found.
 * The YAML parser is loaded here, on first use, so a function that never reads a route table (all but the
 * gateway) does not carry it in the eager part of its bundle.
 */
export async function parseRouteTable(sources: readonly RouteSource[]): Promise<RouteTable> {
  const { parseDocument } = commonJsExports(await import('yaml'), 'parseDocument');
  const problems: string[] = [];
  const documents: RouteDocument[] = [];
  for (const source of sources) {
    const parsed = parseDocument(source.text);
    const error = parsed.errors[0];
    if (error !== undefined) problems.push(`${source.file}: invalid YAML: ${error.message}`);
    else documents.push({ system: source.system, file: source.file, document: parsed.toJS() });
  }
  try {
    const table = buildRouteTable(documents);
    if (problems.length === 0) return table;
  } catch (err) {
    if (!(err instanceof RouteTableError)) throw err;
    problems.push(...err.problems);
  }
  throw new RouteTableError(problems);
}

/** Checks route files already parsed from YAML (the deploy rules read them out of a rendered ConfigMap). */
export function buildRouteTable(documents: readonly RouteDocument[]): RouteTable {
  // Every problem at once: a route file is read at start, never on a request path.
  validateFile ??= createAjv({ allErrors: true }).compile(schema);
  const validate = validateFile;
  const problems: string[] = [];
  const routes: GatewayRoute[] = [];
  for (const source of documents) {
    const doc = source.document;
    if (!validate(doc)) {
      for (const e of validate.errors ?? []) {
        const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
        problems.push(`${source.file}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`);
      }
      continue;
    }
    const raw = (doc as { routes: RawRoute[] }).routes;
    for (const [i, r] of raw.entries()) {
      const route = toRoute(r, source, `${source.file}: routes[${i}] (${r.prefix})`, problems);
      if (route !== undefined) routes.push(route);
    }
  }
  problems.push(...clashes(routes));
  if (problems.length > 0) throw new RouteTableError(problems);
  routes.sort((a, b) => b.prefix.length - a.prefix.length || a.prefix.localeCompare(b.prefix));
  return {
    routes,
    match(path) {
      return routes.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`));
    },
  };
}

function toRoute(
  r: RawRoute,
  source: RouteDocument,
  where: string,
  problems: string[],
): GatewayRoute | undefined {
  const before = problems.length;
  for (const reserved of RESERVED_PREFIXES) {
    if (r.prefix === reserved || r.prefix.startsWith(`${reserved}/`))
      problems.push(`${where}: ${reserved} is reserved for the runtime's health probes`);
  }
  const timeoutMs = r.timeout === undefined ? ROUTE_DEFAULTS.timeoutMs : durationMs(r.timeout);
  if (!(timeoutMs > 0)) problems.push(`${where}: timeout must be above zero`);
  const common = {
    prefix: r.prefix,
    timeoutMs,
    maxBodyBytes: r.maxBodyBytes ?? ROUTE_DEFAULTS.maxBodyBytes,
    auth:
      r.auth === undefined
        ? undefined
        : {
            hook: r.auth.hook,
            config: r.auth.config ?? {},
            forwardAuthorization: r.auth.forwardAuthorization ?? false,
          },
    rateLimit:
      r.rateLimit === undefined
        ? undefined
        : { hook: r.rateLimit.hook, key: r.rateLimit.key, config: r.rateLimit.config ?? {} },
    system: source.system,
    file: source.file,
  };
  if (r.rateLimit?.key === RATE_LIMIT_KEY.principal && r.auth === undefined)
    problems.push(`${where}: a rate limit keyed by principal needs an auth hook (every caller is anonymous)`);
  if ((r.service === undefined) === (r.publish === undefined)) {
    problems.push(`${where}: needs exactly one of service (proxy) or publish (CloudEvent to the broker)`);
    return undefined;
  }
  if (r.publish !== undefined) {
    for (const field of ['prefixRewrite', 'idleTimeout', 'methods'] as const) {
      if (r[field] !== undefined)
        problems.push(`${where}: ${field} applies to proxy routes only (publish routes take POST only)`);
    }
    if (problems.length > before) return undefined;
    return Object.freeze({
      kind: ROUTE_KIND.publish,
      ...common,
      eventType: r.publish.type,
      eventSource: r.publish.source,
      contentTypes: Object.freeze([...(r.publish.contentTypes ?? ROUTE_DEFAULTS.publishContentTypes)]),
    });
  }
  const idleTimeoutMs =
    r.idleTimeout === undefined ? ROUTE_DEFAULTS.idleTimeoutMs : durationMs(r.idleTimeout);
  if (!(idleTimeoutMs > 0)) problems.push(`${where}: idleTimeout must be above zero`);
  if (problems.length > before) return undefined;
  return Object.freeze({
    kind: ROUTE_KIND.proxy,
    ...common,
    service: r.service as string,
    prefixRewrite: r.prefixRewrite,
    methods: Object.freeze([...(r.methods ?? ROUTE_DEFAULTS.proxyMethods)]),
    idleTimeoutMs,
  });
}

/** The same prefix twice; or a prefix inside another system's (nesting within one system is fine). */
function clashes(routes: readonly GatewayRoute[]): string[] {
  const problems: string[] = [];
  for (const [i, a] of routes.entries()) {
    for (const b of routes.slice(i + 1)) {
      if (a.prefix === b.prefix) {
        problems.push(`prefix ${a.prefix} is declared twice: ${a.file} and ${b.file}`);
        continue;
      }
      if (a.system === b.system) continue;
      const [outer, inner] = a.prefix.length < b.prefix.length ? [a, b] : [b, a];
      if (inner.prefix.startsWith(`${outer.prefix}/`)) {
        problems.push(
          `prefix ${inner.prefix} (${inner.file}) lies under ${outer.prefix}, which system ${outer.system} owns (${outer.file})`,
        );
      }
    }
  }
  return problems;
}

/** The repository's route files: `functions/<system>/routes.yaml`, one per system that has one. */
export function repositoryRouteSources(functionsRoot: string): RouteSource[] {
  return listSystems(functionsRoot).flatMap((system) => {
    const file = join(functionsRoot, system, ROUTES_FILE);
    try {
      return [{ system, file, text: readFileSync(file, 'utf8') }];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  });
}

/**
 * A mounted route ConfigMap: `<dir>/<system>.yaml`, one key per system. Names starting with a dot are
 * skipped (Kubernetes keeps `..data` and timestamped folders beside the keys of a mounted ConfigMap).
 */
export function directoryRouteSources(dir: string): RouteSource[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && /\.ya?ml$/.test(name))
    .sort()
    .map((name) => ({
      system: name.replace(/\.ya?ml$/, ''),
      file: join(dir, name),
      text: readFileSync(join(dir, name), 'utf8'),
    }));
}
