/**
 * docs/write-a-function.md, kept honest: its commands run in a copy of the repository (the tracked and new
 * files, node_modules linked, mtimes kept so make installs nothing), and their output is compared with the
 * page's `console` blocks. Then `make test-function` for the new function alone, as the page says.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CRD_DIR } from '../manifests/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DOC = readFileSync(join(ROOT, 'docs/write-a-function.md'), 'utf8');
const SCAFFOLD = 'make new-function SYSTEM=demo FN=greeter TYPE=dev.sluice.demo.greet.v1';

/** The output the page shows after `$ <command>` in a console block (up to the next `$ ` line or the fence). */
function documented(command: string, occurrence = 0): string {
  const blocks = [...DOC.matchAll(/```console\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const found: string[] = [];
  for (const block of blocks) {
    const lines = block.split('\n');
    lines.forEach((line, i) => {
      if (line !== `$ ${command}`) return;
      const end = lines.findIndex((l, j) => j > i && l.startsWith('$ '));
      found.push(`${lines.slice(i + 1, end === -1 ? undefined : end).join('\n')}`.replace(/\n*$/, '\n'));
    });
  }
  const text = found[occurrence];
  if (text === undefined) throw new Error(`docs/write-a-function.md shows no output of \`${command}\``);
  return text;
}

/**
 * A reader who followed the page has a greeter in the repository: the copy goes back to the state the page
 * starts from (no greeter folder, Trigger or kustomization entries), so their `make test` still passes.
 */
function unscaffoldGreeter(copy: string): void {
  rmSync(join(copy, 'functions/demo/greeter'), { recursive: true, force: true });
  rmSync(join(copy, 'eventing/manifests/demo/triggers/greeter.yaml'), { force: true });
  for (const [file, entry] of [
    ['functions/demo/kustomization.yaml', '  - greeter/service.yaml\n'],
    ['eventing/manifests/demo/kustomization.yaml', '  - triggers/greeter.yaml\n'],
  ] as const) {
    const path = join(copy, file);
    const text = readFileSync(path, 'utf8');
    if (text.includes(entry)) writeFileSync(path, text.replace(entry, ''));
  }
}

describe('docs/write-a-function.md, run in a copy of the repository', () => {
  let copy: string;
  const make = (...args: string[]) => {
    // `-o node_modules/.installed`: the copy shares node_modules; never reinstall it from here.
    // The upstream CRDs the manifest checks read sit beside the repository, not beside the copy.
    const env: NodeJS.ProcessEnv = { ...process.env, CRD_DIR: process.env.CRD_DIR || DEFAULT_CRD_DIR };
    delete env.SLUICE_DEV_ENDPOINTS;
    delete env.MAKEFLAGS;
    delete env.MAKELEVEL;
    delete env.FORCE_COLOR;
    env.NO_COLOR = '1';
    return spawnSync('make', ['--no-print-directory', '-o', 'node_modules/.installed', ...args], {
      cwd: copy,
      env,
      encoding: 'utf8',
      timeout: 600_000, // a bound on a hang: make test-function alone is ~1 min quiet, several on a loaded machine
    });
  };

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'sluice-scaffold-'));
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\0')
      .filter((f) => f !== '');
    for (const file of files) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      try {
        cpSync(join(ROOT, file), join(copy, file), { preserveTimestamps: true });
      } catch (err) {
        // A file deleted in the work tree but still in the index.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
    unscaffoldGreeter(copy);
  });
  afterAll(() => {
    if (copy !== undefined) rmSync(copy, { recursive: true, force: true });
  });

  it('scaffolds greeter as the page shows, and a second run changes nothing', () => {
    const first = make(...SCAFFOLD.split(' ').slice(1));
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(documented(SCAFFOLD));
    const again = make(...SCAFFOLD.split(' ').slice(1));
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('nothing to do: every file is already as make new-function writes it');
  });

  it.each([
    [
      ['SYSTEM=banking', 'FN=hello', 'TYPE=dev.sluice.demo.greet.v1'],
      'a function named hello exists: functions/demo/hello',
    ],
    [
      ['SYSTEM=demo', 'FN=Greeter2', 'TYPE=dev.sluice.demo.greet.v1'],
      'FN=Greeter2 is not a name Kubernetes accepts',
    ],
    [['SYSTEM=demo', 'FN=greeter2', 'TYPE=greet'], 'TYPE=greet is not a CloudEvent type of this project'],
  ])('refuses %j with a clear message, writing nothing', (args, message) => {
    const result = make('new-function', ...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(
      spawnSync('git', ['status', '--porcelain', 'functions/banking'], { cwd: copy }).stdout.length,
    ).toBe(0);
  });

  it('passes make test-function FN=greeter', () => {
    const result = make('test-function', 'FN=greeter');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the inner runner's colours, if any
    const text = (result.stdout + result.stderr).replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toMatch(/Test Files\s+\d+ passed/);
    expect(result.status, text).toBe(0);
    // A whole nested suite (tsc, vitest with FerretDB, kustomize): ~45 s alone, more on a loaded machine.
  }, 900_000);

  it('tries greeter alone as the page shows', () => {
    const result = make('try', 'FN=greeter');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(documented('make try FN=greeter'));
    expect(result.status).toBe(0);
  });

  it('fails make check-types when a schema changed, naming make types, which fixes it', () => {
    const file = join(copy, 'functions/demo/greeter/schemas/dev.sluice.demo.greet.v1.json');
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { properties: Record<string, unknown> };
    schema.properties.language = { enum: ['en', 'fr'] };
    writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
    const stale = make('check-types');
    expect(stale.status).not.toBe(0);
    expect(`${stale.stderr.split('\nmake:')[0]}\n`).toBe(documented('make check-types'));
    const fixed = make('types');
    expect(fixed.stdout).toBe(documented('make types'));
    expect(make('check-types').status).toBe(0);
    expect(readFileSync(join(copy, 'functions/demo/greeter/events.gen.ts'), 'utf8')).toContain(
      "language?: 'en' | 'fr';",
    );
  });
});
