/**
 * The hooks a route table may name. To add one (quotes: API keys, a Redis-shared rate limit), write
 * `hooks/<name>.ts` exporting an AuthHookDefinition or RateLimitHookDefinition (hook.ts) and list it
 * here; the proxy and the request flow stay as they are. A static list, not a folder scan, so the
 * bundle (platform/build/bundle.ts) carries every hook.
 */
import type { HookDefinition } from '../hook.ts';
import { apiKey } from './api-key.ts';
import { bearerToken } from './bearer-token.ts';
import { fixedWindow } from './fixed-window.ts';
import { tokenBucket } from './token-bucket.ts';

export const HOOKS: readonly HookDefinition[] = [bearerToken, fixedWindow, apiKey, tokenBucket];
