/**
 * `.tmp/dev/endpoints.json`: where a running `make dev` can be reached, so the CLIs (`make inject`,
 * `make verify`, `make dlq`, `make replay`) find the broker, the dev store and each Knative Service's
 * router without the user copying ports from the start-up view. The platform writes it at start and
 * marks it stopped on exit; a file left by a killed platform is ignored because its pid is gone.
 * Precedence in every CLI: explicit env variable > this file > built-in default, and the CLI says
 * which one it used.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export const DEFAULT_ENDPOINTS_FILE = '.tmp/dev/endpoints.json';

export const ENDPOINTS_STATE = { running: 'running', stopped: 'stopped' } as const;
export type EndpointsState = (typeof ENDPOINTS_STATE)[keyof typeof ENDPOINTS_STATE];

export interface DevEndpoints {
  readonly state: EndpointsState;
  readonly pid: number;
  readonly startedAt: string;
  readonly brokerUrl?: string;
  /** The one public entry (api-gateway's router, GATEWAY_PORT). */
  readonly gatewayUrl?: string;
  /** The shared in-memory store (make dev without MONGODB_URL). */
  readonly devStoreUrl?: string;
  /** Its per-run token: the reason this file is written readable by its owner only. */
  readonly devStoreToken?: string;
  /** The event console's API (platform/local/src/console/): `make try` reads what became of its events there. */
  readonly trailUrl?: string;
  /** Its per-run token (the records hold replies' data); `make lineage` sends it too. */
  readonly trailToken?: string;
  /** The console page (on the same server as `trailUrl`); open it with the token: `<consoleUrl>?token=<trailToken>`. */
  readonly consoleUrl?: string;
  /** Knative Service name → router URL. */
  readonly services: Readonly<Record<string, string>>;
  /** The control API (`make update` / `make rollback`: platform/local/src/control-server.ts) and its per-run token. */
  readonly controlUrl?: string;
  readonly controlToken?: string;
  /** The AMQP exchanges its RabbitmqSources read: none without RABBITMQ_URL (`unreadExchange`). */
  readonly sourceExchanges?: readonly string[];
}

/** The file's path: SLUICE_DEV_ENDPOINTS, else .tmp/dev/endpoints.json under the repository root. */
export function endpointsFilePath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return resolve(import.meta.dirname, '../../..', env.SLUICE_DEV_ENDPOINTS || DEFAULT_ENDPOINTS_FILE);
}

/** Writes atomically (rename), so a CLI never reads half a file; owner-only (0600): it holds the per-run tokens. */
export async function writeEndpointsFile(path: string, endpoints: DevEndpoints): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Whether a process is there (signal 0; EPERM: there, another user's). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The endpoints of a running `make dev`, or undefined (no file, stopped, or its process is gone). */
export function readDevEndpoints(path: string = endpointsFilePath()): DevEndpoints | undefined {
  let parsed: Partial<DevEndpoints>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevEndpoints>;
  } catch {
    return undefined;
  }
  if (
    parsed.state !== ENDPOINTS_STATE.running ||
    typeof parsed.pid !== 'number' ||
    !isProcessAlive(parsed.pid)
  ) {
    return undefined;
  }
  return { services: {}, ...parsed } as DevEndpoints;
}

export interface ResolvedEndpoint {
  readonly url: string | undefined;
  /** For the CLI's output: `env BROKER_URL`, `make dev (.tmp/dev/endpoints.json)` or `default`. */
  readonly from: string;
}

/** explicit env > running make dev > default. */
export function resolveEndpoint(
  envName: string,
  fromFile: (e: DevEndpoints) => string | undefined,
  fallback?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedEndpoint {
  const explicit = env[envName];
  if (explicit) return { url: explicit, from: `env ${envName}` };
  const endpoints = readDevEndpoints(endpointsFilePath(env));
  const found = endpoints === undefined ? undefined : fromFile(endpoints);
  if (found !== undefined) return { url: found, from: `make dev (${DEFAULT_ENDPOINTS_FILE})` };
  return { url: fallback, from: fallback === undefined ? 'unset' : 'default' };
}

export interface ResolvedDevStore {
  readonly url: string | undefined;
  readonly token: string | undefined;
  /** Where the URL came from, as `resolveEndpoint` says it. */
  readonly from: string;
}

/**
 * The shared dev store and its per-run token: SLUICE_DEV_STORE_URL + SLUICE_DEV_STORE_TOKEN when set,
 * else the running `make dev`'s (both from its endpoints file, so the pair always matches).
 */
export function resolveDevStore(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedDevStore {
  const explicit = env.SLUICE_DEV_STORE_URL;
  if (explicit) {
    return {
      url: explicit,
      token: env.SLUICE_DEV_STORE_TOKEN || undefined,
      from: 'env SLUICE_DEV_STORE_URL',
    };
  }
  const endpoints = readDevEndpoints(endpointsFilePath(env));
  if (endpoints?.devStoreUrl !== undefined) {
    return {
      url: endpoints.devStoreUrl,
      token: endpoints.devStoreToken,
      from: `make dev (${DEFAULT_ENDPOINTS_FILE})`,
    };
  }
  return { url: undefined, token: undefined, from: 'unset' };
}

/**
 * Why publishing into `exchange` would reach nothing: a `make dev` is running and none of its RabbitmqSources
 * reads that exchange (it runs on its in-memory broker, or SLUICE_SOURCES left that source out), so the
 * messages would wait in RabbitMQ for a platform that is not there. Undefined when no `make dev` is running (the
 * CLI may be feeding a cluster's RabbitMQ) or one reads it. `make simulate`, `make stream` and `make inject
 * INJECT_VIA=amqp` refuse with this instead of sending into nowhere.
 */
export function unreadExchange(
  exchange: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const endpoints = readDevEndpoints(endpointsFilePath(env));
  const read = endpoints?.sourceExchanges;
  if (read === undefined || read.includes(exchange)) return undefined;
  const running = `the running make dev (pid ${endpoints?.pid})`;
  return read.length === 0
    ? `${running} has no RabbitMQ: its in-memory broker runs no RabbitmqSource, so nothing would read the AMQP ` +
        `exchange ${exchange}. Start make dev with RabbitMQ (RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672 make dev)`
    : `${running} reads the exchanges ${read.join(', ')}, not ${exchange} (SLUICE_SOURCES leaves its source out)`;
}
