/**
 * FunctionHost that runs each instance as its own process with the container's entry point — the image's
 * `node main.mjs` from the revision's bundle (revision-bundles.ts), or `node functions/runtime/src/main.ts`
 * from the TypeScript source when no bundles are given (tests) —, and the env Knative would give the container: PORT, K_SERVICE,
 * K_REVISION, the manifest's env, plus the platform's MONGODB_URL / RABBITMQ_URL. An instance is ready
 * when GET /health/readiness answers 200, as Knative's readiness probe. Child logs are passed on line
 * by line, kept ECS JSON (or prefixed with the instance in human mode).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ECS_VERSION, type ListeningMessage, portsReported } from '../../../functions/runtime/src/index.ts';
import {
  type FunctionHost,
  type FunctionInstance,
  type InstanceExit,
  InstanceStartError,
  type InstanceStartRequest,
} from './function-host.ts';
import type { KnativeServiceSpec } from './knative-service.ts';
import type { RevisionBundles } from './revision-bundles.ts';
import { revisionOf } from './scaler.ts';

export const LOG_FORMAT = { json: 'json', human: 'human' } as const;
export type LogFormat = (typeof LOG_FORMAT)[keyof typeof LOG_FORMAT];

/**
 * Platform env handed to every function when set, over the manifest's own values: what the cluster
 * gives through Secrets (MONGODB_URL), and where things are on this machine instead of in cluster DNS
 * (the broker, each Service's router, the gateway's route files as its ConfigMap would hold them).
 */
export const PASSTHROUGH_ENV = [
  'MONGODB_URL',
  'MONGODB_DB',
  'RABBITMQ_URL',
  'LOG_LEVEL',
  'SLUICE_DEV_STORE_URL',
  'SLUICE_DEV_STORE_TOKEN',
  'SLUICE_SERVICE_URLS',
  'BROKER_URL',
  'GATEWAY_ROUTES_DIR',
  'REDIS_URL',
] as const;
/**
 * The node flags that give an instance the heap its container would have. Node sizes V8's heap from the memory it
 * may use — a container's cgroup limit on the cluster, the whole machine here — with the old generation at a
 * quarter of it (measured on Node 24: in a 256Mi memory cgroup, the same heap limit as --max-old-space-size=64).
 * Locally there is no cgroup, so the flag says it; a NODE_OPTIONS that sets the heap itself wins.
 */
export function containerHeapArgs(
  memoryLimitBytes: number | undefined,
  nodeOptions: string | undefined,
): string[] {
  if (memoryLimitBytes === undefined || /--max-old-space-size/.test(nodeOptions ?? '')) return [];
  return [`--max-old-space-size=${Math.max(16, Math.floor(memoryLimitBytes / 4 / 2 ** 20))}`];
}

/** Process basics a container image would also have. */
const BASE_ENV = ['PATH', 'HOME', 'TZ', 'LANG', 'TMPDIR', 'NODE_OPTIONS'] as const;

export interface ProcessHostOptions {
  /** Repository root: `functions/runtime/src/main.ts` is resolved from here. */
  readonly root: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where child log lines go. @default process.stdout */
  readonly out?: { write(chunk: string): unknown };
  readonly logFormat?: LogFormat;
  /** Deadline for the readiness probe. @default 60 000 */
  readonly startTimeoutMs?: number;
  /** After SIGTERM, SIGKILL when the process is still there. @default 35 000 */
  readonly stopTimeoutMs?: number;
  /** Readiness poll interval. @default 50 */
  readonly probeIntervalMs?: number;
  /**
   * Env the platform derives for one Service, read at each instance start and laid over the
   * manifest's (SLUICE_DEAD_LETTER_SINK from its Triggers).
   */
  readonly envFor?: (service: KnativeServiceSpec) => Readonly<Record<string, string>>;
  /**
   * Resolves once `env` is complete (the platform adds the broker's URL after the routers exist): an instance
   * asked for earlier (a request held at a router) starts only then.
   */
  readonly envComplete?: Promise<unknown>;
  /** Run each revision from its image's bundle; unset: from the TypeScript source. */
  readonly bundles?: RevisionBundles;
}

export class ProcessFunctionHost implements FunctionHost {
  readonly #root: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #out: { write(chunk: string): unknown };
  readonly #format: LogFormat;
  readonly #startTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #probeMs: number;
  readonly #envFor: ((service: KnativeServiceSpec) => Readonly<Record<string, string>>) | undefined;
  readonly #envComplete: Promise<unknown>;
  readonly #bundles: RevisionBundles | undefined;

  constructor(options: ProcessHostOptions) {
    this.#envFor = options.envFor;
    this.#root = options.root;
    this.#env = options.env ?? process.env;
    this.#out = options.out ?? process.stdout;
    this.#format = options.logFormat ?? LOG_FORMAT.json;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 35_000;
    this.#probeMs = options.probeIntervalMs ?? 50;
    this.#envComplete = options.envComplete ?? Promise.resolve();
    this.#bundles = options.bundles;
  }

