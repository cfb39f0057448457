/**
 * Revisions, locally: what Knative keeps per Service on the cluster — every revision's code and config, the
 * one the traffic goes to, and the way back. `make dev` snapshots each function at start (revision 00001) and
 * runs it from that copy, so editing the working tree changes nothing until `make update FN=<name>` snapshots
 * it as the next revision and routes all traffic there; `make rollback FN=<name> [REVISION=…]` routes back to
 * the revision before the routed one (or the one named), whose snapshot is still there.
 *
 * A snapshot is `<dir>/<service>/<revision>/functions/<system>/<function>/` (the function's folder: handler,
 * schemas, service.yaml — its code and config) beside `functions/<system>/lib/` (the system's shared code, the
 * only other code a handler may import: docs/ARCHITECTURE.md), with `functions/runtime` linked to the
 * platform's runtime: the runtime and the npm packages are the platform's, as a base image is. Revisions live
 * as long as the `make dev` run, like the in-memory store.
 */
import { cp, mkdir, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Logger } from '../../../functions/runtime/src/index.ts';
import { type KnativeServiceSpec, loadKnativeService } from './knative-service.ts';
import { revisionOf } from './scaler.ts';

export interface Revision {
  /** `<service>-<5 digits>`, as Knative names them. */
  readonly name: string;
  readonly service: string;
  readonly createdAt: string;
  /** The spec read from the snapshot: its functionDir is in the snapshot, `revision` is `name`. */
  readonly spec: KnativeServiceSpec;
}

/** What a control request may fail with, as an HTTP status and a sentence. */
export class RevisionError extends Error {
  readonly status: 400 | 404 | 409;
  constructor(status: 400 | 404 | 409, message: string) {
    super(message);
    this.name = 'RevisionError';
    this.status = status;
  }
}

/** Where traffic goes: the serving side (serving.ts `route`). */
export interface RevisionRouter {
  route(spec: KnativeServiceSpec): void;
}

