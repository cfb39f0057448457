import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkManifest, K3S_DIR } from './validate/project.ts';

/** The issuers install-platform.sh applies for the public gateway's HTTPS, as it writes them. */
const issuer = (file: string) =>
  readFileSync(join(K3S_DIR, 'tls', file), 'utf8').replace('email: ACME_EMAIL', 'email: ops@example.com');

describe('HTTPS issuers (platform/k3s/tls)', { timeout: 60_000 }, () => {
  it('validate against the pinned cert-manager CRDs', async () => {
    for (const file of ['selfsigned-ca.yaml', 'acme-issuer.yaml'])
      expect((await checkManifest(issuer(file), file)).schemaErrors, file).toEqual([]);
  });

  it('fail on a field cert-manager does not know, and on a missing required one', async () => {
    const ca = await checkManifest(
      issuer('selfsigned-ca.yaml').replace('commonName', 'commonNme'),
      'planted',
    );
    expect(ca.schemaErrors).toEqual([
      'planted: Certificate sluice-ca: spec.commonNme is not a field of this kind (a typo? the cluster would drop it)',
    ]);
    const acme = await checkManifest(
      issuer('acme-issuer.yaml').replace('privateKeySecretRef', 'privateKeySecretRf'),
      'planted',
    );
    expect(acme.schemaErrors).toContain(
      'planted: ClusterIssuer sluice-acme: spec.acme.privateKeySecretRef is required',
    );
  });

  it('leave only the account address to fill in', () => {
    expect(readFileSync(join(K3S_DIR, 'tls', 'acme-issuer.yaml'), 'utf8')).toMatch(
      /^ {4}email: ACME_EMAIL$/m,
    );
  });
});
