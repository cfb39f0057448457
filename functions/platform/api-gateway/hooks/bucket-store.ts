/**
 * Token buckets for the `token-bucket` rate-limit hook: `capacity` tokens, refilled continuously at
 * `capacity` per `periodMs`; a request takes one or is refused. Two stores with the same arithmetic:
 *
 * - Redis (`REDIS_URL`): one Lua script reads, refills, takes and writes the bucket atomically on the
 *   server, with the server's clock, so every gateway instance shares each bucket exactly (no race between
 *   instances, no clock skew between them). The script is sent once and then called by its SHA (EVALSHA;
 *   EVAL again after NOSCRIPT, e.g. when Redis restarted). A bucket expires once it would be full again.
 * - memory: this instance only (make dev without Redis, tests); bounded in keys.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface BucketSpec {
  readonly capacity: number;
  readonly periodMs: number;
}

/** The bucket after one take: whether it was allowed, and the tokens left (fractional). */
export interface TakeResult {
  readonly allowed: boolean;
  readonly tokens: number;
}

export interface BucketStore {
  take(key: string, spec: BucketSpec): Promise<TakeResult>;
  close(): Promise<void>;
}

/** The arithmetic both stores share (the Lua script below is its twin). */
export function refillAndTake(
  state: { tokens: number; ts: number } | undefined,
  now: number,
  spec: BucketSpec,
): { allowed: boolean; tokens: number; ts: number } {
  const rate = spec.capacity / spec.periodMs;
  let tokens = state === undefined ? spec.capacity : state.tokens;
  let ts = state === undefined ? now : state.ts;
  if (now > ts) {
    tokens = Math.min(spec.capacity, tokens + (now - ts) * rate);
    ts = now;
  }
  if (tokens >= 1) return { allowed: true, tokens: tokens - 1, ts };
  return { allowed: false, tokens, ts };
}

/** Milliseconds until the bucket holds one token (refused) or is full (allowed). */
export function waitMs(tokens: number, target: number, spec: BucketSpec): number {
  return Math.max(0, ((target - tokens) * spec.periodMs) / spec.capacity);
}

const MAX_KEYS = 100_000;

export function memoryBucketStore(now: () => number): BucketStore {
  const buckets = new Map<string, { tokens: number; ts: number }>();
  return {
    async take(key, spec) {
      const t = now();
      const result = refillAndTake(buckets.get(key), t, spec);
      if (!buckets.has(key) && buckets.size >= MAX_KEYS) evict(buckets, t, spec);
      buckets.set(key, { tokens: result.tokens, ts: result.ts });
      return { allowed: result.allowed, tokens: result.tokens };
    },
    async close() {},
  };
}

function evict(buckets: Map<string, { tokens: number; ts: number }>, t: number, spec: BucketSpec): void {
  for (const [key, b] of buckets)
    if (refillAndTake(b, t, spec).tokens + 1 >= spec.capacity) buckets.delete(key);
  for (const key of buckets.keys()) {
    if (buckets.size < MAX_KEYS) break;
    buckets.delete(key);
  }
}

/** KEYS[1] bucket; ARGV[1] capacity, ARGV[2] period in ms. Returns {allowed 0|1, tokens as a string}. */
export const TOKEN_BUCKET_LUA = `
local capacity = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
local rate = capacity / period
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', ts)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return {allowed, string.format('%.17g', tokens)}
`;

const SHA = createHash('sha1').update(TOKEN_BUCKET_LUA).digest('hex');

export interface RedisBucketStoreOptions {
  /** Prefix of every bucket's key. @default "sluice:ratelimit:" */
  readonly prefix?: string;
}

export function redisBucketStore(redis: Redis, options: RedisBucketStoreOptions = {}): BucketStore {
  const prefix = options.prefix ?? 'sluice:ratelimit:';
  const run = async (key: string, spec: BucketSpec): Promise<unknown> => {
    const args = [1, `${prefix}${key}`, spec.capacity, spec.periodMs] as const;
    try {
      return await redis.evalsha(SHA, ...args);
    } catch (err) {
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
      return redis.eval(TOKEN_BUCKET_LUA, ...args);
    }
  };
  return {
    async take(key, spec) {
      const reply = await run(key, spec);
      if (!Array.isArray(reply) || reply.length !== 2) throw new Error('unexpected token-bucket reply');
      return { allowed: Number(reply[0]) === 1, tokens: Number(reply[1]) };
    },
    async close() {
      redis.disconnect();
    },
  };
}
