/**
 * What is reachable from where, checked the same way `make dev` starts and `make check-local-services`
 * runs: one public Service (the gateway, on GATEWAY_PORT), every Service the broker feeds cluster-local,
 * and every gateway route pointing at a cluster-local Service that exists. The deploy rules
 * (platform/k3s/validate/rules.ts) say the same about the rendered overlays.
 *
 * The route files reach the gateway as kustomize's ConfigMap would hold them: `<system>.yaml` in one
 * folder (`writeRouteFiles`), which the gateway reads from GATEWAY_ROUTES_DIR.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KReference } from '../../../eventing/src/index.ts';
import { ROUTE_KIND, type RouteSource, type RouteTable } from '../../../functions/runtime/src/index.ts';
import { type KnativeServiceSpec, VISIBILITY } from './knative-service.ts';

/** More than one public Service: only one can be the entry. */
export function publicServiceProblems(services: readonly KnativeServiceSpec[]): string[] {
  const open = services.filter((s) => s.visibility === VISIBILITY.public);
  return open.length <= 1
    ? []
    : [
        `${open.map((s) => s.name).join(', ')} are public: only the gateway may be (label the others networking.knative.dev/visibility: cluster-local)`,
      ];
}

/** Every proxy route targets a Service of the platform, and a cluster-local one. */
export function routeTargetProblems(table: RouteTable, services: readonly KnativeServiceSpec[]): string[] {
  const problems: string[] = [];
  for (const route of table.routes) {
    if (route.kind !== ROUTE_KIND.proxy) continue;
    const target = services.find((s) => s.name === route.service);
    if (target === undefined)
      problems.push(`${route.file}: ${route.prefix} proxies to ${route.service}, which has no service.yaml`);
    else if (target.visibility !== VISIBILITY.clusterLocal)
      problems.push(
        `${route.file}: ${route.prefix} proxies to ${route.service}, which is public: make it cluster-local, the gateway is the way in`,
      );
  }
  return problems;
}

/** Knative Services that receive events (trigger subscribers, dead-letter sinks, source sinks) must be cluster-local. */
export function eventEndpointProblems(
  destinations: readonly { readonly what: string; readonly ref: KReference | undefined }[],
  services: readonly KnativeServiceSpec[],
): string[] {
  const problems: string[] = [];
  for (const { what, ref } of destinations) {
    if (ref?.kind !== 'Service' || !ref.apiVersion.startsWith('serving.knative.dev/')) continue;
    const svc = services.find((s) => s.name === ref.name);
    if (svc !== undefined && svc.visibility !== VISIBILITY.clusterLocal)
      problems.push(
        `${svc.file}: ${svc.name} receives events (${what}) but is public: label it networking.knative.dev/visibility: cluster-local`,
      );
  }
  return problems;
}

/** Writes `<dir>/<system>.yaml` for each source (as kustomize's configMapGenerator names the keys), removing others. */
export async function writeRouteFiles(dir: string, sources: readonly RouteSource[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const wanted = new Set(sources.map((s) => `${s.system}.yaml`));
  for (const name of await readdir(dir)) if (!wanted.has(name)) await rm(join(dir, name), { force: true });
  for (const s of sources) {
    const file = join(dir, `${s.system}.yaml`);
    await writeFile(`${file}.${process.pid}.tmp`, s.text);
    await rename(`${file}.${process.pid}.tmp`, file);
  }
}
