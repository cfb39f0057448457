import { describe, expect, it } from 'vitest';
import { newApiKey, parseApiKey } from './api-keys.ts';
import { isAdminKey, keyFromAuthorization } from './roles.ts';
import { API_KEY_COST, hashSecret, PASSWORD_COST, SecretHashError, verifySecret } from './secrets.ts';

describe('secrets', () => {
  describe('hashSecret / verifySecret', () => {
    it('verifies the password it hashed, and no other', async () => {
      const stored = await hashSecret('correct horse battery', PASSWORD_COST);
      expect(stored).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
      expect(stored).not.toContain('correct');
      expect(await verifySecret('correct horse battery', stored)).toBe(true);
      expect(await verifySecret('correct horse batterY', stored)).toBe(false);
    });

    it('salts: the same secret hashes differently each time', async () => {
      const [a, b] = await Promise.all([
        hashSecret('s3cret-s3cret', API_KEY_COST),
        hashSecret('s3cret-s3cret', API_KEY_COST),
      ]);
      expect(a).not.toBe(b);
      expect(await verifySecret('s3cret-s3cret', b)).toBe(true);
    });

    it('refuses a stored value that is not a scrypt hash, or one whose cost is out of range', async () => {
      await expect(verifySecret('x', 'plain')).rejects.toThrow(SecretHashError);
      await expect(verifySecret('x', '$scrypt$ln=30,r=8,p=1$AAAA$AAAA')).rejects.toThrow('cost out of range');
    });
  });

  describe('API keys', () => {
    it('parses what it issues', () => {
      const { key, secret } = newApiKey('ada-l');
      expect(key.startsWith('qk_ada-l_')).toBe(true);
      expect(parseApiKey(key)).toEqual({ userId: 'ada-l', secret });
    });

    it('refuses what cannot be a key', () => {
      for (const bad of [
        '',
        'qk_',
        'qk_ada',
        'qk_Ada_x',
        `qk_ada_${'a'.repeat(42)}`,
        'xx_ada_secret',
        `qk_ada_${'a'.repeat(200)}`,
      ])
        expect(parseApiKey(bad), bad).toBeUndefined();
    });
  });

  describe('roles', () => {
    it('reads the key from "Bearer <key>" and from a bare "<key>"', () => {
      expect(keyFromAuthorization('Bearer abc')).toBe('abc');
      expect(keyFromAuthorization('bearer  abc')).toBe('abc');
      expect(keyFromAuthorization('abc')).toBe('abc');
      expect(keyFromAuthorization('Basic a b')).toBeUndefined();
      expect(keyFromAuthorization(undefined)).toBeUndefined();
    });

    it('compares the admin key exactly', () => {
      const admin = 'x'.repeat(40);
      expect(isAdminKey(admin, admin)).toBe(true);
      expect(isAdminKey(`${admin}y`, admin)).toBe(false);
    });
  });
});
