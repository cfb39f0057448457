/**
 * A throwaway Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager of the pinned
 * k3s's Kubernetes minor, built once per machine from the Go module proxy (platform/tools/kubernetes, `make
 * kube-tools`). Everything lives in a temporary folder: etcd's data, the apiserver's self-signed serving
 * certificate (it writes one into --cert-dir), a generated service-account key pair and a static admin token.
 * `stop()` ends the three processes by PID and removes the folder; they are also killed if this process exits.
 *
 * Flags follow k3s v1.34 where it matters to admission: the default admission plugins plus NodeRestriction,
 * RBAC, service CIDR 10.43.0.0/16, the issuer https://kubernetes.default.svc.cluster.local.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePorts } from '../../test-servers/ports.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const TOOLS_MODULE = join(REPO_ROOT, 'platform', 'tools', 'kubernetes');

export const KUBE_TOOLS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

/**
 * The controllers that turn workloads into Pods (so admission runs on them) and keep quota and service accounts
 * current. No scheduler and no kubelet: Pods stay Pending, which is enough, admission happens at creation.
 */
export const CONTROLLERS = [
  'namespace-controller',
  'serviceaccount-controller',
  'resourcequota-controller',
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'job-controller',
  'cronjob-controller',
  'daemonset-controller',
  'garbage-collector-controller',
] as const;

export class KubeToolsMissingError extends Error {
  override name = 'KubeToolsMissingError';
}

export class ControlPlaneError extends Error {
  override name = 'ControlPlaneError';
}

/**
 * Same folder as platform/k3s/apiserver/apiserver.mk's KUBE_TOOLS_DIR: keyed by the Kubernetes version and a hash
 * of the tools module, like FERRETDB_BIN and KUSTOMIZE_BIN, so a changed go.sum builds anew.
 */
export function kubeToolsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KUBE_TOOLS_DIR) return env.KUBE_TOOLS_DIR;
  const version = /k8s\.io\/kubernetes v(\S+)/.exec(readFileSync(join(TOOLS_MODULE, 'go.mod'), 'utf8'))?.[1];
  const sum = createHash('sha256')
    .update(readFileSync(join(TOOLS_MODULE, 'go.sum')))
    .update(readFileSync(join(TOOLS_MODULE, 'tools.go')))
    .digest('hex')
    .slice(0, 12);
  const cache = env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'sluice') : join(homedir(), '.cache', 'sluice');
  return join(cache, 'bin', `kubernetes-${version}-${sum}`);
}