export interface LocalRevisionsOptions {
  /** Repository root: functions are `<root>/functions/<system>/<function>/`. */
  readonly root: string;
  /** Where snapshots go (emptied at start). */
  readonly dir: string;
  /** The Services as read from the working tree. */
  readonly services: readonly KnativeServiceSpec[];
  readonly router: RevisionRouter;
  readonly log: Logger;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export const revisionName = (service: string, n: number): string =>
  `${service}-${String(n).padStart(5, '0')}`;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export class LocalRevisions {
  readonly #o: LocalRevisionsOptions;
  readonly #sources = new Map<string, KnativeServiceSpec>();
  readonly #revisions = new Map<string, Revision[]>();
  readonly #routed = new Map<string, string>();
  /** One change at a time per Service. */
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(options: LocalRevisionsOptions) {
    this.#o = options;
    for (const s of options.services) if (this.#layout(s) !== undefined) this.#sources.set(s.name, s);
  }

  /** `functions/<system>/<function>` relative to the root, or undefined for a folder elsewhere (a test fixture). */
  #layout(s: KnativeServiceSpec): { system: string; fn: string } | undefined {
    const parts = relative(this.#o.root, s.functionDir).split(sep);
    if (parts.length !== 3 || parts[0] !== 'functions' || parts[1] === 'runtime') return undefined;
    return { system: parts[1] as string, fn: parts[2] as string };
  }

  /** Snapshots every function as its revision 00001 and routes it there (before any instance starts). */
  async init(): Promise<void> {
    await rm(this.#o.dir, { recursive: true, force: true });
    await mkdir(this.#o.dir, { recursive: true, mode: 0o700 });
    for (const source of this.#sources.values()) {
      // Read a moment ago from the same files: the spec is the snapshot's, only its folder moves.
      const revision = await this.#snapshot(source, (dir) =>
        Promise.resolve({ ...source, functionDir: dir, file: join(dir, 'service.yaml') }),
      );
      this.#o.router.route(revision.spec);
      this.#routed.set(source.name, revision.name);
    }
  }

  /** The Services that have revisions here. */
  get services(): readonly string[] {
    return [...this.#sources.keys()];
  }

  /** The spec of each Service's routed revision (what its next instance runs). */
  routedSpecs(): KnativeServiceSpec[] {
    return this.services.flatMap((service) => {
      const { routed, revisions } = this.list(service);
      return revisions.filter((r) => r.name === routed).map((r) => r.spec);
    });
  }

  list(service: string): { readonly routed: string; readonly revisions: readonly Revision[] } {
    const revisions = this.#revisions.get(service);
    const routed = this.#routed.get(service);
    if (revisions === undefined || routed === undefined)
      throw new RevisionError(
        404,
        `no Service ${service} with revisions here (functions/<system>/${service}/)`,
      );
    return { routed, revisions };
  }

  /** `make update`: the working tree's code and config as the next revision, all traffic to it. */
  update(service: string): Promise<{ readonly revision: Revision; readonly previous: string }> {
    return this.#serial(service, async () => {
      const source = this.#sources.get(service);
      const previous = this.list(service).routed;
      if (source === undefined) throw new RevisionError(404, `no Service ${service} here`);
      const revision = await this.#snapshot(source, (dir) =>
        loadKnativeService(join(dir, 'service.yaml')).catch((err: unknown) => {
          throw new RevisionError(
            400,
            `${service}: its service.yaml cannot be read: ${(err as Error).message}`,
          );
        }),
      );
      this.#o.router.route(revision.spec);
      this.#routed.set(service, revision.name);
      this.#o.log.info(`${service}: revision ${revision.name} created from the working tree, routed`, {
        'event.action': 'revision-created',
        'faas.name': service,
        'faas.version': revision.name,
        'sluice.revision_from': previous,
      });
      return { revision, previous };
    });
  }

  /**
   * `make rollback`: all traffic to `name`, or to the revision created before the routed one. The revisions
   * after it stay (a later `make rollback REVISION=…` routes forward again), as on the cluster.
   */
  rollback(
    service: string,
    name?: string,
  ): Promise<{ readonly revision: Revision; readonly previous: string }> {
    return this.#serial(service, async () => {
      const { routed, revisions } = this.list(service);
      let target: Revision | undefined;
      if (name === undefined) {
        const i = revisions.findIndex((r) => r.name === routed);
        target = i > 0 ? revisions[i - 1] : undefined;
        if (target === undefined)
          throw new RevisionError(
            409,
            `${service} has no revision before ${routed}: nothing to roll back to`,
          );
      } else {
        target = revisions.find((r) => r.name === name);
        if (target === undefined)
          throw new RevisionError(
            404,
            `${service} has no revision ${name} (${revisions.map((r) => r.name).join(', ')})`,
          );
      }
      this.#o.router.route(target.spec);
      this.#routed.set(service, target.name);
      return { revision: target, previous: routed };
    });
  }

  #serial<T>(service: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(service) ?? Promise.resolve();
    const run = before.then(fn, fn);
    this.#busy.set(
      service,
      run.catch(() => undefined),
    );
    return run;
  }

  async #snapshot(
    source: KnativeServiceSpec,
    read: (functionDir: string) => Promise<KnativeServiceSpec>,
  ): Promise<Revision> {
    const layout = this.#layout(source);
    if (layout === undefined) throw new RevisionError(400, `${source.name} is not under functions/<system>/`);
    const list = this.#revisions.get(source.name) ?? [];
    const name = revisionName(source.name, list.length + 1);
    const base = join(this.#o.dir, source.name, name);
    const functions = join(base, 'functions');
    const dir = join(functions, layout.system, layout.fn);
    await mkdir(dirname(dir), { recursive: true });
    await cp(source.functionDir, dir, { recursive: true });
    const lib = join(this.#o.root, 'functions', layout.system, 'lib');
    if (await exists(lib)) await cp(lib, join(functions, layout.system, 'lib'), { recursive: true });
    await symlink(join(this.#o.root, 'functions', 'runtime'), join(functions, 'runtime'), 'dir');
    const spec = { ...(await read(dir)), revision: name };
    const revision: Revision = Object.freeze({
      name,
      service: source.name,
      createdAt: (this.#o.now ?? (() => new Date()))().toISOString(),
      spec: Object.freeze(spec),
    });
    list.push(revision);
    this.#revisions.set(source.name, list);
    return revision;
  }
}

/** What the control API and the CLI show of a revision. */
export const describeRevision = (r: Revision, routed: string) => ({
  name: r.name,
  createdAt: r.createdAt,
  routed: r.name === routed,
  containerConcurrency: r.spec.containerConcurrency,
  maxScale: r.spec.maxScale,
});

export { revisionOf };
