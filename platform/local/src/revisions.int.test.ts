/**
 * Revisions on the local platform (revisions.ts, control-server.ts, revisions-cli.ts), with real processes: a
 * function in a scratch checkout runs from its start-time snapshot; `make update` takes the edited working tree
 * (code and config) as the next revision; `make rollback` routes back to the previous one, or to a named one.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEndpointsFile } from '../../../functions/runtime/src/index.ts';
import { type DevPlatform, startDevPlatform } from './platform.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

const REPO = resolve(import.meta.dirname, '../../..');

const handler = (version: string) => `
import type { HttpFunction } from '../../runtime/src/index.ts';
import { suffix } from '../lib/suffix.ts';
export const serve: HttpFunction['serve'] = () => (_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version: '${version}' + suffix, greeting: process.env.GREETING, revision: process.env.K_REVISION }));
};
`;

const service = (greeting: string) => `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: echo
  namespace: sluice
  labels:
    networking.knative.dev/visibility: cluster-local
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "0"
        autoscaling.knative.dev/scale-to-zero-pod-retention-period: "1s"
    spec:
      containers:
        - name: function
          image: dev.local/sluice/echo:test
          env:
            - name: GREETING
              value: ${greeting}
            - name: LOG_LEVEL
              value: warn
`;

let root: string;
let fnDir: string;
let platform: DevPlatform | undefined;
const log = new RecordingLogger();

interface Echo {
  version: string;
  greeting: string;
  revision: string;
}

async function call(): Promise<Echo> {
  const url = platform?.serving.urlFor('echo');
  if (url === undefined) throw new Error('echo is not served');
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as Echo;
}

/**
 * The CLI as `make update` / `make rollback` run it, against this platform's endpoints file (asynchronously: the
 * control API it calls runs in this process).
 */
function cli(...args: string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(REPO, 'platform/local/src/revisions-cli.ts'), ...args],
      {
        env: { ...process.env, SLUICE_DEV_ENDPOINTS: join(root, 'endpoints.json'), DRY_RUN: '' },
        timeout: 30_000,
      },
      (err, out, errOut) =>
        done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, out, err: errOut }),
    );
  });
}

beforeAll(async () => {
  // Inside the repository, so the snapshot's npm imports resolve as the working tree's do.
  await mkdir(join(REPO, '.tmp'), { recursive: true });
  root = await mkdtemp(join(REPO, '.tmp', 'revisions-test-'));
  fnDir = join(root, 'functions', 'demo2', 'echo');
  await mkdir(join(fnDir, 'schemas'), { recursive: true });
  await mkdir(join(root, 'functions', 'demo2', 'lib'), { recursive: true });
  await symlink(join(REPO, 'functions', 'runtime'), join(root, 'functions', 'runtime'), 'dir');
  await writeFile(join(fnDir, 'handler.ts'), handler('v1'));
  await writeFile(join(fnDir, 'service.yaml'), service('hello'));
  await writeFile(join(root, 'functions', 'demo2', 'lib', 'suffix.ts'), `export const suffix = '';\n`);
  platform = await startDevPlatform({
    root,
    env: { PATH: process.env.PATH, SLUICE_PROMETHEUS_TARGETS: join(root, 'targets.json') },
    log,
    out: { write: () => true },
    revisionsDir: '.tmp/revisions',
    startBroker: async () => ({ url: 'http://127.0.0.1:9/', description: [], stop: async () => {} }),
  });
  const control = platform.control;
  if (control === undefined) throw new Error('no control API');
  await writeEndpointsFile(join(root, 'endpoints.json'), {
    state: 'running',
    pid: process.pid,
    startedAt: new Date().toISOString(),
    services: {},
    controlUrl: control.url,
    controlToken: control.token,
  });
});

afterAll(async () => {
  await platform?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('revisions on the local platform', () => {
  it('runs the snapshot taken at start, not the edited working tree', async () => {
    expect(await call()).toEqual({ version: 'v1', greeting: 'hello', revision: 'echo-00001' });
    await writeFile(join(fnDir, 'handler.ts'), handler('v2'));
    await writeFile(join(fnDir, 'service.yaml'), service('bonjour'));
    await writeFile(join(root, 'functions', 'demo2', 'lib', 'suffix.ts'), `export const suffix = '+lib2';\n`);
    expect(await call()).toEqual({ version: 'v1', greeting: 'hello', revision: 'echo-00001' });
  });

  it('make update: the working tree (code, its system lib, config) becomes the next revision, routed', async () => {
    const update = await cli('update', 'echo');
    expect(update.err).toContain('the local platform (make dev');
    expect(update.out.trim()).toBe('echo: new revision echo-00002 (100 %); echo-00001 kept');
    expect(update.status).toBe(0);
    expect(await call()).toEqual({ version: 'v2+lib2', greeting: 'bonjour', revision: 'echo-00002' });
  });

  it('make rollback: back to the previous revision, its code and config', async () => {
    const rollback = await cli('rollback', 'echo');
    expect(rollback.out.trim()).toBe('echo: traffic back to echo-00001 (100 %); echo-00002 kept');
    expect(await call()).toEqual({ version: 'v1', greeting: 'hello', revision: 'echo-00001' });
    expect(log.actions('revision-routed').map((r) => r.fields['faas.version'])).toEqual([
      'echo-00002',
      'echo-00001',
    ]);
  });

  it('make rollback REVISION=…: to a named revision; none before the first; unknown names refused', async () => {
    expect((await cli('rollback', 'echo', 'echo-00002')).status).toBe(0);
    expect((await call()).revision).toBe('echo-00002');
    const list = await cli('list', 'echo');
    expect(list.out).toMatch(/^ {2}echo-00001 .*\n\* echo-00002 .*\(100 %\)$/m);

    expect((await cli('rollback', 'echo', 'echo-00001')).status).toBe(0);
    const none = await cli('rollback', 'echo');
    expect(none.status).toBe(1);
    expect(none.out).toContain('no revision before echo-00001');
    const unknown = await cli('rollback', 'echo', 'echo-00009');
    expect(unknown.out).toContain('has no revision echo-00009');
    expect((await cli('update', 'nothing-here')).out).toContain('no Service nothing-here');
  });

  it('refuses a request without the per-run token', async () => {
    const res = await fetch(`${platform?.control?.url}/v1/services/echo/revisions`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
