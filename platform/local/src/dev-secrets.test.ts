import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDevSecrets } from './dev-secrets.ts';
import type { KnativeServiceSpec } from './knative-service.ts';

const spec = (name: string, secretEnv: KnativeServiceSpec['secretEnv']): KnativeServiceSpec =>
  ({ name, secretEnv }) as unknown as KnativeServiceSpec;

describe('dev-secrets', () => {
  it('generates one value per Secret key, shared by the Services naming it, in 0600 files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-secrets-'));
    try {
      const secrets = await generateDevSecrets(
        [
          spec('users', [{ env: 'QUOTES_ADMIN_KEY', secret: 'quotes-admin-key', key: 'admin-key' }]),
          spec('other', [{ env: 'ADMIN', secret: 'quotes-admin-key', key: 'admin-key' }]),
          spec('plain', []),
        ],
        join(dir, 'secrets'),
      );
      const value = secrets.envFor('users').QUOTES_ADMIN_KEY as string;
      expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(secrets.envFor('other')).toEqual({ ADMIN: value });
      expect(secrets.envFor('plain')).toEqual({});
      const file = secrets.files.get('quotes-admin-key/admin-key') as string;
      expect(await readFile(file, 'utf8')).toBe(value);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'secrets'))).mode & 0o777).toBe(0o700);
      const again = await generateDevSecrets(
        [spec('users', [{ env: 'K', secret: 'quotes-admin-key', key: 'admin-key' }])],
        join(dir, 'secrets'),
      );
      expect(again.envFor('users').K).not.toBe(value); // per run
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a name that could leave the folder', async () => {
    await expect(
      generateDevSecrets(
        [spec('x', [{ env: 'K', secret: '../up', key: 'k' }])],
        join(tmpdir(), 'never-written'),
      ),
    ).rejects.toThrow('not a valid Secret name');
  });
});
