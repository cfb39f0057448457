/**
 * Rate-limit hook `fixed-window`: at most `limit` requests per `window` and key, counted in this
 * gateway instance's memory. Several routes share one budget when they name the same `bucket`.
 *
 *   rateLimit: {hook: fixed-window, key: principal, config: {limit: 10, window: 1m, bucket: quotes}}
 *
 * Per instance: with N gateway instances a key gets up to N × limit. A limit shared by every instance
 * (quotes: 10/min/key through Redis) registers its own hook under another name (hooks/registry.ts).
 * Memory is bounded: past MAX_KEYS keys, expired windows are dropped, then the oldest.
 */
import { HOOK_KIND, HookConfigError, type RateLimitHookDefinition } from '../hook.ts';

const MAX_KEYS = 100_000;
const WINDOW = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

interface Window {
  start: number;
  count: number;
}

export const fixedWindow: RateLimitHookDefinition = {
  kind: HOOK_KIND.rateLimit,
  name: 'fixed-window',
  create(config, { route, shared, now }) {
    const { limit, window, bucket = route.prefix, ...rest } = config;
    if (Object.keys(rest).length > 0)
      throw new HookConfigError(`unknown config ${Object.keys(rest).join(', ')}`);
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)
      throw new HookConfigError('config.limit must be an integer ≥ 1');
    const m = typeof window === 'string' ? WINDOW.exec(window) : null;
    const windowMs = m === null ? Number.NaN : Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    if (!(windowMs >= 1000))
      throw new HookConfigError('config.window must be a duration of at least 1s, e.g. 1m');
    if (typeof bucket !== 'string' || bucket === '')
      throw new HookConfigError('config.bucket must be a name');
    const name = `fixed-window:${bucket}`;
    const windows = (shared.get(name) as Map<string, Window> | undefined) ?? new Map<string, Window>();
    shared.set(name, windows);
    return {
      take(key) {
        const t = now();
        let w = windows.get(key);
        if (w === undefined || t >= w.start + windowMs) {
          if (w === undefined && windows.size >= MAX_KEYS) evict(windows, t, windowMs);
          w = { start: t, count: 0 };
          windows.delete(key); // re-inserted last: Map order is then oldest window first
          windows.set(key, w);
        }
        if (w.count >= limit) return { allowed: false, retryAfterSeconds: (w.start + windowMs - t) / 1000 };
        w.count++;
        return { allowed: true };
      },
    };
  },
};

function evict(windows: Map<string, Window>, t: number, windowMs: number): void {
  for (const [key, w] of windows) if (t >= w.start + windowMs) windows.delete(key);
  for (const key of windows.keys()) {
    if (windows.size < MAX_KEYS) break;
    windows.delete(key);
  }
}
