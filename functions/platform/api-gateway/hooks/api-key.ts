/**
 * Auth hook `api-key`: per-caller API keys, verified by a cluster-local Service of the namespace rather than
 * by reading its database (the gateway holds no store credentials):
 *
 *   auth: {hook: api-key, config: {verifyService: users, roles: {POST: admin}}}
 *
 * `Authorization: Bearer <key>` or `Authorization: <key>` (the bare form older clients send). The hook POSTs
 * `{"key"}` to `<verifyService><verifyPath>` (default `/keys/verify`), which answers 200
 * `{"principal", "role"}` or 401; answers are cached per key (by its SHA-256, never the key itself) for
 * `cacheSeconds` (30), refusals for `negativeCacheSeconds` (5), and concurrent checks of one key share one
 * call. `roles` names the role a method needs (default `user`; `admin` may do everything): no key → 401,
 * an unknown key → 401, a key without the role → 403. The verifier unreachable or failing → the hook throws
 * and the request fails closed (503).
 *
 * Why a call and a cache rather than key events the gateway consumes: the gateway stays a plain HTTP
 * function with no event endpoint and no state to rebuild, a new key works at once, and a deleted key stops
 * working within `cacheSeconds`.
 */
import { createHash } from 'node:crypto';
import { type AuthHookDefinition, type AuthResult, HOOK_KIND, HookConfigError } from '../hook.ts';

const CHALLENGE = 'Bearer realm="sluice"';
const ROLES = ['user', 'admin'] as const;
type Role = (typeof ROLES)[number];
const RANK: Readonly<Record<Role, number>> = { user: 0, admin: 1 };
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const MAX_KEY_LENGTH = 256;
const MAX_CACHED = 10_000;
// Long enough for the verifying Service's cold start (it scales to zero), short of the routes' 30 s.
const VERIFY_TIMEOUT_MS = 20_000;

interface Verdict {
  readonly principal: string;
  readonly role: Role;
}

interface Cached {
  readonly verdict: Verdict | undefined;
  readonly until: number;
}

/** The key in an Authorization header, or undefined when there is none. */
export function presentedKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  const bearer = /^bearer\s+(\S+)$/i.exec(value);
  if (bearer !== null) return bearer[1];
  return /^\S+$/.test(value) ? value : undefined;
}

const seconds = (v: unknown, name: string, fallback: number): number => {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 3600)
    throw new HookConfigError(`config.${name} must be an integer number of seconds from 0 to 3600`);
  return v;
};

export const apiKey: AuthHookDefinition = {
  kind: HOOK_KIND.auth,
  name: 'api-key',
  create(config, { upstream, shared, now }) {
    const {
      verifyService,
      verifyPath = '/keys/verify',
      roles = {},
      cacheSeconds,
      negativeCacheSeconds,
      ...rest
    } = config;
    if (Object.keys(rest).length > 0)
      throw new HookConfigError(`unknown config ${Object.keys(rest).join(', ')}`);
    if (typeof verifyService !== 'string' || verifyService === '')
      throw new HookConfigError('config.verifyService must name the Knative Service that verifies keys');
    const base = upstream(verifyService);
    if (base === undefined) throw new HookConfigError(`no URL for the verifying Service ${verifyService}`);
    if (typeof verifyPath !== 'string' || !/^\/[A-Za-z0-9/._-]*$/.test(verifyPath))
      throw new HookConfigError('config.verifyPath must be a path');
    if (roles === null || typeof roles !== 'object' || Array.isArray(roles))
      throw new HookConfigError('config.roles must map methods to roles, e.g. {POST: admin}');
    const required = new Map<string, Role>();
    for (const [method, role] of Object.entries(roles)) {
      if (!METHODS.includes(method)) throw new HookConfigError(`config.roles: ${method} is not a method`);
      if (!ROLES.includes(role as Role))
        throw new HookConfigError(`config.roles.${method}: roles are ${ROLES.join(', ')}`);
      required.set(method, role as Role);
    }
    const okMs = seconds(cacheSeconds, 'cacheSeconds', 30) * 1000;
    const badMs = seconds(negativeCacheSeconds, 'negativeCacheSeconds', 5) * 1000;
    const url = `${base}${verifyPath}`;
    // One cache per verifier, shared by every route that names it.
    const cacheKey = `api-key:${url}`;
    const state = (shared.get(cacheKey) as
      | { cache: Map<string, Cached>; pending: Map<string, Promise<Verdict | undefined>> }
      | undefined) ?? {
      cache: new Map<string, Cached>(),
      pending: new Map<string, Promise<Verdict | undefined>>(),
    };
    shared.set(cacheKey, state);

    const ask = async (key: string): Promise<Verdict | undefined> => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key }),
        signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
      });
      const body = (await res.json().catch(() => undefined)) as
        | { principal?: unknown; role?: unknown }
        | undefined;
      if (res.status === 401 || res.status === 400) return undefined;
      if (res.status !== 200 || typeof body?.principal !== 'string' || !ROLES.includes(body.role as Role))
        throw new Error(`${verifyService} answered ${res.status} to a key check`);
      return { principal: body.principal, role: body.role as Role };
    };

    const verify = async (key: string): Promise<Verdict | undefined> => {
      const id = createHash('sha256').update(key).digest('hex');
      const t = now();
      const hit = state.cache.get(id);
      if (hit !== undefined && hit.until > t) return hit.verdict;
      let pending = state.pending.get(id);
      if (pending === undefined) {
        pending = ask(key).finally(() => state.pending.delete(id));
        state.pending.set(id, pending);
      }
      const verdict = await pending;
      if (state.cache.size >= MAX_CACHED) {
        for (const [k, c] of state.cache) if (c.until <= t) state.cache.delete(k);
        if (state.cache.size >= MAX_CACHED) state.cache.clear();
      }
      state.cache.set(id, { verdict, until: t + (verdict === undefined ? badMs : okMs) });
      return verdict;
    };

    return {
      async authenticate({ headers, method }): Promise<AuthResult> {
        const key = presentedKey(headers.authorization);
        if (key === undefined)
          return {
            ok: false,
            status: 401,
            detail: 'send Authorization: <api key> (or Bearer <api key>)',
            challenge: CHALLENGE,
          };
        if (key.length > MAX_KEY_LENGTH)
          return { ok: false, status: 401, detail: 'unknown API key', challenge: CHALLENGE };
        const verdict = await verify(key);
        if (verdict === undefined)
          return { ok: false, status: 401, detail: 'unknown API key', challenge: CHALLENGE };
        const needed = required.get(method === 'HEAD' ? 'GET' : method) ?? 'user';
        if (RANK[verdict.role] < RANK[needed])
          return { ok: false, status: 403, detail: `${method} here needs the ${needed} role` };
        return { ok: true, principal: { id: verdict.principal } };
      },
    };
  },
};
