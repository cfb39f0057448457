/**
 * transaction-processor as its image runs it (bench/bench.mk "BUNDLE CONTRACT"): `make bundle`, the folder
 * copied outside the repository, `node main.mjs` with MONGODB_URL. The bundle loads the MongoDB driver from
 * its own chunk (CommonJS behind esbuild's `default`), connects, and applies an account opening and a
 * transfer to the store.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { portsReported } from '../../runtime/src/index.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const DB = `bundle_${process.pid}`;
let dir: string;
let child: ChildProcess | undefined;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-processor-image-'));
  const out = join(dir, 'build');
  await new Promise<void>((done, fail) =>
    execFile(
      process.execPath,
      [
        join(ROOT, 'platform/build/bundle.ts'),
        '--dir',
        join(ROOT, 'functions/banking/transaction-processor'),
        '--out',
        out,
      ],
      (err, _o, stderr) => (err === null ? done() : fail(new Error(stderr))),
    ),
  );
  await cp(out, join(dir, 'app'), { recursive: true });
  // PORT=0 and the port told back over IPC, as make dev starts an instance: a port picked ahead can be taken.
  child = spawn(process.execPath, [join(dir, 'app', 'main.mjs')], {
    cwd: join(dir, 'app'),
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      SLUICE_REPORT_PORTS: 'ipc',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      OTEL_SDK_DISABLED: 'true',
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: DB,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ports = await portsReported(child);
  if (ports === undefined)
    throw new Error('the bundled transaction-processor exited before it reported its port');
  url = `http://127.0.0.1:${ports.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the bundled transaction-processor exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/health/readiness`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the bundled transaction-processor did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 90_000);

afterAll(async () => {
  child?.kill('SIGTERM');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const post = (id: string, type: string, data: object): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/test/bundle',
      'ce-type': type,
    },
    body: JSON.stringify(data),
  });

describe('transaction-processor bundle on MongoDB', () => {
  it('opens accounts and processes a transfer through the bundled driver', async () => {
    for (const accountId of ['bundle-a', 'bundle-b']) {
      const res = await post(`open-${accountId}`, 'dev.sluice.banking.account.opened.v1', {
        accountId,
        currency: 'EUR',
        openingBalance: 100,
      });
      expect(res.status).toBeLessThan(300);
    }
    const res = await post('submit-1', 'dev.sluice.banking.transaction.submitted.v1', {
      transactionId: 'bundle-t1',
      from: 'bundle-a',
      to: 'bundle-b',
      amount: 30,
      currency: 'EUR',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('ce-type')).toBe('dev.sluice.banking.transaction.processed.v1');
    expect(await res.json()).toMatchObject({ fromBalance: 70, toBalance: 130 });
  });
});
