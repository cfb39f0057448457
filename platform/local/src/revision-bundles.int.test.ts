/**
 * A revision's bundle (revision-bundles.ts), built for real by platform/build/bundle.ts: a start that needs a
 * revision being built ahead of time, niced, raises that build, or — where raising a priority is not permitted —
 * stops it and builds the revision again at normal priority instead of waiting behind a busy machine.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../../functions/runtime/src/index.ts';
import { loadKnativeService } from './knative-service.ts';
import { RevisionBundles } from './revision-bundles.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('RevisionBundles', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function bundles(setPriority: (pid: number, priority: number) => boolean) {
    dir = await mkdtemp(join(tmpdir(), 'sluice-revision-bundles-'));
    const log = new RecordingLogger();
    const spec = await loadKnativeService(join(ROOT, 'functions/demo/hello/service.yaml'));
    return { log, spec, bundles: new RevisionBundles({ root: ROOT, dir, log, setPriority }) };
  }

  it('raises the niced build a start needs to normal priority and waits for it', async () => {
    const calls: number[] = [];
    const { bundles: b, spec, log } = await bundles((_pid, priority) => calls.push(priority) > 0);
    const ahead = b.prebuild([spec]);
    const entry = await b.entryOf(spec);
    await ahead;
    expect(calls).toEqual([19, 0]);
    expect(entry).toBe(join(dir as string, 'hello', 'hello-00001', 'main.mjs'));
    expect(existsSync(entry)).toBe(true);
    expect(log.actions('revision-bundled')).toHaveLength(1);
    expect(await b.entryOf(spec)).toBe(entry); // built once
  }, 60_000);

  it('where raising is not permitted, stops the niced build and builds the revision again now', async () => {
    const { bundles: b, spec, log } = await bundles(() => false);
    const ahead = b.prebuild([spec]);
    const entry = await b.entryOf(spec);
    await ahead;
    expect(entry).toBe(join(dir as string, 'hello', 'hello-00001.now', 'main.mjs'));
    expect(existsSync(entry)).toBe(true);
    const built = log.actions('revision-bundled');
    expect(built).toHaveLength(1);
    expect(built[0]?.message).not.toContain('ahead of its first start');
  }, 60_000);

  it("fails each start of a revision whose bundle cannot be built, with the build's own reason, and builds again each time", async () => {
    const { bundles: b, spec } = await bundles(() => true);
    const broken = { ...spec, functionDir: join(ROOT, 'functions/demo/no-such-function') };
    await expect(b.entryOf(broken)).rejects.toThrow(
      /hello-00001: its bundle could not be built: .*no handler/,
    );
    await expect(b.entryOf(broken)).rejects.toThrow(/could not be built/);
    // Nothing failed is kept: the next start of the revision builds again (here from a folder that builds).
    expect(await b.entryOf(spec)).toBe(join(dir as string, 'hello', 'hello-00001.now', 'main.mjs'));
  }, 60_000);

  it('a build ends with its platform, even a platform killed with SIGKILL', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-revision-bundles-'));
    const out = join(dir, 'hello');
    // A stand-in platform: starts the build as RevisionBundles does (an IPC channel), says its pid, waits.
    const platform = spawn(
      process.execPath,
      [
        '-e',
        `const c = require('node:child_process').spawn(process.execPath, process.argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
         process.stdout.write(String(c.pid) + '\\n'); setInterval(() => {}, 1000);`,
        join(ROOT, 'platform/build/bundle.ts'),
        '--dir',
        join(ROOT, 'functions/demo/hello'),
        '--out',
        out,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = (await once(platform.stdout, 'data')) as [Buffer];
    const build = Number(line.toString().trim());
    expect(isProcessAlive(build)).toBe(true);
    platform.kill('SIGKILL');
    while (isProcessAlive(build)) await delay(20);
    expect(existsSync(join(out, 'main.mjs'))).toBe(false);
  }, 60_000);
});
