/**
 * Secrets under `make dev`. On the cluster `make deploy` generates each Secret a Knative Service names in
 * `valueFrom.secretKeyRef` (never in git); here the platform does the same, per run: 32 random bytes
 * (base64url) for every required reference, the same value for every Service naming the same Secret key,
 * passed in the instances' env and written to `.tmp/dev/secrets/<secret>/<key>` (mode 0600, its folder
 * 0700) so a person can use it (`curl -H "Authorization: $(cat .tmp/dev/secrets/…)"`). The start-up view
 * prints the paths, never the values. An optional reference is left unset, as on a cluster without that
 * Secret; a variable the platform passes through (REDIS_URL, MONGODB_URL) still wins over both.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KnativeServiceSpec } from './knative-service.ts';

export interface DevSecrets {
  /** Env for one Service's instances. */
  envFor(service: string): Readonly<Record<string, string>>;
  /** `<secret>/<key>` → file, for the start-up view. */
  readonly files: ReadonlyMap<string, string>;
}

const SAFE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SAFE_KEY = /^[-._a-zA-Z0-9]+$/;

export async function generateDevSecrets(
  services: readonly KnativeServiceSpec[],
  dir: string,
): Promise<DevSecrets> {
  const values = new Map<string, string>();
  const files = new Map<string, string>();
  const perService = new Map<string, Record<string, string>>();
  await rm(dir, { recursive: true, force: true });
  for (const s of services) {
    const env: Record<string, string> = {};
    for (const ref of s.secretEnv) {
      if (!SAFE.test(ref.secret) || !SAFE_KEY.test(ref.key) || ref.key.startsWith('.'))
        throw new Error(
          `${s.name}: secretKeyRef ${ref.secret}/${ref.key} is not a valid Secret name and key`,
        );
      const id = `${ref.secret}/${ref.key}`;
      let value = values.get(id);
      if (value === undefined) {
        value = randomBytes(32).toString('base64url');
        values.set(id, value);
        const folder = join(dir, ref.secret);
        await mkdir(folder, { recursive: true, mode: 0o700 });
        await chmod(dir, 0o700);
        const file = join(folder, ref.key);
        await writeFile(file, value, { mode: 0o600 });
        files.set(id, file);
      }
      env[ref.env] = value;
    }
    perService.set(s.name, env);
  }
  return { envFor: (service) => perService.get(service) ?? {}, files };
}
