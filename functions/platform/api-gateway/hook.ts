/**
 * Hooks: per-route authentication and rate limiting, named by the route table and built once at start.
 * The gateway's core only knows these interfaces; each hook is a definition in `hooks/` listed in
 * `hooks/registry.ts`, so a system adds its own (quotes: API keys, a Redis rate limit shared by every
 * gateway instance) without touching the proxy. A route without `auth` is anonymous; without
 * `rateLimit` it is not limited (the no-op defaults).
 *
 * Failure policy: a hook that throws makes the request fail closed with 503 (the reason is logged, not
 * sent). A hook that prefers to fail open (let traffic through while Redis is down) catches its own
 * errors and answers allowed.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayRoute, Logger, RateLimitKey } from '../../runtime/src/index.ts';
import { GatewayConfigError } from './config.ts';

export const HOOK_KIND = { auth: 'auth', rateLimit: 'rate-limit' } as const;
export type HookKind = (typeof HOOK_KIND)[keyof typeof HOOK_KIND];

/** Who is calling, as an auth hook established it. Passed upstream as `x-sluice-principal`. */
export interface Principal {
  readonly id: string;
}

export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous' });

/** What a hook may look at: the request's head, never its body. */
export interface HookRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The caller's address (see GATEWAY_TRUSTED_HOPS in docs/gateway.md). */
  readonly clientAddress: string;
  readonly requestId: string;
  readonly route: GatewayRoute;
}

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal }
  | {
      readonly ok: false;
      /** 401: who you are is unknown or wrong; 403: known, but not allowed here. */
      readonly status: 401 | 403;
      readonly detail: string;
      /** `WWW-Authenticate` value for a 401, e.g. `Bearer realm="sluice"`. */
      readonly challenge?: string;
    };

export interface AuthHook {
  authenticate(request: HookRequest): AuthResult | Promise<AuthResult>;
  close?(): Promise<void>;
}

/**
 * The quota behind a rate-limit decision, for the `RateLimit-Policy` / `RateLimit` answer headers
 * (draft-ietf-httpapi-ratelimit-headers; docs/gateway.md says which form the gateway emits).
 */
export interface RateLimitQuota {
  /** The policy's name (`"quotes"`): routes sharing a budget share it. */
  readonly policy: string;
  /** Requests per window. */
  readonly limit: number;
  readonly windowSeconds: number;
  /** Requests left now. */
  readonly remaining: number;
  /** Seconds until the quota is whole again (allowed) or until the next request is (refused). */
  readonly resetSeconds: number;
}

export type RateLimitResult =
  | { readonly allowed: true; readonly quota?: RateLimitQuota }
  | { readonly allowed: false; readonly retryAfterSeconds: number; readonly quota?: RateLimitQuota };

export interface RateLimitHook {
  /** `key` is the principal's id or the client address, as the route's `rateLimit.key` says. */
  take(key: string, request: HookRequest): RateLimitResult | Promise<RateLimitResult>;
  /** Releases what the hook holds (a Redis connection) on shutdown. */
  close?(): Promise<void>;
}

export interface HookContext {
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The route the hook instance serves (one instance per route). */
  readonly route: GatewayRoute;
  /** State shared by every hook instance of one gateway (e.g. counters shared by several routes). */
  readonly shared: Map<string, unknown>;
  /** Milliseconds since the epoch; injectable so tests need no sleeping. */
  readonly now: () => number;
  /** Base URL of a Knative Service of the namespace (the gateway's own resolution), for hooks that call one. */
  readonly upstream: (service: string) => string | undefined;
}

export interface AuthHookDefinition {
  readonly kind: typeof HOOK_KIND.auth;
  readonly name: string;
  /** Validates `config` (throw HookConfigError naming the field) and builds the instance for one route. */
  create(config: Readonly<Record<string, unknown>>, context: HookContext): AuthHook | Promise<AuthHook>;
}

export interface RateLimitHookDefinition {
  readonly kind: typeof HOOK_KIND.rateLimit;
  readonly name: string;
  create(
    config: Readonly<Record<string, unknown>>,
    context: HookContext,
  ): RateLimitHook | Promise<RateLimitHook>;
}

export type HookDefinition = AuthHookDefinition | RateLimitHookDefinition;

/** A hook's `config` in the route table is wrong; reported with the route at gateway start. */
export class HookConfigError extends Error {
  override name = 'HookConfigError';
}

/** The hook instances of one route. */
export interface RouteHooks {
  readonly auth: AuthHook | undefined;
  readonly rateLimit: RateLimitHook | undefined;
  readonly rateLimitKey: RateLimitKey | undefined;
}

export interface BuildHooksOptions {
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now?: () => number;
  readonly upstream?: (service: string) => string | undefined;
}

/**
 * One instance per route and hook, from the definitions given. Every unknown name and every config a
 * hook refuses is collected into one GatewayConfigError, so a bad table says everything at start.
 */
export async function buildHooks(
  definitions: readonly HookDefinition[],
  routes: readonly GatewayRoute[],
  options: BuildHooksOptions,
): Promise<Map<GatewayRoute, RouteHooks>> {
  const byName = new Map<string, HookDefinition>();
  for (const d of definitions) {
    const key = `${d.kind}/${d.name}`;
    if (byName.has(key)) throw new GatewayConfigError([`hook ${key} is registered twice`]);
    byName.set(key, d);
  }
  const shared = new Map<string, unknown>();
  const problems: string[] = [];
  const built = new Map<GatewayRoute, RouteHooks>();
  for (const route of routes) {
    const context: HookContext = {
      log: options.log,
      env: options.env,
      route,
      shared,
      now: options.now ?? Date.now,
      upstream: options.upstream ?? (() => undefined),
    };
    const make = async <K extends HookKind>(
      kind: K,
      ref: { hook: string; config: Readonly<Record<string, unknown>> } | undefined,
    ) => {
      if (ref === undefined) return undefined;
      const def = byName.get(`${kind}/${ref.hook}`);
      if (def === undefined) {
        const known = definitions.filter((d) => d.kind === kind).map((d) => d.name);
        problems.push(
          `${route.file}: ${route.prefix}: no ${kind} hook named ${ref.hook} (registered: ${known.join(', ') || 'none'})`,
        );
        return undefined;
      }
      try {
        return await def.create(ref.config, context);
      } catch (err) {
        if (!(err instanceof HookConfigError)) throw err;
        problems.push(`${route.file}: ${route.prefix}: ${kind} hook ${ref.hook}: ${err.message}`);
        return undefined;
      }
    };
    const auth = (await make(HOOK_KIND.auth, route.auth)) as AuthHook | undefined;
    const rateLimit = (await make(HOOK_KIND.rateLimit, route.rateLimit)) as RateLimitHook | undefined;
    built.set(route, { auth, rateLimit, rateLimitKey: route.rateLimit?.key });
  }
  if (problems.length > 0) throw new GatewayConfigError(problems);
  return built;
}

/** Closes every hook instance that holds something (once each, whatever number of routes share it). */
export async function closeHooks(hooks: ReadonlyMap<GatewayRoute, RouteHooks>): Promise<void> {
  const seen = new Set<AuthHook | RateLimitHook>();
  for (const { auth, rateLimit } of hooks.values()) {
    for (const h of [auth, rateLimit]) if (h !== undefined) seen.add(h);
  }
  await Promise.allSettled([...seen].map((h) => h.close?.()));
}
