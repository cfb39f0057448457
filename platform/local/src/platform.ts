/**
 * The local platform `make dev` runs: serving for every Knative Service in functions/, the broker from
 * eventing/ with subscribers resolved to the serving routers, and the Prometheus target list. Exposed
 * as a function so the end-to-end tests run exactly what `make dev` runs.
 */

import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type {
  AcceptedRecord,
  DispatcherScaleRecord,
  TrailRecord,
  TriggerState,
} from '../../../eventing/src/index.ts';
import {
  type DocumentStore,
  type Logger,
  openStore,
  parseRouteTable,
  type RouteTable,
  repositoryRouteSources,
} from '../../../functions/runtime/src/index.ts';
import { scaleRecorder, startConsole } from './console/console.ts';
import type { ConsoleServer } from './console/console-server.ts';
import { EventRecorder } from './console/recorder.ts';
import { type ControlServer, startControlServer } from './control-server.ts';
import { generateDevSecrets } from './dev-secrets.ts';
import { type DevStoreServer, startDevStoreServer } from './dev-store-server.ts';
import { publicServiceProblems, routeTargetProblems, writeRouteFiles } from './exposure.ts';
import type { FunctionHost } from './function-host.ts';
import { type KnativeServiceSpec, loadKnativeServices, VISIBILITY } from './knative-service.ts';
import { LOG_FORMAT, type LogFormat, ProcessFunctionHost } from './process-host.ts';
import {
  brokerTarget,
  DEFAULT_TARGETS_FILE,
  type FileSdGroup,
  TargetsFile,
  toFileSd,
} from './prometheus-targets.ts';
import { bundlesDirOfThisRun, RevisionBundles, RUN_FROM, type RunFrom } from './revision-bundles.ts';
import { LocalRevisions } from './revisions.ts';
import { type Serving, startServing } from './serving.ts';

/** A Knative `Destination.ref`, as eventing reads it from a Trigger's subscriber or a deadLetterSink. */
export interface KReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
}

export type ResolveSubscriber = (ref: KReference, uri?: string) => string;

/** SLUICE_DATA_PLANE: which data plane the broker behaves like (eventing/src/data-plane.ts). */
export const DATA_PLANE_NAMES = ['upstream', 'sluice'] as const;
export type DataPlaneName = (typeof DATA_PLANE_NAMES)[number];

export interface BrokerContext {
  readonly root: string;
  readonly port: number;
  readonly rabbitmqUrl: string | undefined;
  /** SLUICE_SOURCES: the RabbitmqSources to run, by name; undefined: every one. */
  readonly sources?: readonly string[] | undefined;
  readonly log: Logger;
  readonly resolveSubscriber: ResolveSubscriber;
  readonly dataPlane: DataPlaneName;
  /** Told what became of every delivery; `make try` and the console read it back (console/recorder.ts). */
  readonly onTrail?: (record: TrailRecord) => void;
  /** Told of every event the broker accepted (the console's live stream). */
  readonly onAccepted?: (record: AcceptedRecord) => void;
  /** Told of every scale decision on a Trigger's dispatcher (the console's Triggers view). */
  readonly onDispatcherScale?: (record: DispatcherScaleRecord) => void;
}

/** What the platform needs from a running broker. */
export interface LocalBroker {
  readonly url: string;
  /** Human lines for the operator view: backend, each trigger → subscriber. */
  readonly description: readonly string[];
  /** Knative Service → the dead-letter sink URL its Triggers name; given to it as SLUICE_DEAD_LETTER_SINK. */
  readonly deadLetterSinks?: ReadonlyMap<string, string>;
  /** The AMQP exchanges its running RabbitmqSources read (none on the in-memory broker); written to endpoints.json. */
  readonly sourceExchanges?: readonly string[];
  /** Each Trigger's state (queue depth, replicas), for the console's Triggers view. */
  triggers?(): Promise<readonly TriggerState[]>;
  /** Pauses (true) or resumes (false) a Trigger's delivery, its queue keeping the events; false: no such Trigger. */
  pause?(trigger: string, paused: boolean): Promise<boolean>;
  paused?(trigger: string): boolean | undefined;
  stop(): Promise<void>;
}

/** The env the platform derives for a function from eventing (what the cluster's kustomize base sets). */
export const DEAD_LETTER_SINK_ENV = 'SLUICE_DEAD_LETTER_SINK';

