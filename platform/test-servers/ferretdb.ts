/**
 * A MongoDB wire-protocol server for tests: FerretDB v1.24.2 on SQLite in a temporary folder, built
 * from the Go module proxy by `make ferretdb` (platform/tools/ferretdb). With MONGODB_URL set, that
 * server is used instead and nothing is started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
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
  const bin = ferretdbBinary();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-ferretdb-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn(
      bin,
      [
        '-listen',
        `127.0.0.1:${port}`,
        '-handler',
        'sqlite',
        '-sqlite-url',
        `file:${dir}/`,
        '-log-level',
        'error',
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (line.startsWith('ready ')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`FerretDB exited with code ${code} before it was ready`)));
      proc.once('error', reject);
    });
  };
  const halt = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    url: `mongodb://127.0.0.1:${port}/`,
    managed: true,
    restart: async () => {
      await halt();
      await launch();
    },
    stop: async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
