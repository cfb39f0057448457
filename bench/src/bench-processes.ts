/**
 * What the bench hosts share: the broker child process (`broker-child.ts`, pinned to the server core) or a host's
 * own `--broker` process (the source paths: fleet-host.ts, streams-host.ts, with their store and source exchange),
 * small HTTP servers (subscriber, dead-letter sink), a keep-alive POST, and the CPU and memory of a process read
 * from /proc.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import amqp, { type ChannelModel } from 'amqplib';
import { type EventingManifests, startBroker } from '../../eventing/src/index.ts';
import { type DocumentStore, JsonLogger, openStore } from '../../functions/runtime/src/index.ts';
import { startDevStoreServer } from '../../platform/local/src/dev-store-server.ts';
import { loadKnativeService } from '../../platform/local/src/knative-service.ts';
import { PLATFORM_NODE_FLAGS } from '../../platform/local/src/platform-node-flags.ts';
import { containerHeapArgs } from '../../platform/local/src/process-host.ts';
import { freePort } from '../../platform/test-servers/ports.ts';
import { cpuTicksFromStat, cpuTimesFromStat } from './broker-bench.ts';
import { ROOT } from './servers.ts';

const STOP_TIMEOUT_MS = 15_000;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds used so far by a process (user + system), or undefined when /proc is not readable. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const ticks = cpuTicksFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === undefined ? undefined : ticks / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** The same split into user and system seconds (the kernel's share of a server's CPU per request). */
export function cpuTimesSeconds(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const times = cpuTimesFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return times === undefined
      ? undefined
      : { user: times.user / CLOCK_TICKS, system: times.system / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/**
 * The node flags of the bench's stand-ins for `make dev`'s platform process (the broker child, and the
 * scripts that host the dev store): the platform's own, or `BENCH_PLATFORM_NODE_FLAGS` to compare others
 * (`BENCH_PLATFORM_NODE_FLAGS=' '` for none).
 */
export function platformNodeFlags(): readonly string[] {
  const given = process.env.BENCH_PLATFORM_NODE_FLAGS;
  return given === undefined ? PLATFORM_NODE_FLAGS : given.split(' ').filter((f) => f !== '');
}

/** Resident set size of a process in MB (VmRSS), or undefined. */
export function rssMbOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

export interface Sink {
  readonly server: Server;
  readonly url: string;
}

export async function listen(handler: Parameters<typeof createServer>[1]): Promise<Sink> {
  const server = createServer({ keepAliveTimeout: 30_000 }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** A server that answers 202 to every request and counts them: a dead-letter sink, a catcher of published events. */
export async function countingSink(): Promise<Sink & { count(): number }> {
  let count = 0;
  const sink = await listen((req, res) => {
    count++;
    req.resume();
    res.writeHead(202).end();
  });
  return { ...sink, count: () => count };
}

/**
 * Reads the events of `types` that the broker routes, from a queue of this process's own bound to the broker's
 * exchange as a Trigger's queue is (`x-match: all` on `type`), so that the bench sees them without a delivery
 * through the broker. The queue is exclusive: it goes with the connection. Each message's `type` and `subject`
 * headers (the attributes as the broker writes them, eventing/src/wire.ts) go to `onEvent`.
 */
export async function observeEvents(
  rabbitmqUrl: string,
  exchange: string,
  types: readonly string[],
  onEvent: (type: string, subject: string | undefined) => void,
): Promise<{ close(): Promise<void> }> {
  const connection = await amqp.connect(rabbitmqUrl);
  const close = (): Promise<void> => connection.close().catch(() => {});
  try {
    const ch = await connection.createChannel();
    const { queue } = await ch.assertQueue('', {
      exclusive: true,
      durable: false,
      arguments: { 'x-queue-type': 'classic' },
    });
    for (const type of types) await ch.bindQueue(queue, exchange, '', { 'x-match': 'all', type });
    await ch.consume(
      queue,
      (message) => {
        if (message === null) return;
        const headers = message.properties.headers ?? {};
        onEvent(String(headers.type), typeof headers.subject === 'string' ? headers.subject : undefined);
      },
      { noAck: true },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

export interface Outgoing {
  readonly headers: Record<string, string | number>;
  readonly body: Buffer;
}

/** POSTs one event on a keep-alive agent; resolves with the status (0 on a socket error). */
export function post(agent: Agent, url: URL, out: Outgoing): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { ...out.headers, 'content-length': out.body.length },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', () => resolve(0));
    req.end(out.body);
  });
}

interface TopologyNames {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

export interface BrokerChild {
  readonly child: ChildProcess;
  readonly url: string;
  readonly names: TopologyNames;
  /** The console server of a recording broker (its /v1/stream is what a watching page reads). */
  readonly console?: { readonly url: string; readonly token: string };
}

/** What broker-child.ts runs: the manifests to build, and the URL of every subscriber they name. */
export interface BrokerChildArgs {
  readonly url: string;
  readonly manifests:
    | {
        readonly kind: 'broker';
        readonly eventType: string;
        readonly parallelism: number;
        readonly queueType: string;
      }
    | { readonly kind: 'pipeline'; readonly queueType: string };
  readonly subscribers: Readonly<Record<string, string>>;
  /**
   * Feed `make dev`'s console recorder from the broker (onAccepted + onTrail), as make dev does, and serve it
   * through the console's server (the host reads its server-sent events, as an open console page does).
   */
  readonly recording?: boolean;
}

export async function startBrokerChild(args: BrokerChildArgs, cpu: string): Promise<BrokerChild> {
  // BENCH_PROFILE_DIR=<dir>: the broker writes a --cpu-prof there when it stops, as the pipeline's
  // functions do (`node bench/src/profile.ts --file <profile>` summarises it).
  const profile = process.env.BENCH_PROFILE_DIR;
  const flags = [...platformNodeFlags()];
  if (profile !== undefined) {
    flags.push('--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=broker-${Date.now()}.cpuprofile`);
  }
  const child = spawn(
    'taskset',
    ['-c', cpu, process.execPath, ...flags, join(ROOT, 'bench/src/broker-child.ts'), JSON.stringify(args)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const ready = await brokerReady(child);
  const space = ready.indexOf(' ');
  const { console, ...names } = JSON.parse(ready.slice(space + 1)) as TopologyNames & {
    console?: BrokerChild['console'];
  };
  return { child, url: ready.slice(0, space), names, ...(console === undefined ? {} : { console }) };
}

/** What a broker process prints once it serves (`READY <url> …`), after READY; 30 s at the most. */
function brokerReady(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('broker did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`broker exited with ${code} before READY`)));
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(line.slice('READY '.length).trim());
    });
  });
}

/** Closes a broker process's stdin, on which it deletes its topology and exits; SIGKILL when it has not in 15 s. */
async function endBrokerProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Asks the broker to delete its topology and exit; if it has to be killed, deletes the topology here. */
export async function stopBrokerChild(broker: BrokerChild, rabbitmqUrl: string): Promise<void> {
  const { child } = broker;
  await endBrokerProcess(child);
  if (child.exitCode === 0) return;
  const connection = await amqp.connect(rabbitmqUrl);
  try {
    const ch = await connection.createChannel();
    ch.on('error', () => {});
    for (const q of broker.names.queues) await ch.deleteQueue(q).catch(() => {});
    for (const e of broker.names.exchanges) await ch.deleteExchange(e).catch(() => {});
  } finally {
    await connection.close().catch(() => {});
  }
}

/** SIGTERM (a function drains and exits, writing its --cpu-prof), SIGKILL after 10 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The node flags a function's container runs it with: its service.yaml's NODE_OPTIONS (the young generation) and
 * the old space its memory limit gives it, as `make dev` does (process-host.ts `containerHeapArgs`), unless
 * `nodeFlags` set one.
 */
export async function containerNodeArgs(functionDir: string, nodeFlags?: string): Promise<string[]> {
  const spec = await loadKnativeService(join(functionDir, 'service.yaml'));
  const options = spec.env.NODE_OPTIONS ?? '';
  return [
    ...options.split(' ').filter((f) => f !== ''),
    ...containerHeapArgs(spec.memoryLimitBytes, `${options} ${nodeFlags ?? ''}`),
  ];
}

/** A function process as its container runs it (runtime main.ts), pinned to `cpu`, once its readiness probe answers. */
export async function startFunctionProcess(options: {
  readonly dir: string;
  readonly name: string;
  readonly cpu: string;
  readonly env: Record<string, string>;
}): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(
    'taskset',
    [
      '-c',
      options.cpu,
      process.execPath,
      ...(await containerNodeArgs(options.dir)),
      join(ROOT, 'functions/runtime/src/main.ts'),
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        ...options.env,
        FUNCTION_DIR: options.dir,
        PORT: String(port),
        HOST: '127.0.0.1',
        K_SERVICE: options.name,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}/`;
  const deadline = performance.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited with ${child.exitCode}`);
    const ready = await fetch(`${url}health/readiness`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { child, url };
    if (performance.now() > deadline) throw new Error(`${options.name} not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGKILL and wait for the exit (the end of a measured run: nothing to drain). */
export async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

/** What a host passes to its own `--broker` process: the bench manifests' inputs and the subscribers' URLs. */
export interface BrokerProcessArgs {
  readonly url: string;
  readonly exchange: string;
  readonly queue: string;
  readonly parallelism: number;
  readonly functionUrl: string;
  readonly deadLetterUrl: string;
}

/**
 * A host's `--broker` process (fleet-host.ts, streams-host.ts): startBroker on `manifests`, `READY <url>` on stdout,
 * until stdin closes (the host is done, or died); then it deletes its topology and exits.
 */
export async function serveBroker(options: {
  readonly url: string;
  readonly manifests: EventingManifests;
  /** Knative Service name → URL, for every subscriber the manifests name. */
  readonly subscribers: Readonly<Record<string, string>>;
  readonly name: string;
}): Promise<never> {
  const broker = await startBroker({
    manifests: options.manifests,
    resolveSubscriber: (ref) => {
      const url = options.subscribers[ref.name];
      if (url === undefined) throw new Error(`${options.name}: no server for ${ref.name}`);
      return url;
    },
    replyTypesOf: async () => undefined,
    port: 0,
    rabbitmqUrl: options.url,
    instance: `${options.name.replace(/-host$/, 'bench')}${process.pid}x${Date.now().toString(36)}`,
    log: new JsonLogger({ serviceName: 'sluice-bench-broker', sink: process.stderr, level: 'warn' }),
  });
  process.stdout.write(`READY ${broker.url}\n`);
  process.stdin.resume();
  await new Promise<void>((r) => process.stdin.once('close', r).once('end', r));
  await broker.destroy();
  process.exit(0);
}

/**
 * A host's own `--broker` process (`script --broker <args>`, which runs serveBroker), pinned to `cpu`, once it
 * serves; `endBrokerProcess` stops it.
 */
async function startBrokerProcess(
  script: string,
  cpu: string,
  args: BrokerProcessArgs,
): Promise<ChildProcess> {
  const child = spawn('taskset', ['-c', cpu, process.execPath, script, '--broker', JSON.stringify(args)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    await brokerReady(child);
  } catch (err) {
    await endBrokerProcess(child);
    throw err;
  }
  return child;
}

interface BenchStore {
  readonly store: DocumentStore;
  /** The functions' environment for it (MONGODB_URL + MONGODB_DB, or the dev store's URL and token). */
  readonly env: Record<string, string>;
  /** For the result: `mongodb` or `dev store (in memory)`. */
  readonly label: string;
  /** Drops the database (MongoDB) or stops the dev store. */
  close(): Promise<void>;
}

/**
 * The store of a source path's run: MongoDB's database `db` when MONGODB_URL is set, else `make dev`'s in-memory dev
 * store served from this process (FerretDB's SQLite backend, the tests' stand-in, writes one at a time and would be
 * what is measured).
 */
async function openBenchStore(db: string): Promise<BenchStore> {
  const mongodbUrl = process.env.MONGODB_URL || undefined;
  if (mongodbUrl === undefined) {
    const devStore = await startDevStoreServer();
    return {
      store: devStore.store,
      env: { SLUICE_DEV_STORE_URL: devStore.url, SLUICE_DEV_STORE_TOKEN: devStore.token },
      label: 'dev store (in memory)',
      close: () => devStore.close(),
    };
  }
  const store = (await openStore({ mongodbUrl, mongodbDb: db })) as DocumentStore;
  return {
    store,
    env: { MONGODB_URL: mongodbUrl, MONGODB_DB: db },
    label: 'mongodb',
    async close() {
      await (store as unknown as { db?: { dropDatabase(): Promise<unknown> } }).db
        ?.dropDatabase()
        .catch(() => {});
      await store.close();
    },
  };
}

/**
 * The exchange a source path's load publishes into and the queue of its RabbitmqSource (predeclared: the bench
 * manifests), classic and durable, bound to each other; `deleteSourceQueue` removes both at the end of the run
 * (the queue is named as the exchange).
 */
async function declareSourceQueue(connection: ChannelModel, exchange: string, queue: string): Promise<void> {
  const setup = await connection.createChannel();
  await setup.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
  await setup.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
  await setup.bindQueue(queue, exchange, '');
  await setup.close();
}

async function deleteSourceQueue(connection: ChannelModel, exchange: string, queue: string): Promise<void> {
  const cleanup = await connection.createChannel();
  cleanup.on('error', () => {});
  await cleanup.deleteQueue(queue).catch(() => {});
  await cleanup.deleteExchange(exchange).catch(() => {});
}

/** The path a source benchmark measures (fleet-host.ts, streams-host.ts), running. */
export interface SourcePath {
  readonly store: DocumentStore;
  /** The functions' environment for it. */
  readonly storeEnv: Record<string, string>;
  /** For the result: `mongodb` or `dev store (in memory)`. */
  readonly storeLabel: string;
  /** To RabbitMQ: the load publishes on it into `exchange`. */
  readonly connection: ChannelModel;
  readonly exchange: string;
  /** The function under test, from source. */
  readonly fn: { readonly child: ChildProcess; readonly url: string };
  readonly broker: ChildProcess;
  readonly deadLetters: Sink & { count(): number };
  /** The broker first (it deletes its topology), then the function, the source queue, the store. */
  stop(): Promise<void>;
}

/**
 * Sets up the path a source benchmark measures: its store (MongoDB, else the dev store: `openBenchStore`), the
 * run's exchange and source queue, the function under test and the host's own `--broker` process (serveBroker on
 * the path's manifests), both pinned to `cpu`, and a dead-letter sink that counts. What was set up is taken down
 * again when a step fails.
 */
export async function startSourcePath(o: {
  /** The host module: its `--broker` argument runs serveBroker. */
  readonly script: string;
  /** RabbitMQ. */
  readonly url: string;
  readonly exchange: string;
  readonly db: string;
  readonly functionDir: string;
  readonly functionName: string;
  readonly cpu: string;
  /** The source's and the trigger's. */
  readonly parallelism: number;
  /** More of the function's environment (the BROKER_URL of a catcher). */
  readonly functionEnv?: Record<string, string>;
}): Promise<SourcePath> {
  const queue = o.exchange;
  const store = await openBenchStore(o.db);
  const connection = await amqp.connect(o.url);
  const deadLetters = await countingSink();
  let fn: { child: ChildProcess; url: string } | undefined;
  let broker: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    await endBrokerProcess(broker);
    await killProcess(fn?.child);
    await deleteSourceQueue(connection, o.exchange, queue);
    await connection.close().catch(() => {});
    await store.close();
    deadLetters.server.close();
  };
  try {
    await declareSourceQueue(connection, o.exchange, queue);
    fn = await startFunctionProcess({
      dir: o.functionDir,
      name: o.functionName,
      cpu: o.cpu,
      env: { ...store.env, ...o.functionEnv },
    });
    broker = await startBrokerProcess(o.script, o.cpu, {
      url: o.url,
      exchange: o.exchange,
      queue,
      parallelism: o.parallelism,
      functionUrl: fn.url,
      deadLetterUrl: deadLetters.url,
    });
    return {
      store: store.store,
      storeEnv: store.env,
      storeLabel: store.label,
      connection,
      exchange: o.exchange,
      fn,
      broker,
      deadLetters,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
