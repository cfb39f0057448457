/**
 * Rate-limit hook `token-bucket`: `limit` requests per `period` and key, as a token bucket (bursts up to
 * `limit`, then one request every period/limit). Shared by every gateway instance through Redis when
 * `REDIS_URL` is set (one atomic Lua script, bucket-store.ts), in this instance's memory otherwise.
 * Routes naming the same `bucket` share one budget per key, and must then agree on limit and period.
 *
 *   rateLimit: {hook: token-bucket, key: principal, config: {limit: 10, period: 1m, bucket: quotes}}
 *
 * Every answer of the route carries the quota (RateLimit-Policy / RateLimit headers, gateway.ts); a refusal
 * is 429 + Retry-After, counted in `sluice_gateway_rate_limited_total{http_route, user_id}`. Redis down →
 * the hook throws and the request fails closed (503): a limit that silently stops holding is worse.
 */
import { metrics } from '@opentelemetry/api';
import { commonJsExports } from '../../../runtime/src/index.ts';
import { HOOK_KIND, HookConfigError, type RateLimitHookDefinition } from '../hook.ts';
import {
  type BucketSpec,
  type BucketStore,
  memoryBucketStore,
  redisBucketStore,
  waitMs,
} from './bucket-store.ts';

const PERIOD = /^(\d+)(s|m|h)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;
const STORE_KEY = 'token-bucket:store';
const SPECS_KEY = 'token-bucket:specs';
/** Longest wait for one Redis command before the request fails (503). */
const REDIS_TIMEOUT_MS = 1_000;

async function openStore(
  env: Readonly<Record<string, string | undefined>>,
  now: () => number,
): Promise<BucketStore> {
  const url = env.REDIS_URL;
  if (url === undefined || url === '') return memoryBucketStore(now);
  if (!/^rediss?:\/\//.test(url)) throw new HookConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  const { Redis } = commonJsExports(await import('ioredis'), 'Redis');
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_TIMEOUT_MS,
    connectTimeout: 5_000,
    // Commands issued while (re)connecting wait in the queue, each bounded by commandTimeout.
    enableOfflineQueue: true,
  });
  redis.on('error', () => {}); // reported per request (503 + log); the client reconnects by itself
  return redisBucketStore(redis);
}

export const tokenBucket: RateLimitHookDefinition = {
  kind: HOOK_KIND.rateLimit,
  name: 'token-bucket',
  async create(config, { route, shared, env, now, log }) {
    const { limit, period = '1m', bucket = route.prefix, ...rest } = config;
    if (Object.keys(rest).length > 0)
      throw new HookConfigError(`unknown config ${Object.keys(rest).join(', ')}`);
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1_000_000)
      throw new HookConfigError('config.limit must be an integer from 1 to 1000000');
    const m = typeof period === 'string' ? PERIOD.exec(period) : null;
    if (m === null) throw new HookConfigError('config.period must be a duration such as 30s, 1m or 1h');
    const periodMs = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    if (periodMs < 1000) throw new HookConfigError('config.period must be at least 1s');
    if (typeof bucket !== 'string' || !/^[A-Za-z0-9/._-]{1,64}$/.test(bucket))
      throw new HookConfigError('config.bucket must be a short name (letters, digits, / . _ -)');
    const spec: BucketSpec = { capacity: limit, periodMs };
    const specs =
      (shared.get(SPECS_KEY) as Map<string, BucketSpec> | undefined) ?? new Map<string, BucketSpec>();
    shared.set(SPECS_KEY, specs);
    const other = specs.get(bucket);
    if (other !== undefined && (other.capacity !== limit || other.periodMs !== periodMs))
      throw new HookConfigError(
        `bucket ${bucket} is shared with another route under another limit or period`,
      );
    specs.set(bucket, spec);

    let store = shared.get(STORE_KEY) as Promise<BucketStore> | undefined;
    if (store === undefined) {
      store = openStore(env, now);
      shared.set(STORE_KEY, store);
      log.info(
        `token-bucket rate limits kept ${env.REDIS_URL ? 'in Redis (shared by every instance)' : 'in memory (this instance only)'}`,
        {
          'event.action': 'rate-limit-store',
        },
      );
    }
    const buckets = await store;
    const rejected = metrics.getMeter('sluice-gateway').createCounter('sluice.gateway.rate_limited', {
      description: 'Requests refused with 429 by a rate-limit hook',
      unit: '{request}',
    });
    const windowSeconds = periodMs / 1000;
    return {
      async take(key) {
        const { allowed, tokens } = await buckets.take(`${bucket}:${key}`, spec);
        if (allowed) {
          return {
            allowed: true,
            quota: {
              policy: bucket,
              limit,
              windowSeconds,
              remaining: Math.floor(tokens),
              resetSeconds: waitMs(tokens, limit, spec) / 1000,
            },
          };
        }
        rejected.add(1, { 'http.route': route.prefix, 'user.id': key });
        const retryAfterSeconds = waitMs(tokens, 1, spec) / 1000;
        return {
          allowed: false,
          retryAfterSeconds,
          quota: { policy: bucket, limit, windowSeconds, remaining: 0, resetSeconds: retryAfterSeconds },
        };
      },
      async close() {
        if (shared.get(STORE_KEY) === store) {
          shared.delete(STORE_KEY);
          await buckets.close();
        }
      },
    };
  },
};
