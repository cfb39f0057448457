import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bundlesDirOfThisRun } from './revision-bundles.ts';

describe('bundlesDirOfThisRun', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it("is this process's own folder, and removes the folders of runs that are gone, never a live one's", async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-bundles-dir-'));
    const base = join(root, '.tmp/dev/bundles');
    const gone = spawnSync('true').pid; // a process that has exited: its run was killed
    const alive = process.ppid; // another run still going
    for (const pid of [gone, alive]) {
      await mkdir(join(base, String(pid), 'hello', 'hello-00001'), { recursive: true });
      await writeFile(join(base, String(pid), 'hello', 'hello-00001', 'main.mjs'), '');
    }
    await mkdir(join(base, 'not-a-run'));

    const dir = await bundlesDirOfThisRun(root);
    expect(dir).toBe(join(base, String(process.pid)));
    expect((await readdir(base)).sort()).toEqual([String(alive), String(process.pid), 'not-a-run'].sort());
    expect(await readdir(dir)).toEqual([]);
  });
});
