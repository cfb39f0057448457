// The manual dev overlay of the observability stack (observability/dev, docs/observability.md): here, beside the
// other kustomize renders, because only platform/ may use the pinned kustomize helpers (make check-imports).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from './validate/manifest.ts';
import { kustomizeBin, kustomizeBuild, REPO_ROOT } from './validate/project.ts';

const OBSERVABILITY = join(REPO_ROOT, 'observability');
const ENV_FILE = 'grafana-admin.env';

/** Grafana's admin password as the overlay renders it into the observability-credentials Secret. */
function grafanaAdminPassword(rendered: string): string | undefined {
  const secret = parseManifest(rendered).find(
    (o) => o.kind === 'Secret' && o.metadata.name === 'observability-credentials',
  ) as { data?: Record<string, string> } | undefined;
  const encoded = secret?.data?.['grafana-admin-password'];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}

describe('observability/dev', () => {
  // A copy of the overlay and the base it builds on, without any env file a developer generated in this checkout.
  let copy = '';
  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'sluice-obs-dev-'));
    for (const dir of ['k8s', 'dev'])
      cpSync(join(OBSERVABILITY, dir), join(copy, dir), {
        recursive: true,
        filter: (src) => basename(src) !== ENV_FILE,
      });
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it('commits no Grafana admin password: the secretGenerator reads a git-ignored env file', () => {
    const kustomization = readFileSync(join(OBSERVABILITY, 'dev', 'kustomization.yaml'), 'utf8');
    expect(kustomization).not.toMatch(/grafana-admin-password=/);
    expect(kustomization).toContain(`- ${ENV_FILE}`);
    const ignored = readFileSync(join(REPO_ROOT, '.gitignore'), 'utf8').split('\n');
    expect(ignored).toContain(`observability/dev/${ENV_FILE}`);
  });

  it('fails to build, naming the file, before credentials.sh has run', () => {
    const result = spawnSync(kustomizeBin(), ['build', join(copy, 'dev')], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(ENV_FILE);
  });

  it('renders a random password credentials.sh generated, private to its owner and kept on a second run', () => {
    const file = join(copy, 'dev', ENV_FILE);
    const generate = () =>
      execFileSync(join(OBSERVABILITY, 'dev', 'credentials.sh'), [file], { encoding: 'utf8', stdio: 'pipe' });

    generate();
    const first = grafanaAdminPassword(kustomizeBuild(join(copy, 'dev')));
    generate();
    const second = grafanaAdminPassword(kustomizeBuild(join(copy, 'dev')));

    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(second).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  // `kubectl apply -k` into a new namespace: a pod whose Secret is missing never starts (CreateContainerConfigError).
  it('carries every Secret, and every key, that its pods read', () => {
    execFileSync(join(OBSERVABILITY, 'dev', 'credentials.sh'), [join(copy, 'dev', ENV_FILE)], {
      stdio: 'pipe',
    });
    const objects = parseManifest(kustomizeBuild(join(copy, 'dev')));
    const secrets = new Map<string, Set<string>>();
    for (const o of objects) {
      if (o.kind !== 'Secret') continue;
      const { data, stringData } = o as { data?: object; stringData?: object };
      secrets.set(o.metadata.name, new Set([...Object.keys(data ?? {}), ...Object.keys(stringData ?? {})]));
    }
    const missing: string[] = [];
    for (const o of objects) {
      for (const ref of secretReferences(o)) {
        const keys = secrets.get(ref.name);
        if (keys === undefined || (ref.key !== undefined && !keys.has(ref.key)))
          missing.push(
            `${o.kind}/${o.metadata.name} → ${ref.name}${ref.key === undefined ? '' : `.${ref.key}`}`,
          );
      }
    }
    expect(missing).toEqual([]);
    expect(secrets.size).toBeGreaterThan(0);
  });
});

/** The Secrets an object's pods read: volumes (`secret.secretName`), `secretKeyRef`s and `envFrom.secretRef`s. */
function secretReferences(value: unknown, found: { name: string; key?: string }[] = []): typeof found {
  if (Array.isArray(value)) for (const v of value) secretReferences(v, found);
  else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const ref = (o.secretKeyRef ?? o.secretRef) as
      | { name?: unknown; key?: unknown; optional?: unknown }
      | undefined;
    if (typeof ref?.name === 'string' && ref.optional !== true)
      found.push({ name: ref.name, ...(typeof ref.key === 'string' ? { key: ref.key } : {}) });
    const secret = o.secret as { secretName?: unknown; optional?: unknown } | undefined;
    if (typeof secret?.secretName === 'string' && secret.optional !== true)
      found.push({ name: secret.secretName });
    for (const v of Object.values(o)) secretReferences(v, found);
  }
  return found;
}
