/**
 * Who may do what: the admin key (a Secret, generated at deploy and by `make dev`) has the role `admin`,
 * a user's key the role `user`. The gateway's api-key hook enforces a route's required role per method
 * (403 otherwise); the users function checks the admin key again for POST /users, so a request that
 * reached it some other way inside the cluster still needs the key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const Role = { admin: 'admin', user: 'user' } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** The principal id the admin key stands for. */
export const ADMIN_PRINCIPAL = 'admin';
export const ADMIN_KEY_ENV = 'QUOTES_ADMIN_KEY';
export const MIN_ADMIN_KEY_LENGTH = 32;

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Constant-time comparison of a presented key with the admin key. */
export function isAdminKey(presented: string, adminKey: string): boolean {
  return timingSafeEqual(digest(presented), digest(adminKey));
}

/** The key in an Authorization header: `Bearer <key>` or the bare key (as the original clients send it). */
export function keyFromAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  const bearer = /^bearer\s+(\S+)$/i.exec(value);
  if (bearer !== null) return bearer[1];
  return /^\S+$/.test(value) ? value : undefined;
}