export interface ControlPlaneOptions {
  /** @default kubeToolsDir() */
  readonly toolsDir?: string;
  /** How long to wait for each component to become ready. @default 180_000 (2 shared cores can be slow) */
  readonly readyTimeoutMs?: number;
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** A kubeconfig for the static admin token (system:masters), in the temporary folder. */
  readonly kubeconfig: string;
  /** The temporary folder: data, certificates, logs. Removed by stop(). */
  readonly dir: string;
  /** etcd's, kube-apiserver's and kube-controller-manager's process ids, in start order. */
  readonly pids: readonly number[];
  /** Runs the pinned kubectl against this control plane; never throws on a non-zero exit. */
  kubectl(args: readonly string[], stdin?: string): Promise<KubectlResult>;
  /** One request to the API as the admin (JSON in and out). */
  api(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  /** The last lines of a component's log, for error messages. */
  logTail(component: (typeof KUBE_TOOLS)[number], lines?: number): Promise<string>;
  /** Ends the processes (SIGTERM, then SIGKILL) and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
}

const running = new Set<ChildProcess>();
const folders = new Set<string>();
let exitHookInstalled = false;
function cleanUpOnExit(dir: string): (child: ChildProcess) => void {
  folders.add(dir);
  installExitHook();
  return (child) => {
    running.add(child);
    child.once('exit', () => running.delete(child));
  };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed or interrupted test run must not leave an apiserver behind: SIGKILL by PID on the way out.
  const killAll = (): void => {
    for (const c of running) if (c.pid !== undefined) c.kill('SIGKILL');
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  // A signal's default action skips 'exit': kill ours, then let the signal do what it would have done.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const tools = options.toolsDir ?? kubeToolsDir();
  for (const t of KUBE_TOOLS) {
    if (!existsSync(join(tools, t)))
      throw new KubeToolsMissingError(`${join(tools, t)} is missing: run \`make kube-tools\` first`);
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-apiserver-'));
  const track = cleanUpOnExit(dir);
  const started: Started[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Dependents first: the controller manager, then the apiserver, then etcd.
    for (const s of [...started].reverse()) await stopProcess(s.child);
    await rm(dir, { recursive: true, force: true });
    folders.delete(dir);
  };

  const launch = (name: (typeof KUBE_TOOLS)[number], args: string[]): Started => {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(join(tools, name), args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    track(child);
    const s = { name, child, log };
    started.push(s);
    return s;
  };

  const tail = async (name: string, lines = 30): Promise<string> => {
    const text = await readFile(join(dir, `${name}.log`), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  };

  try {
    const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
    const token = randomBytes(32).toString('hex');
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const certDir = join(dir, 'pki');
    await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o600 });
    await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    await writeFile(join(dir, 'tokens.csv'), `${token},sluice-admin,sluice-admin,system:masters\n`, {
      mode: 0o600,
    });

    const etcd = launch('etcd', [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      // A throwaway store: no fsync, so a loaded disk does not slow every write.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await poll(`etcd on 127.0.0.1:${etcdClient}`, readyTimeoutMs, etcd, tail, async () => {
      const res = await fetch(`http://127.0.0.1:${etcdClient}/health`).catch(() => undefined);
      return res?.ok === true;
    });

    const apiserver = launch('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--anonymous-auth=false',
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      '--service-cluster-ip-range=10.43.0.0/16',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      // One apiserver on 127.0.0.1: no `kubernetes` Endpoints to keep (validation refuses loopback addresses).
      '--endpoint-reconciler-type=none',
      '--profiling=false',
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    const caFile = join(certDir, 'apiserver.crt');
    await poll('kube-apiserver certificate', readyTimeoutMs, apiserver, tail, async () => existsSync(caFile));
    const ca = await readFile(caFile);
    const api = apiClient(apiPort, ca, token);
    await poll(`kube-apiserver on ${server}`, readyTimeoutMs, apiserver, tail, async () => {
      const res = await api('GET', '/readyz').catch(() => undefined);
      return res?.status === 200;
    });

    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigText(server, caFile, token), { mode: 0o600 });
    const controllers = launch('kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`,
      `--controllers=${CONTROLLERS.join(',')}`,
      '--leader-elect=false',
      '--use-service-account-credentials=false',
      // No HTTPS endpoint of its own: nothing scrapes it, and the default port may be another's.
      '--secure-port=0',
      '--kube-api-qps=100',
      '--kube-api-burst=200',
      '--concurrent-deployment-syncs=10',
      '--concurrent-replicaset-syncs=10',
    ]);
    // Its serviceaccount controller giving `default` its ServiceAccount: the controllers are running.
    await poll('kube-controller-manager', readyTimeoutMs, controllers, tail, async () => {
      const res = await api('GET', '/api/v1/namespaces/default/serviceaccounts/default').catch(
        () => undefined,
      );
      return res?.status === 200;
    });

    const kubectlBin = join(tools, 'kubectl');
    const cacheDir = join(dir, 'kubectl-cache');
    return {
      server,
      kubeconfig,
      dir,
      pids: started.flatMap((s) => (s.child.pid === undefined ? [] : [s.child.pid])),
      api,
      logTail: tail,
      stop,
      kubectl: (args, stdin) =>
        new Promise((resolveRun) => {
          const child = execFile(
            kubectlBin,
            [`--kubeconfig=${kubeconfig}`, `--cache-dir=${cacheDir}`, ...args],
            { maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH ?? '', HOME: dir } },
            (err, stdout, stderr) => {
              const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
              resolveRun({ code, stdout, stderr });
            },
          );
          child.stdin?.end(stdin ?? '');
        }),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
    await Promise.race([exited, delay(100)]);
  }
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Polls `ready` until it holds; fails at the deadline or as soon as the process exits, with its log. */
async function poll(
  what: string,
  timeoutMs: number,
  process: Started,
  tail: (name: string) => Promise<string>,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (process.child.exitCode !== null || process.child.signalCode !== null) {
      throw new ControlPlaneError(
        `${process.name} exited before ${what} was ready:\n${await tail(process.name)}`,
      );
    }
    if (await ready()) return;
    if (Date.now() > deadline) {
      throw new ControlPlaneError(
        `${what} not ready after ${timeoutMs / 1000} s:\n${await tail(process.name)}`,
      );
    }
    await delay(250);
  }
}

function apiClient(port: number, ca: Buffer, token: string): ControlPlane['api'] {
  return (method, path, body, contentType = 'application/json') =>
    new Promise((resolveReq, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          ca,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // /readyz and friends answer text
            }
            resolveReq({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
}

function kubeconfigText(server: string, caFile: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sluice-check', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'sluice-admin', user: { token } }],
    contexts: [{ name: 'sluice-check', context: { cluster: 'sluice-check', user: 'sluice-admin' } }],
    'current-context': 'sluice-check',
  });
}
