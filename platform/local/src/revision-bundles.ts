/**
 * What `make dev` runs a revision from: the bundle its image is built from (platform/build/bundle.ts, the
 * contract in bench/bench.mk), built the first time the revision starts an instance, as a node pulls an image
 * once. The same `node main.mjs` the cluster's container runs, so the code paths of every function's image are
 * the ones `make dev` exercises; and an instance starts in ~0.1 s with ~55 MB RSS instead of type-stripping
 * its TypeScript at each start (0.5–1.2 s, ~110 MB: docs/local-platform.md, "Where functions run from").
 *
 * Each build runs `node platform/build/bundle.ts --dir <the revision's folder> --out <dir>/<service>/<revision>`
 * in a child process, so esbuild and ajv's compiler never live in the platform's heap (~1 s, ~3 s for the first
 * of a process). A revision's snapshot never changes, so its bundle is built once per run; a build that fails
 * fails that start with the build's own message (the instance never starts, as with an image that cannot be
 * pulled) and the next start builds again. They go to `.tmp/dev/bundles/<pid>/<service>/<revision>/`, removed when the run stops.
 * `prebuild` builds the rest two at a time at the lowest CPU priority once the platform
 * is up, so a first event rarely waits for a build and a build never slows the functions already running; a
 * start that needs a revision being prebuilt raises that build to normal priority, or, where that is not
 * permitted, stops it and builds the revision again at normal priority.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { isProcessAlive, type Logger } from '../../../functions/runtime/src/index.ts';
import type { KnativeServiceSpec } from './knative-service.ts';
import { revisionOf } from './scaler.ts';

export const RUN_FROM = { bundle: 'bundle', source: 'source' } as const;
export type RunFrom = (typeof RUN_FROM)[keyof typeof RUN_FROM];

/**
 * This run's bundle folder, `<root>/.tmp/dev/bundles/<pid>`, after removing the folders of runs that are gone (a
 * `make dev` killed before it could remove its own: ~230 MB each). Per process, so a test platform and `make dev`
 * in one checkout never remove each other's.
 */