export type BrokerStarter = (context: BrokerContext) => Promise<LocalBroker>;

export class SubscriberResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubscriberResolutionError';
  }
}

export interface DevPlatformOptions {
  /** Repository root. @default the one this file lives in */
  readonly root?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  /** Where child log lines go. @default process.stdout */
  readonly out?: { write(chunk: string): unknown };
  readonly services?: readonly KnativeServiceSpec[];
  readonly host?: FunctionHost;
  /** @default eventing's startBroker */
  readonly startBroker?: BrokerStarter;
  /**
   * Keep revisions (revisions.ts): every function under functions/<system>/ runs from a snapshot taken at start,
   * `make update` / `make rollback` move its traffic through the control API. Relative to the root; unset = the
   * working tree is run as it is, one revision, no control API (tests).
   */
  readonly revisionsDir?: string;
  /**
   * Where instances run from when SLUICE_RUN_FROM is unset: `bundle`, the image's `main.mjs` built per revision
   * (revision-bundles.ts; `make dev`), or `source`, `functions/runtime/src/main.ts` on the working tree's
   * TypeScript (tests: no build per platform). @default source
   */
  readonly runFrom?: RunFrom;
}

export interface DevPlatform {
  readonly serving: Serving;
  readonly broker: LocalBroker | undefined;
  readonly targetsFile: string;
  readonly config: Readonly<DevPlatformConfig>;
  /** What instances run from: their image's bundle per revision, or the TypeScript source. */
  readonly runFrom: RunFrom;
  /** The shared in-memory store every function uses when MONGODB_URL is unset (development only). */
  readonly devStoreUrl?: string | undefined;
  /** Its per-run token (passed to functions as SLUICE_DEV_STORE_TOKEN; never logged). */
  readonly devStoreToken?: string | undefined;
  /** Secrets generated for this run (`<secret>/<key>` → 0600 file; dev-secrets.ts). */
  readonly secretFiles?: ReadonlyMap<string, string> | undefined;
  /** The public Service (the gateway) on GATEWAY_PORT, with the route table it was started with. */
  readonly gateway?: { readonly name: string; readonly url: string; readonly routes: RouteTable } | undefined;
  /** What became of recent deliveries, for `make try` (the console's GET /v1/trail); reading needs `token`. */
  readonly trail?: { readonly url: string; readonly token: string } | undefined;
  /** The event console (console/): its API and page, the token, the page URL to print; its recorder. */
  readonly console?:
    | {
        readonly url: string;
        readonly token: string;
        readonly pageUrl: string;
        readonly recorder: EventRecorder;
      }
    | undefined;
  /** The revisions and their control API (make update / make rollback), when `revisionsDir` was given. */
  readonly revisions?: LocalRevisions | undefined;
  readonly control?: { readonly url: string; readonly token: string } | undefined;
  stop(): Promise<void>;
}

export interface DevPlatformConfig {
  readonly root: string;
  readonly brokerPort: number;
  /** Where the public Service (the gateway) listens; 0 picks a free port. */
  readonly gatewayPort: number;
  readonly rabbitmqUrl: string | undefined;
  readonly sources: readonly string[] | undefined;
  readonly mongodbUrl: string | undefined;
  readonly idleOverride: string | undefined;
  readonly logFormat: LogFormat;
  readonly targetsFile: string;
  readonly dataPlane: DataPlaneName;
  /** SLUICE_CONSOLE_PORT: where the event console listens; 0 (default) picks a free port. */
  readonly consolePort: number;
  /** SLUICE_RUN_FROM: `bundle` or `source`; undefined = the platform's default (DevPlatformOptions.runFrom). */
  readonly runFrom: RunFrom | undefined;
}

export class DevPlatformConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevPlatformConfigError';
  }
}

