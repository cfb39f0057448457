/**
 * What `make deploy` prints at the end: how to reach each endpoint and UI of an overlay. The Services the
 * operators and controllers create (broker ingress, RabbitMQ) are known by their upstream naming rules; the
 * rest come from the rendered manifest, so an observability UI added there shows up without editing this.
 *   node platform/k3s/validate/endpoints.ts dist/manifests/<overlay>.yaml
 */
import { readFileSync } from 'node:fs';
import { at, group, isKnativeService, type KubeObject, parseManifest } from './manifest.ts';
import { environmentNamespaces } from './rules.ts';

export function endpointLines(objects: readonly KubeObject[]): string[] {
  // The app namespace (functions, broker); the data services are in their own (docs/deploy.md).
  const env = environmentNamespaces(objects);
  const ns = env?.app ?? objects.find((o) => o.kind === 'Namespace')?.metadata.name ?? 'sluice';
  const dataNs = env?.data ?? ns;
  const pf = (svc: string, local: number, remote: number, where = ns) =>
    `kubectl -n ${where} port-forward svc/${svc} ${local}:${remote}`;
  const clusterLocal = (s: KubeObject) =>
    s.metadata.labels?.['networking.knative.dev/visibility'] === 'cluster-local';
  const lines = [
    `Functions (Knative Services, scale to zero): kubectl -n ${ns} get ksvc   # URL column`,
    ...objects
      .filter(isKnativeService)
      .map((s) =>
        clusterLocal(s)
          ? `  ${s.metadata.name}: http://${s.metadata.name}.${ns}.svc.cluster.local (cluster-local: in-cluster only)`
          : `  ${s.metadata.name}: http://${s.metadata.name}.${ns}.<node-ip>.sslip.io   # the one public entry (docs/gateway.md)`,
      ),
    'Kourier (ingress for the public URL): kubectl -n kourier-system get svc kourier   # EXTERNAL-IP = node IP',
  ];
  for (const b of objects.filter(
    (o) => o.kind === 'Broker' && group(o.apiVersion) === 'eventing.knative.dev',
  )) {
    const name = b.metadata.name;
    lines.push(
      `Broker ${name} ingress: http://${name}-broker-ingress.${ns}.svc.cluster.local (in-cluster); from here: ${pf(`${name}-broker-ingress`, 8080, 80)} then curl http://127.0.0.1:8080/`,
    );
  }
  for (const r of objects.filter((o) => o.kind === 'RabbitmqCluster')) {
    const name = r.metadata.name;
    const where = r.metadata.namespace ?? dataNs;
    lines.push(
      `RabbitMQ management UI: ${pf(name, 15672, 15672, where)} → http://127.0.0.1:15672 (user: kubectl -n ${where} get secret ${name}-default-user -o jsonpath='{.data.username}' | base64 -d; password: same with .data.password)`,
    );
  }
  for (const s of objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1')) {
    const ports = at(s, 'spec', 'ports');
    if (!Array.isArray(ports)) continue;
    for (const p of ports) {
      const port = Number(at(p, 'port'));
      const where = s.metadata.namespace ?? ns;
      lines.push(
        `${s.metadata.name} (${String(at(p, 'name') ?? port)}): kubectl -n ${where} port-forward svc/${s.metadata.name} ${port}:${port}`,
      );
    }
  }
  lines.push(
    `MongoDB credentials: kubectl -n ${dataNs} get secret mongodb-credentials -o jsonpath='{.data.app-password}' | base64 -d`,
  );
  return lines;
}

if (import.meta.main) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: endpoints.ts <rendered-manifest.yaml>\n');
    process.exit(2);
  }
  process.stdout.write(`${endpointLines(parseManifest(readFileSync(file, 'utf8'), file)).join('\n')}\n`);
}
