/**
 * A revision's bundle (revision-bundles.ts), built for real by platform/build/bundle.ts: a start that needs a
 * revision being built ahead of time, niced, raises that build, or — where raising a priority is not permitted —
 * stops it and builds the revision again at normal priority instead of waiting behind a busy machine.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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
});