export function resolveDevConfig(
  env: Readonly<Record<string, string | undefined>>,
  root: string,
): Readonly<DevPlatformConfig> {
  const port = (name: string, fallback: string): number => {
    const raw = env[name] || fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      throw new DevPlatformConfigError(`${name}="${raw}" must be a port number (0 picks a free one)`);
    }
    return value;
  };
  const brokerPort = port('BROKER_PORT', '8080');
  const gatewayPort = port('GATEWAY_PORT', '8000');
  const consolePort = port('SLUICE_CONSOLE_PORT', '0');
  const format = env.SLUICE_LOG_FORMAT || LOG_FORMAT.json;
  if (format !== LOG_FORMAT.json && format !== LOG_FORMAT.human) {
    throw new DevPlatformConfigError(`SLUICE_LOG_FORMAT="${format}" must be json or human`);
  }
  const runFrom = env.SLUICE_RUN_FROM || undefined;
  if (runFrom !== undefined && runFrom !== RUN_FROM.bundle && runFrom !== RUN_FROM.source) {
    throw new DevPlatformConfigError(`SLUICE_RUN_FROM="${runFrom}" must be bundle or source`);
  }
  const dataPlane = env.SLUICE_DATA_PLANE || 'upstream';
  if (dataPlane !== 'upstream' && dataPlane !== 'sluice') {
    throw new DevPlatformConfigError(`SLUICE_DATA_PLANE="${dataPlane}" must be upstream or sluice`);
  }
  return Object.freeze({
    root,
    dataPlane,
    brokerPort,
    gatewayPort,
    consolePort,
    runFrom,
    rabbitmqUrl: env.RABBITMQ_URL || undefined,
    // A comma-separated list; empty: none. Two platforms on one RabbitMQ would share a source queue's messages.
    sources:
      env.SLUICE_SOURCES === undefined
        ? undefined
        : env.SLUICE_SOURCES.split(',')
            .map((n) => n.trim())
            .filter((n) => n !== ''),
    mongodbUrl: env.MONGODB_URL || undefined,
    idleOverride: env.SLUICE_SCALE_TO_ZERO_AFTER || undefined,
    logFormat: format,
    targetsFile: resolve(root, env.SLUICE_PROMETHEUS_TARGETS || DEFAULT_TARGETS_FILE),
  });
}

/** Maps a Knative Service reference to its local router URL (`uri` resolved against it, as upstream). */
export function subscriberResolver(
  serving: Serving,
  services: readonly KnativeServiceSpec[],
): ResolveSubscriber {
  return (ref, uri) => {
    if (!ref.apiVersion.startsWith('serving.knative.dev/') || ref.kind !== 'Service') {
      throw new SubscriberResolutionError(
        `subscriber ${ref.kind} ${ref.apiVersion} "${ref.name}" is not a Knative Service; locally only serving.knative.dev Services can be subscribers`,
      );
    }
    const spec = services.find((s) => s.name === ref.name);
    const base = serving.urlFor(ref.name);
    if (spec === undefined || base === undefined) {
      throw new SubscriberResolutionError(
        `subscriber Knative Service "${ref.name}" has no functions/${ref.name}/service.yaml`,
      );
    }
    if (ref.namespace !== undefined && ref.namespace !== spec.namespace) {
      throw new SubscriberResolutionError(
        `subscriber "${ref.name}" is in namespace ${ref.namespace}, but its manifest says ${spec.namespace}`,
      );
    }
    return new URL(uri ?? '/', `${base}/`).href;
  };
}