  async start(req: InstanceStartRequest): Promise<FunctionInstance> {
    const { service, instanceId } = req;
    await this.#envComplete;
    // Ports: 0, so the OS picks free ones as the instance binds them, and the instance reports them over IPC
    // (runtime report-ports.ts) — a port picked here first could be taken before the instance binds it, and the
    // readiness probe then answered by another process. A fixed metrics port from the manifest (the cluster's
    // pod has it to itself) would clash between instances here; it is moved the same way.
    const wantsMetrics = service.env.METRICS_PORT !== undefined;
    const env: Record<string, string> = {};
    for (const key of BASE_ENV) {
      const v = this.#env[key];
      if (v !== undefined) env[key] = v;
    }
    // The manifest's own env wins over what the platform derives, as a container's env wins over envFrom.
    Object.assign(env, this.#envFor?.(service), service.env);
    for (const key of PASSTHROUGH_ENV) {
      const v = this.#env[key];
      if (v !== undefined && v !== '') env[key] = v;
    }
    if (wantsMetrics) env.METRICS_PORT = '0';
    // A bundle is the image: its FUNCTION_DIR is its own folder (bundle.ts), as in the container.
    const bundled = await this.#bundles?.entryOf(service).catch((err: unknown) => {
      throw new InstanceStartError(`${instanceId} cannot start: ${(err as Error).message}`);
    });
    if (bundled === undefined) env.FUNCTION_DIR = service.functionDir;
    Object.assign(env, {
      SLUICE_REPORT_PORTS: 'ipc',
      PORT: '0',
      HOST: '127.0.0.1',
      K_SERVICE: service.name,
      K_CONFIGURATION: service.name,
      K_REVISION: revisionOf(service),
    });
    const main = bundled ?? resolve(this.#root, 'functions/runtime/src/main.ts');
    const heap = containerHeapArgs(service.memoryLimitBytes, env.NODE_OPTIONS);
    const child = spawn(process.execPath, [...heap, main], {
      cwd: bundled === undefined ? this.#root : dirname(bundled),
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let listening: ListeningMessage | undefined;
    const reported = portsReported(child).then((message) => {
      listening = message;
    });
    const recentErr: string[] = [];
    this.#pipe(child, instanceId, service.name, recentErr);

    let stopping = false;
    let readyDone = false;
    const exited = new Promise<InstanceExit>((done) => {
      child.once('exit', (code, signal) => done({ code, signal, expected: stopping }));
    });
    child.once('error', () => {}); // spawn errors also end in 'exit' or the probe deadline

    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), this.#stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    };
    void exited.then((exit) => {
      if (readyDone) req.onExit(exit);
    });

    const deadline = Date.now() + this.#startTimeoutMs;
    let exit: InstanceExit | undefined;
    void exited.then((e) => {
      exit = e;
    });
    let ports: ListeningMessage;
    for (;;) {
      if (exit !== undefined) {
        const why = recentErr.length > 0 ? `: ${recentErr.join(' | ')}` : '';
        throw new InstanceStartError(
          `${instanceId} exited with code ${exit.code ?? exit.signal} before it was ready${why}`,
        );
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await exited;
        throw new InstanceStartError(
          listening === undefined
            ? `${instanceId} did not report the port it listens on within ${this.#startTimeoutMs} ms`
            : `${instanceId} did not pass ${urlOf(listening.port)}/health/readiness within ${this.#startTimeoutMs} ms`,
        );
      }
      const wait = new Promise((r) => setTimeout(r, this.#probeMs));
      if (listening === undefined) {
        await Promise.race([reported, wait, exited]);
        continue;
      }
      if ((await probe(`${urlOf(listening.port)}/health/readiness`)) === 200) {
        ports = listening;
        break;
      }
      await Promise.race([wait, exited]);
    }
    const instance: FunctionInstance = {
      id: instanceId,
      url: urlOf(ports.port),
      ...(ports.metricsPort === undefined ? {} : { metricsUrl: urlOf(ports.metricsPort) }),
      pid: child.pid,
      stop,
    };
    readyDone = true;
    if (exit !== undefined) {
      // Died right after answering the probe: report it as an exit after start.
      const e = exit;
      queueMicrotask(() => req.onExit(e));
    }
    return instance;
  }

  #pipe(child: ChildProcess, instanceId: string, serviceName: string, recentErr: string[]): void {
    const forward = (stream: NodeJS.ReadableStream | null, isErr: boolean): void => {
      if (stream === null) return;
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        if (line === '') return;
        if (isErr) {
          recentErr.push(line);
          if (recentErr.length > 5) recentErr.shift();
        }
        this.#out.write(`${this.#formatLine(line, instanceId, serviceName, isErr)}\n`);
      });
    };
    forward(child.stdout, false);
    forward(child.stderr, true);
  }

  #formatLine(line: string, instanceId: string, serviceName: string, isErr: boolean): string {
    if (this.#format === LOG_FORMAT.human) return `${instanceId.padEnd(12)} | ${line}`;
    if (line.startsWith('{') && isJson(line)) return line;
    // Plain text (a crash trace, a message before the logger exists): wrapped so the stream stays ECS JSON.
    return JSON.stringify({
      '@timestamp': new Date().toISOString(),
      'log.level': isErr ? 'error' : 'info',
      message: line,
      'ecs.version': ECS_VERSION,
      service: { name: serviceName },
      'log.origin.stream': isErr ? 'stderr' : 'stdout',
      'sluice.instance.id': instanceId,
    });
  }
}

const urlOf = (port: number): string => `http://127.0.0.1:${port}`;

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** Status of a GET, or 0 when nothing answers. */
export function probe(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((done) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}
