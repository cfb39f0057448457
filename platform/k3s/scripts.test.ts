import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { K3S_DIR, REPO_ROOT, readVersions } from './validate/project.ts';

// Each test runs make, which renders the overlays first.
vi.setConfig({ testTimeout: 120_000 });

/** `DRY_RUN=1 make <target>`, without letting make reinstall node_modules under other helpers' feet. */
function dryRun(target: string, env: Record<string, string> = {}): string {
  const result = spawnSync('make', ['--no-print-directory', '-o', 'node_modules/.installed', target], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, DRY_RUN: '1', KUBECONFIG: '/nonexistent', ...env },
    timeout: 120_000,
  });
  if (result.status !== 0)
    throw new Error(`make ${target} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return `${result.stdout}${result.stderr}`;
}

/** Line index of the first printed command matching each pattern, in the given order. */
function positions(output: string, patterns: readonly RegExp[]): number[] {
  const commands = output.split('\n');
  return patterns.map((p) => commands.findIndex((line) => p.test(line)));
}

describe('make deploy (DRY_RUN=1)', () => {
  const v = readVersions();
  let output = '';
  let commands: string[] = [];
  beforeAll(() => {
    output = dryRun('deploy');
    commands = output.split('\n').filter((l) => l.startsWith('+ '));
  }, 120_000);

  it('installs the platform in dependency order, then the application', () => {
    const order = [
      new RegExp(`cert-manager/releases/download/${v.CERT_MANAGER_VERSION}/cert-manager.yaml`),
      /deployment\/cert-manager-webhook/,
      new RegExp(
        `cluster-operator/releases/download/${v.RABBITMQ_CLUSTER_OPERATOR_VERSION}/cluster-operator.yml`,
      ),
      /crd\/rabbitmqclusters.rabbitmq.com/,
      /messaging-topology-operator-with-certmanager.yaml/,
      /deployment\/messaging-topology-operator/,
      new RegExp(`serving/releases/download/${v.KNATIVE_SERVING_VERSION}/serving-crds.yaml`),
      /crd\/services.serving.knative.dev/,
      /serving-core.yaml/,
      /deployment\/webhook/,
      new RegExp(`net-kourier/releases/download/${v.KNATIVE_NET_KOURIER_VERSION}/kourier.yaml`),
      /deployment\/3scale-kourier-gateway/,
      /configmap\/config-network .*kourier.ingress.networking.knative.dev/,
      /configmap\/config-deployment .*registries-skipping-tag-resolving.*dev.local/,
      /serving-default-domain.yaml/,
      /job\/default-domain/,
      new RegExp(`eventing/releases/download/${v.KNATIVE_EVENTING_VERSION}/eventing-crds.yaml`),
      /crd\/brokers.eventing.knative.dev/,
      /eventing-core.yaml/,
      /deployment\/eventing-webhook/,
      new RegExp(
        `eventing-rabbitmq/releases/download/${v.KNATIVE_EVENTING_RABBITMQ_VERSION}/rabbitmq-broker.yaml`,
      ),
      /deployment\/rabbitmq-broker-webhook/,
      /create -f - <<< <generated mongodb-credentials/,
      /apply --server-side --force-conflicts --field-manager=sluice-deploy -f - <<< <generated sluice-function-env/,
      /-n sluice-qualification-data apply --server-side --force-conflicts --field-manager=sluice-deploy -f - <<< <generated redis-config: redis.conf>/,
      /create -f - <<< <generated mongodb-exporter-credentials/,
      /apply --server-side .*dist\/manifests\/qualification.yaml/,
      /rollout status statefulset\/mongodb/,
      /exec statefulset\/mongodb -c mongodb -- mongosh --quiet \/docker-entrypoint-initdb.d\/20-exporter-user.js/,
      /exec statefulset\/mongodb -c mongodb -- mongosh --quiet \/docker-entrypoint-initdb.d\/30-orders-users.js/,
      /exec statefulset\/mongodb -c mongodb -- mongosh --quiet \/docker-entrypoint-initdb.d\/40-backup-user.js/,
      /rabbitmqcluster\/rabbitmq/,
      /ksvc --all/,
      /wait --for=condition=Ready .*broker --all/,
      /trigger --all/,
    ];
    const at = positions(commands.join('\n'), order);
    expect(
      at.filter((i) => i < 0),
      `missing: ${order.filter((_, i) => (at[i] ?? -1) < 0).join(', ')}`,
    ).toEqual([]);
    expect(at).toEqual([...at].sort((a, b) => a - b));
  });

  it('waits after every upstream manifest before applying the next one', () => {
    const applies = commands.map((c, i) => (/apply .*-f https:/.test(c) ? i : -1)).filter((i) => i >= 0);
    expect(applies.length).toBeGreaterThanOrEqual(10);
    for (const [n, i] of applies.entries()) {
      const next = applies[n + 1] ?? commands.length;
      const between = commands.slice(i + 1, next);
      if (
        /serving-crds|eventing-crds|cert-manager.yaml|cluster-operator|topology|serving-core|eventing-core|kourier|rabbitmq-broker/.test(
          commands[i] ?? '',
        )
      )
        expect(
          between.some((c) => / wait | rollout status /.test(c)),
          commands[i],
        ).toBe(true);
    }
  });

  it('uses no fixed sleeps and never prints a generated credential', () => {
    expect(commands.some((c) => /\bsleep\b/.test(c))).toBe(false);
    expect(output).not.toMatch(/password: "?[0-9a-f]{32}/);
    expect(output).toContain('<app-password>');
  });

  it('prints where each endpoint and UI is', () => {
    expect(output).toContain('port-forward svc/default-broker-ingress 8080:80');
    expect(output).toContain('RabbitMQ management UI');
    expect(output).toMatch(
      /mongodb \(mongodb\): kubectl -n sluice-qualification-data port-forward svc\/mongodb 27017:27017/,
    );
    expect(output).toContain('kubectl -n sluice-qualification-data port-forward svc/rabbitmq 15672:15672');
  });

  it('creates each Secret in the namespace of the pods that mount it, and names the data services across', () => {
    const created = (name: string) =>
      commands.filter((c) => c.includes(`<generated ${name}`)).map((c) => /-n (\S+)/.exec(c)?.[1]);
    expect(created('mongodb-credentials')).toEqual(['sluice-qualification-data']);
    expect(created('sluice-function-env')).toEqual(['sluice-qualification']);
    // The orders functions' passwords where MongoDB reads them, each function's MONGODB_URL beside it.
    expect(created('orders-mongodb-credentials')).toEqual(['sluice-qualification-data']);
    for (const fn of ['inventory', 'orders-api', 'billing'])
      expect(created(`${fn}-mongodb`)).toEqual(['sluice-qualification']);
    expect(created('redis-credentials')).toEqual(['sluice-qualification-data', 'sluice-qualification']);
    // Redis reads its password from this file (redis.yaml mounts it), never from its command line.
    expect(created('redis-config')).toEqual(['sluice-qualification-data']);
    expect(output).toContain('redis.conf: "requirepass <redis-password>"');
    expect(created('observability-credentials')).toEqual(['sluice-qualification-data']);
    expect(created('keda-rabbitmq-management')).toEqual(['sluice-qualification']);
    expect(output).toContain('@mongodb.sluice-qualification-data.svc.cluster.local:27017/');
    expect(output).toContain('@redis.sluice-qualification-data.svc.cluster.local:6379/0');
    expect(output).toContain('@rabbitmq.sluice-qualification-data.svc.cluster.local:15672/');
  });

  it('keeps qualification small: a single MongoDB, no keyfile, the platform as installed', () => {
    expect(output).toContain('?authSource=admin"');
    expect(output).not.toContain('mongodb-keyfile');
    expect(output).not.toContain('patch hpa activator');
    expect(output).not.toContain('external-domain-tls');
  });

  it('deploys production without a single point of failure: keyfile, replica set, majority writes, HA platform', () => {
    const production = dryRun('deploy', { OVERLAY: 'production' });
    const steps = production.split('\n').filter((l) => l.startsWith('+ '));
    const at = positions(steps.join('\n'), [
      /patch hpa activator --type=merge -p '\{"spec":\{"minReplicas":2\}\}'/,
      /scale deployment 3scale-kourier-gateway --replicas=2/,
      /-n sluice-data create -f - <<< <generated mongodb-keyfile: keyfile>/,
      /-n sluice apply .* <<< <generated sluice-function-env/,
      /apply --server-side .*dist\/manifests\/production.yaml/,
      /rollout status statefulset\/mongodb/,
      /wait --for=condition=Complete .*job\/mongodb-replica-set-init/,
      /exec statefulset\/mongodb .*20-exporter-user.js/,
    ]);
    expect(
      at.every((i) => i >= 0),
      String(at),
    ).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(production).toContain(
      'mongodb://sluice:<app-password>@mongodb.sluice-data.svc.cluster.local:27017/?authSource=admin&replicaSet=rs0&w=majority',
    );
    // HTTPS for the public gateway: a CA of the cluster without DOMAIN, HTTP redirected.
    const tls = positions(steps.join('\n'), [
      /apply --server-side --force-conflicts -f \S+platform\/k3s\/tls\/selfsigned-ca.yaml/,
      /-n cert-manager wait --for=condition=Ready .*certificate\/sluice-ca/,
      /patch configmap\/config-certmanager .*name: sluice-ca/,
      /patch configmap\/config-network .*"external-domain-tls":"Enabled","http-protocol":"Redirected"/,
      /rollout restart deployment\/controller/,
    ]);
    expect(
      tls.every((i) => i >= 0),
      String(tls),
    ).toBe(true);
    expect(tls).toEqual([...tls].sort((a, b) => a - b));
    const acme = dryRun('deploy', {
      OVERLAY: 'production',
      DOMAIN: 'fn.example.com',
      ACME_EMAIL: 'ops@example.com',
    });
    expect(acme).toContain('<<< <ClusterIssuer sluice-acme, email ops@example.com>');
    expect(acme).toMatch(/patch configmap\/config-certmanager .*name: sluice-acme/);
    expect(() => dryRun('deploy', { OVERLAY: 'production', DOMAIN: 'fn.example.com' })).toThrow(
      /needs ACME_EMAIL/,
    );
  });

  it('prints the same plan when run twice', () => {
    expect(dryRun('deploy')).toBe(output);
  }, 120_000);
});

describe('make smoke / undeploy / images / cluster (DRY_RUN=1)', () => {
  it('smoke posts CloudEvents to the broker ingress and queries MongoDB for them', () => {
    const out = dryRun('smoke', { SMOKE_RUN_ID: 'test' });
    const at = positions(out, [
      /port-forward svc\/default-broker-ingress 18080:80/,
      /curl .*application\/cloudevents\+json.*--data-binary @/,
      /-n sluice-qualification-data exec mongodb-0 .*sluice_idempotency/,
    ]);
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(out).toContain('"id":"smoke-test-1"');
  });

  it('undeploy deletes triggers before the broker, the broker before the namespace, and says what stays', () => {
    const out = dryRun('undeploy');
    const at = positions(out, [
      /delete triggers/,
      /delete brokers/,
      /delete services.serving/,
      /delete -f .*qualification.yaml/,
    ]);
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(out).toContain('Left in place');
  });

  it('restore ON=cluster runs mongorestore in a Job on the backup volume, as the backup user, and shows its log', () => {
    const out = dryRun('restore', { ON: 'cluster', BACKUP: 'sluice-20261129T021700Z.archive.gz' });
    const at = positions(out, [
      /-n sluice-qualification-data delete job mongodb-restore --ignore-not-found/,
      /-n sluice-qualification-data create -f - <<< <Job mongodb-restore>/,
      /wait --for=condition=Complete .*job\/mongodb-restore/,
      /logs job\/mongodb-restore/,
    ]);
    expect(
      at.every((i) => i >= 0),
      String(at),
    ).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(out).toContain('value: "sluice-20261129T021700Z.archive.gz"');
    expect(out).toContain('name: mongodb-backup-credentials');
    expect(out).not.toContain('mongodb-credentials,');
    expect(() => dryRun('restore', { ON: 'cluster', BACKUP: '../etc/passwd' })).toThrow(
      /BACKUP must be an archive name/,
    );
  });

  it('images builds each function and imports it into k3s, or pushes it to REGISTRY', () => {
    const local = dryRun('images', { BUILDER: 'docker', FN: 'hello' });
    expect(local).toMatch(
      /docker build -f \S+platform\/k3s\/image\/Dockerfile --build-arg FN=hello -t dev.local\/sluice\/hello:\S+/,
    );
    expect(local).toMatch(/k3s ctr images import/);
    const pushed = dryRun('images', {
      BUILDER: 'docker',
      FN: 'hello',
      REGISTRY: 'registry.example:5000/team',
    });
    expect(pushed).toMatch(/docker push registry.example:5000\/team\/sluice\/hello:/);
    expect(pushed).not.toMatch(/ctr images import/);
  });

  it('cluster installs the pinned k3s without Traefik', () => {
    const out = dryRun('cluster');
    expect(out).toContain(`INSTALL_K3S_VERSION=${readVersions().K3S_VERSION}`);
    expect(out).toContain('--disable=traefik');
  });

  it('cluster creates a server with a generated token on a file, never on a command line, and joins agents with it', () => {
    const server = dryRun('cluster');
    const at = positions(server, [
      /install -m 0600 \/dev\/stdin \/etc\/rancher\/k3s\/sluice-token <<< <generated cluster token>/,
      /INSTALL_K3S_EXEC=server --disable=traefik --write-kubeconfig-mode=0600 --token-file \/etc\/rancher\/k3s\/sluice-token/,
      /install -m 0600 -o \d+ -g \d+ \/etc\/rancher\/k3s\/sluice-token \S+\/k3s-sluice\.token/,
    ]);
    expect(
      at.every((i) => i >= 0),
      String(at),
    ).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(server).toContain('make cluster K3S_URL=https://<this host>:6443 K3S_TOKEN_FILE=<the copy>');
    const agent = dryRun('cluster', {
      K3S_URL: 'https://10.0.0.1:6443',
      K3S_TOKEN_FILE: '/home/dev/k3s-sluice.token',
    });
    expect(agent).toContain('install -m 0600 /home/dev/k3s-sluice.token /etc/rancher/k3s/sluice-token');
    expect(agent).toMatch(
      /K3S_URL=https:\/\/10\.0\.0\.1:6443 'INSTALL_K3S_EXEC=agent --token-file \/etc\/rancher\/k3s\/sluice-token'/,
    );
    expect(agent).not.toContain('--disable=traefik');
    expect(agent).not.toContain('k3s-sluice.yaml');
    expect(() => dryRun('cluster', { K3S_URL: 'http://10.0.0.1' })).toThrow(/K3S_URL must be/);
  });

  it('cluster keeps the admin kubeconfig private: root-only on the node, a 0600 copy for the invoking user', () => {
    const out = dryRun('cluster', { KUBECONFIG_OUT: '/home/dev/.kube/k3s-sluice.yaml' });
    expect(out).toContain('--write-kubeconfig-mode=0600');
    expect(out).not.toMatch(/write-kubeconfig-mode=0?6[0-7][4-7]/);
    expect(out).toMatch(
      /install -m 0600 -o \d+ -g \d+ \/etc\/rancher\/k3s\/k3s\.yaml \/home\/dev\/\.kube\/k3s-sluice\.yaml/,
    );
    expect(out).toContain('export KUBECONFIG=/home/dev/.kube/k3s-sluice.yaml');
  });
});

describe('shell scripts', () => {
  it('are shellcheck-clean', () => {
    const scripts: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.sh')) scripts.push(relative(REPO_ROOT, join(dir, e.name)));
      }
    };
    walk(K3S_DIR);
    expect(scripts.length).toBeGreaterThanOrEqual(7);
    const result = spawnSync('shellcheck', ['-x', ...scripts], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(result.error, 'shellcheck must be installed (apt-get install shellcheck)').toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });

  it('run with bash strict mode', () => {
    for (const f of readdirSync(K3S_DIR).filter((n) => n.endsWith('.sh') && n !== 'lib.sh')) {
      const head = execFileSync('head', ['-12', join(K3S_DIR, f)], { encoding: 'utf8' });
      expect(head, f).toContain('set -euo pipefail');
    }
  });
});
