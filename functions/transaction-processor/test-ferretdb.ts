/**
 * A private FerretDB the banking fault tests can kill with SIGKILL and start again on the same port
 * and data: platform/test-servers' `restart()` stops gracefully, which lets in-flight work finish,
 * and the point here is a store that vanishes mid-write.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ferretdbBinary } from '../../platform/test-servers/ferretdb.ts';
import { freePort } from '../../platform/test-servers/ports.ts';

export interface KillableMongo {
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startKillableMongo(): Promise<KillableMongo> {
  const bin = ferretdbBinary();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-banking-ferretdb-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
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
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.startsWith('ready ')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`FerretDB exited with code ${code} before it was ready`)));
      proc.once('error', reject);
    });
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `mongodb://127.0.0.1:${port}/`,
    kill,
    start,
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
