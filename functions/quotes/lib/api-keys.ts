/**
 * API keys: `qk_<user id>_<secret>`, the secret 32 random bytes (base64url). The user id in the key makes
 * verification one `_id` lookup plus one scrypt check (the stored hash is salted, so a key cannot be found
 * by its hash). A key is shown once, when its user is created, and stored only as a hash (secrets.ts).
 */
import { randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'qk_';
/** User ids: lower-case letters, digits, `-`; no `_`, which separates the parts of a key. */
export const USER_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;
/** Longer is not a key; refused before any work. */
export const MAX_KEY_LENGTH = 128;

export interface ParsedKey {
  readonly userId: string;
  readonly secret: string;
}

export function newApiKey(userId: string): { readonly key: string; readonly secret: string } {
  const secret = randomBytes(32).toString('base64url');
  return { key: `${KEY_PREFIX}${userId}_${secret}`, secret };
}

/** The parts of a user's key, or undefined when `key` cannot be one. */
export function parseApiKey(key: string): ParsedKey | undefined {
  if (key.length > MAX_KEY_LENGTH || !key.startsWith(KEY_PREFIX)) return undefined;
  const rest = key.slice(KEY_PREFIX.length);
  const cut = rest.indexOf('_');
  if (cut < 0) return undefined;
  const userId = rest.slice(0, cut);
  const secret = rest.slice(cut + 1);
  return USER_ID.test(userId) && SECRET.test(secret) ? { userId, secret } : undefined;
}