export async function bundlesDirOfThisRun(root: string): Promise<string> {
  const base = resolve(root, '.tmp/dev/bundles');
  await mkdir(base, { recursive: true, mode: 0o700 });
  for (const name of await readdir(base)) {
    if (/^\d+$/.test(name) && !isProcessAlive(Number(name)))
      await rm(join(base, name), { recursive: true, force: true });
  }
  const dir = join(base, String(process.pid));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

export class BundleBuildError extends Error {
  override name = 'BundleBuildError';
}

export interface RevisionBundlesOptions {
  /** Repository root: platform/build/bundle.ts is run from here. */
  readonly root: string;
  /** Where bundles go (`<dir>/<service>/<revision>/main.mjs`); the caller owns and removes it. */
  readonly dir: string;
  readonly log: Logger;
  /** A build slower than this is stopped and fails. @default 120 000 */
  readonly timeoutMs?: number;
  /** Sets a process's CPU priority; false when not permitted. @default os.setPriority */
  readonly setPriority?: (pid: number, priority: number) => boolean;
}

/** A build running niced, ahead of any start. */
interface BackgroundBuild {
  readonly pid: number | undefined;
  readonly abort: AbortController;
}

export class RevisionBundles {
  readonly #root: string;
  readonly #dir: string;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #setPriority: (pid: number, priority: number) => boolean;
  /** Revision name → its entry point (main.mjs), built once. */
  readonly #entries = new Map<string, Promise<string>>();
  readonly #building = new Set<AbortController>();
  /** Background builds still running, by revision: raised to normal priority when a start needs one. */
  readonly #background = new Map<string, BackgroundBuild>();
  #stopped = false;

  constructor(options: RevisionBundlesOptions) {
    this.#root = options.root;
    this.#dir = options.dir;
    this.#log = options.log;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#setPriority = options.setPriority ?? renice;
  }

  /** The revision's `main.mjs`, built on the first call. */
  entryOf(service: KnativeServiceSpec): Promise<string> {
    const revision = revisionOf(service);
    const background = this.#background.get(revision);
    if (background !== undefined) {
      this.#background.delete(revision);
      // Raised to normal priority; where that is not permitted (raising needs CAP_SYS_NICE), a niced build could
      // starve behind a busy machine: stopped, and built again now, into a folder of its own.
      if (background.pid === undefined || !this.#setPriority(background.pid, 0)) {
        background.abort.abort();
        this.#entries.delete(revision);
      }
    }
    return this.#entries.get(revision) ?? this.#remember(revision, this.#build(service, revision, false));
  }

  /** Builds, two at a time (the idle time of two cores) and niced, the revisions no start has asked for yet. */
  async prebuild(services: readonly KnativeServiceSpec[], concurrency = 2): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let service = services[next++]; service !== undefined; service = services[next++]) {
        const revision = revisionOf(service);
        if (this.#stopped) return;
        if (this.#entries.has(revision)) continue;
        // A failure is for the start that needs it to report (it builds again).
        await this.#remember(revision, this.#build(service, revision, true)).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** A build is kept once it succeeded; a failed one is forgotten, so the next start (after the scaler's backoff) tries again. */
  #remember(revision: string, entry: Promise<string>): Promise<string> {
    this.#entries.set(revision, entry);
    entry.catch(() => {
      if (this.#entries.get(revision) === entry) this.#entries.delete(revision);
    });
    return entry;
  }

  /** Stops builds still running (the platform is stopping). */
  stop(): void {
    this.#stopped = true;
    for (const building of this.#building) building.abort();
  }

  async #build(service: KnativeServiceSpec, revision: string, background: boolean): Promise<string> {
    const out = resolve(this.#dir, service.name, background ? revision : `${revision}.now`);
    const started = performance.now();
    const abort = new AbortController();
    this.#building.add(abort);
    try {
      await new Promise<void>((done, fail) => {
        // An IPC channel, so a build ends with the platform even when the platform is killed (bundle.ts exits on
        // its disconnect) instead of writing into a folder the next `make dev` removes.
        const child = spawn(
          process.execPath,
          [join(this.#root, 'platform/build/bundle.ts'), '--dir', service.functionDir, '--out', out],
          {
            cwd: this.#root,
            signal: abort.signal,
            timeout: this.#timeoutMs,
            stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
          },
        );
        let stderr = '';
        child.stderr?.setEncoding('utf8').on('data', (text: string) => {
          stderr = (stderr + text).slice(-4096);
        });
        child.on('error', (err) => {
          fail(new BundleBuildError(`${revision}: its bundle could not be built: ${err.message}`));
        });
        child.on('close', (code, signal) => {
          if (code === 0) return done();
          const why =
            stderr.trim().split('\n').slice(-5).join(' | ') ||
            `the build ended with ${signal ?? `exit code ${code}`}`;
          fail(new BundleBuildError(`${revision}: its bundle could not be built: ${why}`));
        });
        if (background) {
          if (child.pid !== undefined) this.#setPriority(child.pid, 19);
          this.#background.set(revision, { pid: child.pid, abort });
        }
      });
    } finally {
      this.#building.delete(abort);
      if (this.#background.get(revision)?.abort === abort) this.#background.delete(revision);
    }
    const ms = Math.round(performance.now() - started);
    this.#log.info(
      `${revision}: bundle built in ${ms} ms${background ? ' (ahead of its first start)' : ''}`,
      {
        'event.action': 'revision-bundled',
        'faas.name': service.name,
        'faas.version': revision,
        'event.duration': ms * 1e6,
      },
    );
    return join(out, 'main.mjs');
  }
}

/** os.setPriority, false when not permitted (raising a priority back needs CAP_SYS_NICE) or the build has ended. */
function renice(pid: number, priority: number): boolean {
  try {
    setPriority(pid, priority);
    return true;
  } catch {
    return false;
  }
}
