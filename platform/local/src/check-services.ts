/**
 * `make check-local-services` (in `make test`): everything `make dev` reads must load as it reads it,
 * so a manifest error shows before `make dev` — every functions/<system>/<name>/service.yaml, the
 * gateway's route table (functions/<system>/routes.yaml) — and the exposure rules hold: one public
 * Service (the gateway), every Service the broker feeds cluster-local, every route to a cluster-local
 * Service that exists.
 */
import { resolve } from 'node:path';
import { type EventingManifests, loadEventingManifests } from '../../../eventing/src/index.ts';
import {
  parseRouteTable,
  RouteTableError,
  repositoryRouteSources,
} from '../../../functions/runtime/src/index.ts';
import { eventEndpointProblems, publicServiceProblems, routeTargetProblems } from './exposure.ts';
import {
  displayPath,
  KnativeServiceError,
  type KnativeServiceSpec,
  loadKnativeServices,
} from './knative-service.ts';

export interface LocalCheck {
  readonly services: readonly KnativeServiceSpec[];
  readonly problems: readonly string[];
}

/** Where each Service is fed events from, by the eventing manifests. */
function eventDestinations(manifests: EventingManifests) {
  return [
    ...manifests.triggers.flatMap((t) => [
      { what: `subscriber of Trigger ${t.name}`, ref: t.subscriber.ref },
      { what: `dead-letter sink of Trigger ${t.name}`, ref: t.delivery?.deadLetterSink?.ref },
    ]),
    {
      what: `dead-letter sink of Broker ${manifests.broker.name}`,
      ref: manifests.broker.delivery?.deadLetterSink?.ref,
    },
    ...manifests.sources.map((s) => ({ what: `sink of RabbitmqSource ${s.name}`, ref: s.sink.ref })),
  ];
}

export async function checkLocalServices(functionsDir: string, eventingDir: string): Promise<LocalCheck> {
  let services: KnativeServiceSpec[];
  try {
    services = await loadKnativeServices(functionsDir);
  } catch (err) {
    if (!(err instanceof KnativeServiceError)) throw err;
    return { services: [], problems: [err.message] };
  }
  const problems = [...publicServiceProblems(services)];
  try {
    problems.push(
      ...routeTargetProblems(await parseRouteTable(repositoryRouteSources(functionsDir)), services),
    );
  } catch (err) {
    if (!(err instanceof RouteTableError)) throw err;
    problems.push(...err.problems);
  }
  problems.push(
    ...eventEndpointProblems(eventDestinations(await loadEventingManifests(eventingDir)), services),
  );
  return { services, problems };
}

if (import.meta.main) {
  const root = resolve(import.meta.dirname, '../../..');
  const { services, problems } = await checkLocalServices(
    resolve(root, 'functions'),
    resolve(root, 'eventing/manifests'),
  );
  for (const s of services) {
    const skipped = s.skippedEnv.length > 0 ? ` (cluster-only env: ${s.skippedEnv.join(', ')})` : '';
    process.stdout.write(`ok  ${displayPath(s.file)} ${s.visibility}${skipped}\n`);
  }
  for (const p of problems) process.stderr.write(`${p}\n`);
  if (problems.length > 0) process.exitCode = 1;
  else process.stdout.write('ok  routes, one public Service, every event endpoint cluster-local\n');
}
