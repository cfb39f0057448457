/**
 * A MongoDB wire-protocol server for tests: FerretDB v1.24.2 on SQLite in a temporary folder, built
 * from the Go module proxy by `make ferretdb` (platform/tools/ferretdb). With MONGODB_URL set, that
 * server is used instead and nothing is started. `make bench` also runs it on its PostgreSQL backend
 * (`startFerretdb({ backend: 'postgresql', … })`), against a PostgreSQL database of its own.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

export interface TestMongo {
  readonly url: string;
  /** True when this process started the server (and so may stop or restart it). */
  readonly managed: boolean;
  stop(): Promise<void>;
  /** Stops and starts the same server on the same port and data (store-restart fault tests). */
  restart(): Promise<void>;
}

export function ferretdbBinary(): string {
  const bin = process.env.FERRETDB_BIN;
  if (bin === undefined || bin === '') {
    throw new Error(
      'FERRETDB_BIN is not set: run the tests through `make test` (it builds FerretDB), or set MONGODB_URL',
    );
  }
  return bin;
}

/** A FerretDB process this test run owns: same port and data across kill/start (fault tests). */
export interface FerretdbProcess {
  readonly url: string;
  /** Starts it (again) on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM lets in-flight work finish; SIGKILL makes the store vanish mid-write. */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Kills it and removes its data. */
  stop(): Promise<void>;
}

export interface FerretdbOptions {
  /** @default 'sqlite' (a temporary folder) */
  readonly backend?: 'sqlite' | 'postgresql';
  /**
   * The PostgreSQL database FerretDB keeps its data in (`postgresql` backend): created with `createdb`
   * when it does not exist yet. @default postgres://postgres@127.0.0.1:5432/sluice_ferretdb
   */
  readonly postgresqlUrl?: string;
  /** Where FerretDB's log (level error) goes: this process's stderr, or nowhere. @default 'inherit' */
  readonly stderr?: 'inherit' | 'ignore';
}

/** Creates the database of `url` unless it exists (PostgreSQL's `createdb`, trust authentication). */
async function ensurePostgresDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  try {
    await promisify(execFile)('createdb', [
      '-h',
      u.hostname,
      '-p',
      u.port || '5432',
      '-U',
      decodeURIComponent(u.username) || 'postgres',
      name,
    ]);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? (err as Error).message);
    if (!stderr.includes('already exists')) throw new Error(`createdb ${name}: ${stderr.trim()}`);
  }
}

export async function startFerretdb(options: FerretdbOptions = {}): Promise<FerretdbProcess> {
  const bin = ferretdbBinary();
  const postgres = options.backend === 'postgresql';
  const postgresqlUrl = options.postgresqlUrl ?? 'postgres://postgres@127.0.0.1:5432/sluice_ferretdb';
  if (postgres) await ensurePostgresDatabase(postgresqlUrl);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-ferretdb-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const args = postgres
      ? ['-listen', `127.0.0.1:${port}`, '-handler', 'postgresql', '-postgresql-url', postgresqlUrl]
      : ['-listen', `127.0.0.1:${port}`, '-handler', 'sqlite', '-sqlite-url', `file:${dir}/`];
    const proc = spawn(bin, [...args, '-log-level', 'error'], {
      stdio: ['ignore', 'pipe', options.stderr ?? 'inherit'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.startsWith('ready ')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`FerretDB exited with code ${code} before it was ready`)));
      proc.once('error', reject);
    });
  };
  const kill = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `mongodb://127.0.0.1:${port}/`,
    start,
    kill,
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startTestMongo(): Promise<TestMongo> {
  const external = process.env.MONGODB_URL;
  if (external !== undefined && external !== '') {
    return {
      url: external,
      managed: false,
      stop: async () => {},
      restart: async () => {
        throw new Error('cannot restart an external MONGODB_URL');
      },
    };
  }
  const ferretdb = await startFerretdb();
  return {
    url: ferretdb.url,
    managed: true,
    restart: async () => {
      await ferretdb.kill('SIGTERM');
      await ferretdb.start();
    },
    stop: () => ferretdb.stop(),
  };
}