export async function startDevPlatform(options: DevPlatformOptions): Promise<DevPlatform> {
  const root = options.root ?? resolve(import.meta.dirname, '../../..');
  const env = options.env ?? process.env;
  const config = resolveDevConfig(env, root);
  const log = options.log;
  const services = options.services ?? (await loadKnativeServices(resolve(root, 'functions')));
  for (const spec of services) {
    if (spec.skippedEnv.length > 0) {
      log.info(
        `${spec.name}: env ${spec.skippedEnv.join(', ')} come from Secrets/ConfigMaps on the cluster; locally the platform's own env is passed instead (MONGODB_URL, RABBITMQ_URL)`,
        { 'event.action': 'manifest-env-skipped', 'faas.name': spec.name },
      );
    }
  }
  const problems = publicServiceProblems(services);
  if (problems.length > 0) throw new DevPlatformConfigError(problems.join('; '));
  // The public Service is the gateway: it gets GATEWAY_PORT, and the route table as its ConfigMap would hold it.
  const gatewaySpec = services.find((s) => s.visibility === VISIBILITY.public);
  let routes: RouteTable | undefined;
  let routesDir: string | undefined;
  if (gatewaySpec !== undefined) {
    const sources = repositoryRouteSources(resolve(root, 'functions'));
    routes = await parseRouteTable(sources);
    const routeProblems = routeTargetProblems(routes, services);
    if (routeProblems.length > 0) throw new DevPlatformConfigError(routeProblems.join('; '));
    routesDir = join(dirname(config.targetsFile), 'gateway-routes');
    await writeRouteFiles(routesDir, sources);
  }
  // What `make deploy` generates into Secrets, generated per run (the values never reach a log).
  const secrets = await generateDevSecrets(services, join(dirname(config.targetsFile), 'secrets'));
  // Without MONGODB_URL: one in-memory store for all instances, hosted here (like InMemoryChannel), so
  // state is shared across scale-out and survives scale-to-zero. Only for the function processes we spawn.
  const devStore: DevStoreServer | undefined =
    config.mongodbUrl === undefined && options.host === undefined ? await startDevStoreServer() : undefined;
  // Filled once the broker has read the Triggers; instances start after that (serving's deferStart).
  let deadLetterSinks: ReadonlyMap<string, string> = new Map();
  // Filled in as the platform comes up (routers, then the broker) and read by each instance start, so
  // instances are started only once it is complete (serving's deferStart).
  const childEnv: Record<string, string | undefined> = {
    ...env,
    ...(devStore === undefined
      ? {}
      : { SLUICE_DEV_STORE_URL: devStore.url, SLUICE_DEV_STORE_TOKEN: devStore.token }),
    ...(routesDir === undefined ? {} : { GATEWAY_ROUTES_DIR: routesDir }),
  };
  let envComplete: () => void = () => {};
  // Bundles only for the instances spawned here; in a folder of this run's own (two runs never share one).
  const runFrom =
    options.host === undefined ? (config.runFrom ?? options.runFrom ?? RUN_FROM.source) : RUN_FROM.source;
  const bundlesDir = runFrom === RUN_FROM.bundle ? await bundlesDirOfThisRun(root) : undefined;
  const bundles = bundlesDir === undefined ? undefined : new RevisionBundles({ root, dir: bundlesDir, log });
  const removeBundles = async (): Promise<void> => {
    bundles?.stop();
    if (bundlesDir !== undefined) await rm(bundlesDir, { recursive: true, force: true });
  };
  const host =
    options.host ??
    new ProcessFunctionHost({
      root,
      env: childEnv,
      envComplete: new Promise<void>((resolve) => {
        envComplete = resolve;
      }),
      logFormat: config.logFormat,
      envFor: (service) => {
        const sink = deadLetterSinks.get(service.name);
        return {
          ...secrets.envFor(service.name),
          ...(sink === undefined ? {} : { [DEAD_LETTER_SINK_ENV]: sink }),
        };
      },
      ...(options.out === undefined ? {} : { out: options.out }),
      ...(bundles === undefined ? {} : { bundles }),
    });
  const targets = new TargetsFile(config.targetsFile, (err) =>
    log.warn(`cannot write ${config.targetsFile}: ${String(err)}`),
  );
  let serving: Serving | undefined;
  let brokerTargets: FileSdGroup[] = [];
  const refreshTargets = (): void => {
    if (serving !== undefined) void targets.write([...toFileSd(serving.snapshots()), ...brokerTargets]);
  };
  // The console's recording: in memory, and in MongoDB too when MONGODB_URL is set (it survives a restart).
  let consoleStore: DocumentStore | undefined;
  if (config.mongodbUrl !== undefined && options.host === undefined) {
    try {
      consoleStore = await openStore({
        mongodbUrl: config.mongodbUrl,
        mongodbDb: env.MONGODB_DB || 'sluice',
      });
    } catch (err) {
      log.warn(`console: MongoDB unavailable, recording in memory only: ${String(err)}`);
    }
  }
  const recorder = new EventRecorder({
    ...(consoleStore === undefined ? {} : { store: consoleStore }),
    onStoreError: (err) => log.warn(`console: records not written to MongoDB: ${String(err)}`),
  });
  await recorder
    .restore()
    .catch((err: unknown) => log.warn(`console: records not read back: ${String(err)}`));
  const onScale = scaleRecorder(recorder);
  await targets.write([]);
  try {
    serving = await startServing({
      services,
      host,
      log,
      ...(config.idleOverride === undefined ? {} : { idleOverride: config.idleOverride }),
      onChange: (snapshot) => {
        refreshTargets();
        onScale(snapshot);
      },
      deferStart: true,
      ...(gatewaySpec === undefined
        ? {}
        : { routerPorts: new Map([[gatewaySpec.name, config.gatewayPort]]) }),
    });
  } catch (err) {
    await removeBundles();
    await devStore?.close();
    await consoleStore?.close();
    throw err;
  }
  refreshTargets();
  const running = serving;
  let revisions: LocalRevisions | undefined;
  let control: ControlServer | undefined;
  if (options.revisionsDir !== undefined) {
    try {
      revisions = new LocalRevisions({
        root,
        dir: resolve(root, options.revisionsDir),
        services,
        router: running,
        log,
      });
      await revisions.init();
      control = await startControlServer({ revisions, log });
    } catch (err) {
      await running.stop();
      await removeBundles();
      await devStore?.close();
      await consoleStore?.close();
      throw err;
    }
  }
  // Cluster DNS, locally: every Service's router by name (the gateway proxies to them).
  childEnv.SLUICE_SERVICE_URLS = JSON.stringify(
    Object.fromEntries([...running.functions].map(([name, fn]) => [name, fn.router.url])),
  );
  let broker: LocalBroker | undefined;
  let consoleServer: ConsoleServer | undefined;
  // Dead letters as make dlq finds them: MongoDB, else the dev store.
  const devDeadLetters =
    devStore === undefined
      ? undefined
      : await openStore({ devStoreUrl: devStore.url, devStoreToken: devStore.token, memory: false });
  const deadLetterStore = consoleStore ?? devDeadLetters;
  try {
    const start = options.startBroker ?? (await import('./eventing-broker.ts')).startEventingBroker;
    broker = await start({
      root,
      port: config.brokerPort,
      rabbitmqUrl: config.rabbitmqUrl,
      sources: config.sources,
      log,
      resolveSubscriber: subscriberResolver(running, services),
      dataPlane: config.dataPlane,
      onTrail: (record) => recorder.add(record),
      onAccepted: (record) => recorder.add(record),
      onDispatcherScale: (record) => recorder.add(record),
    });
    consoleServer = await startConsole({
      recorder,
      log,
      services,
      snapshots: () => running.snapshots(),
      broker,
      deadLetterStore,
      port: config.consolePort,
    });
    deadLetterSinks = broker.deadLetterSinks ?? new Map();
    childEnv.BROKER_URL = broker.url;
    brokerTargets = [brokerTarget(broker.url)];
    refreshTargets();
    envComplete();
    await running.start();
    // The other revisions' bundles, niced, while nothing asks for them yet.
    void bundles?.prebuild(revisions?.routedSpecs() ?? services);
  } catch (err) {
    envComplete(); // held starts go on (and are stopped with the rest)
    await consoleServer?.close();
    await broker?.stop();
    await control?.close();
    await running.stop();
    await removeBundles();
    await devStore?.close();
    await consoleStore?.close();
    throw err;
  }
  const gatewayUrl = gatewaySpec === undefined ? undefined : running.urlFor(gatewaySpec.name);
  let stopping: Promise<void> | undefined;
  return {
    serving: running,
    broker,
    targetsFile: config.targetsFile,
    config,
    runFrom,
    devStoreUrl: devStore?.url,
    devStoreToken: devStore?.token,
    secretFiles: secrets.files,
    gateway:
      gatewaySpec === undefined || gatewayUrl === undefined || routes === undefined
        ? undefined
        : { name: gatewaySpec.name, url: gatewayUrl, routes },
    trail: { url: consoleServer.url, token: consoleServer.token },
    console: { url: consoleServer.url, token: consoleServer.token, pageUrl: consoleServer.pageUrl, recorder },
    revisions,
    control: control === undefined ? undefined : { url: control.url, token: control.token },
    stop() {
      stopping ??= (async () => {
        await consoleServer?.close();
        // The broker first (no new deliveries), then functions finish in-flight requests and exit.
        await broker?.stop();
        await control?.close();
        await running.stop();
        await removeBundles();
        await devDeadLetters?.close();
        await devStore?.close(); // last: draining functions still write to it
        await recorder.flush();
        await consoleStore?.close();
        await targets.write([]);
      })();
      return stopping;
    },
  };
}
