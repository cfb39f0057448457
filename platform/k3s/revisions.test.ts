import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { K3S_DIR } from './validate/project.ts';

/** `DRY_RUN=1 platform/k3s/revisions.sh …`: the kubectl commands make update / make rollback run. */
function dryRun(...args: string[]): { status: number | null; out: string; commands: string[] } {
  const r = spawnSync(join(K3S_DIR, 'revisions.sh'), args, {
    encoding: 'utf8',
    env: {
      ...process.env,
      DRY_RUN: '1',
      KUBECONFIG: '/nonexistent',
      MANIFEST: '/nonexistent',
      OVERLAY: 'qualification',
    },
  });
  const out = `${r.stdout}${r.stderr}`;
  return { status: r.status, out, commands: r.stdout.split('\n').filter((l) => l.startsWith('+ ')) };
}

describe('make update / make rollback (DRY_RUN=1)', () => {
  it('update: a new revision through a template annotation, then all traffic to the latest', () => {
    const { status, commands } = dryRun('update', 'window-aggregator');
    expect(status).toBe(0);
    expect(commands[0]).toMatch(
      /^\+ kubectl -n sluice-qualification patch ksvc window-aggregator --type=merge -p '\{"spec":\{"template":\{"metadata":\{"annotations":\{"sluice.dev\/rollout":"\d{8}T\d{6}Z"\}\}\}\}\}'$/,
    );
    expect(commands[1]).toContain('{"spec":{"traffic":[{"latestRevision":true,"percent":100}]}}');
    expect(commands[2]).toContain('wait --for=condition=Ready --timeout=600s ksvc/window-aggregator');
  });

  it('rollback to a named revision: 100 % to it, the latest kept under a tag at 0 %', () => {
    const { status, commands } = dryRun('rollback', 'window-aggregator', 'window-aggregator-00001');
    expect(status).toBe(0);
    expect(commands[0]).toBe(
      `+ kubectl -n sluice-qualification patch ksvc window-aggregator --type=merge -p '{"spec":{"traffic":[{"revisionName":"window-aggregator-00001","percent":100},{"latestRevision":true,"percent":0,"tag":"latest"}]}}'`,
    );
  });

  it('rollback without a revision looks up the one before the serving revision', () => {
    const { status, commands } = dryRun('rollback', 'window-aggregator');
    expect(status).toBe(0);
    expect(commands[0]).toContain(
      'get revisions -l serving.knative.dev/service=window-aggregator --sort-by=.metadata.creationTimestamp',
    );
    expect(commands[1]).toContain('"revisionName":"<previous-revision>"');
  });

  it('refuses names that are not Kubernetes names', () => {
    expect(dryRun('rollback', 'Window;rm').status).not.toBe(0);
    expect(dryRun('rollback', 'window-aggregator', '"x"').status).not.toBe(0);
    expect(dryRun('deploy', 'window-aggregator').status).not.toBe(0);
  });
});
