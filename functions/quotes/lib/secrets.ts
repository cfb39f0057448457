/**
 * Passwords and API keys, hashed with scrypt from node:crypto (a memory-hard KDF; no native dependency).
 * The stored form is self-describing, after the PHC string format
 * (`$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, base64 without padding), so the cost can be raised later and
 * old hashes still verify. Written by hand: PHC parsing is a few lines, and the npm PHC packages are
 * unmaintained.
 *
 * Costs: passwords use N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s: slow on purpose, a guessed password must
 * be expensive). API keys carry 256 random bits, so guessing is hopeless whatever the cost; they use
 * N = 2^12 (4 MiB, a few ms) because the gateway verifies them on every cache miss.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptCost {
  /** log2(N). */
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

export const PASSWORD_COST: ScryptCost = { ln: 15, r: 8, p: 1 };
export const API_KEY_COST: ScryptCost = { ln: 12, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Refused above this cost when verifying: a stored hash must not make one check cost seconds. */
const MAX_LN = 20;

export class SecretHashError extends Error {
  override name = 'SecretHashError';
}

function derive(secret: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.ln;
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) =>
      err === null ? resolve(key) : reject(err),
    );
  });
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

/** A new salted hash of `secret` in PHC form. */
export async function hashSecret(secret: string, cost: ScryptCost): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(secret, salt, cost);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(key)}`;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Whether `secret` matches `stored`; compared in constant time. Throws SecretHashError on a bad hash. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (m === null) throw new SecretHashError('not a $scrypt$ hash');
  const cost: ScryptCost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.ln < 10 || cost.ln > MAX_LN || cost.r < 1 || cost.p < 1)
    throw new SecretHashError('scrypt cost out of range');
  const expected = Buffer.from(m[5] as string, 'base64');
  const key = await derive(secret, Buffer.from(m[4] as string, 'base64'), cost);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
