/**
 * results-api as its image runs it (bench/bench.mk "BUNDLE CONTRACT"): `make bundle FN=results-api`, the folder
 * copied outside the repository (no node_modules around it but the package files bundle.json lists), `node
 * main.mjs`; its Swagger UI files are served from the bundle's own copy.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portsReported } from '../../runtime/src/index.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
let dir: string;
let child: ChildProcess | undefined;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-results-api-image-'));
  const out = join(dir, 'build');
  await new Promise<void>((done, fail) =>
    execFile(
      process.execPath,
      [
        join(ROOT, 'platform/build/bundle.ts'),
        '--dir',
        join(ROOT, 'functions/streams/results-api'),
        '--out',
        out,
      ],
      (err, _o, stderr) => (err === null ? done() : fail(new Error(stderr))),
    ),
  );
  // /app of the image: only the bundle folder, nowhere near the repository's node_modules.
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
    },
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const ports = await portsReported(child);
  if (ports === undefined) throw new Error('the bundled results-api exited before it reported its port');
  url = `http://127.0.0.1:${ports.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/health/readiness`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the bundled results-api did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 90_000);

afterAll(async () => {
  child?.kill('SIGTERM');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('results-api bundle', () => {
  it('serves Swagger UI from the files bundled beside it', async () => {
    for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
      const res = await fetch(`${url}/streams/docs/${file}`);
      expect(res.status, file).toBe(200);
      const served = Buffer.from(await res.arrayBuffer());
      expect(served.equals(await readFile(join(ROOT, 'node_modules/swagger-ui-dist', file))), file).toBe(
        true,
      );
    }
    const page = await fetch(`${url}/streams/docs`);
    expect(page.status).toBe(200);
    const doc = (await (await fetch(`${url}/streams/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toBe('3.1.0');
  });
});
