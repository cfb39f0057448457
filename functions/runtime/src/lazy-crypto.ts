/**
 * SHA-256 and random bytes without loading node:crypto before the first event is answered.
 *
 * node:crypto loads 38 internal modules (~4.4 ms on the bench machine, a sixteenth of a cold start), and
 * the first event needs only one SHA-256 (its idempotency key) and a few random bytes (its span id). So the
 * first use answers without it and asks for node:crypto on the next turn of the event loop, after that
 * event's answer is written (as telemetry.ts does with the OpenTelemetry SDK); from then on every call goes
 * to node:crypto. Until then SHA-256 comes from `@noble/hashes` (audited, the same digest: lazy-crypto.test.ts
 * compares them) and random bytes from `Math.random`, which is what OpenTelemetry JS's own id generator uses for
 * trace and span ids — nothing drawn here is a secret.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

type NodeCrypto = typeof import('node:crypto');

let nodeCrypto: NodeCrypto | undefined;
let asked = false;

function askForNodeCrypto(): void {
  if (asked) return;
  asked = true;
  setImmediate(() => {
    nodeCrypto = process.getBuiltinModule('node:crypto');
  });
}

/** SHA-256 of `data` (a string is hashed as UTF-8), encoded as `encoding`. */
export function sha256(data: string | Uint8Array, encoding: 'hex' | 'base64url'): string {
  if (nodeCrypto !== undefined) return nodeCrypto.hash('sha256', data, encoding);
  askForNodeCrypto();
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const digest = nobleSha256(bytes);
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString(encoding);
}

/** `size` random bytes: node:crypto's `randomBytes` once loaded. */
export function randomBytes(size: number): Buffer {
  if (nodeCrypto !== undefined) return nodeCrypto.randomBytes(size);
  askForNodeCrypto();
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

/** Whether node:crypto serves the calls yet (tests). */
export function nodeCryptoLoaded(): boolean {
  return nodeCrypto !== undefined;
}
