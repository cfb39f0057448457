/**
 * `make new-function SYSTEM=<system> FN=<name> TYPE=<ce-type> [REPLY=<ce-type>]`: a working function in the
 * project's layout, in one command (after knative/func's `func create -l typescript`): handler with a typed
 * `handle`, schemas and examples, service.yaml, a Trigger with a dead-letter sink, a unit and an integration
 * test that pass as written, its events.gen.ts, and its entries in the kustomizations. A new system gets its
 * folder, README and kustomizations too.
 *
 * Refuses a name that exists, a name Kubernetes would reject and a CloudEvent type that is not the project's
 * shape, before writing anything. Idempotent: when every file it would write is there with the same content, it
 * changes nothing and says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMap, isSeq, parseDocument } from 'yaml';
import { listFunctions } from '../../functions/runtime/src/index.ts';
import { syncEventTypes } from './event-types.ts';
import { defaultReplyType, type FunctionSpec, functionFiles, systemFiles } from './function-template.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export class ScaffoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScaffoldError';
  }
}

/**
 * A Knative Service name: a DNS-1035 label (Kubernetes Services), and short enough that its first revision's
 * name, `<name>-00001`, still fits the 63 characters of a label.
 */
export const MAX_FUNCTION_NAME = 63 - '-00001'.length;
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Folders under functions/ that are not systems, and the one that is not a function. */
const RESERVED_SYSTEMS = new Set(['runtime', 'node_modules', 'lib']);
/**
 * The project's CloudEvent types: `dev.sluice.` then lowercase words (letters, digits, `-`) separated by dots,
 * then a version: `dev.sluice.<system>.<thing>.<past-tense-verb>.v1`. (CloudEvents asks only for a non-empty
 * string, prefixed reverse-DNS; the rest is the project's convention, and makes a safe file name.)
 */
const CE_TYPE = /^dev\.sluice(\.[a-z][a-z0-9-]*)+\.v[1-9][0-9]*$/;
const MAX_CE_TYPE = 200;

export interface ScaffoldOptions {
  readonly system: string;
  readonly fn: string;
  readonly type: string;
  /** @default dev.sluice.<system>.<fn>.handled.v1 */
  readonly reply?: string;
}

/** Every problem with the arguments, as sentences; empty when they are fine. */
export function argumentProblems(o: ScaffoldOptions): string[] {
  const problems: string[] = [];
  if (!DNS_1035.test(o.fn) || o.fn.length > MAX_FUNCTION_NAME)
    problems.push(
      `FN=${o.fn} is not a name Kubernetes accepts for a Knative Service: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most ${MAX_FUNCTION_NAME} characters (its revision <name>-00001 must fit 63)`,
    );
  if (!DNS_1035.test(o.system) || o.system.length > 63 || RESERVED_SYSTEMS.has(o.system))
    problems.push(
      `SYSTEM=${o.system} is not a system folder name: lowercase letters, digits and '-', starting with a letter, at most 63 characters, not ${[...RESERVED_SYSTEMS].join(', ')}`,
    );
  for (const [name, value] of [
    ['TYPE', o.type],
    ['REPLY', o.reply],
  ] as const) {
    if (value === undefined) continue;
    if (!CE_TYPE.test(value) || value.length > MAX_CE_TYPE)
      problems.push(
        `${name}=${value} is not a CloudEvent type of this project: dev.sluice.<system>.<thing>.<past-tense-verb>.v<N>, lowercase words separated by dots, at most ${MAX_CE_TYPE} characters (e.g. dev.sluice.${DNS_1035.test(o.system) ? o.system : 'demo'}.greeting.requested.v1)`,
      );
  }
  if (o.reply !== undefined && o.reply === o.type)
    problems.push(
      `REPLY=${o.reply} is the type the function accepts: its Trigger would feed it its own replies (a loop)`,
    );
  return problems;
}

/** A schema (and example) of `type` that another function already has: the type's contract, to copy. */
function existingContract(
  root: string,
  type: string,
  except: string,
): { schema: string; example: string; from: string } | undefined {
  for (const f of listFunctions(join(root, 'functions'))) {
    if (f.name === except) continue;
    const schema = join(f.dir, 'schemas', `${type}.json`);
    if (!existsSync(schema)) continue;
    const example = join(f.dir, 'examples', `${type}.json`);
    if (!existsSync(example))
      throw new ScaffoldError(
        `${relative(root, schema)} defines ${type} but ${relative(root, example)} is missing: add it, then run this again`,
      );
    return {
      schema: readFileSync(schema, 'utf8'),
      example: readFileSync(example, 'utf8'),
      from: relative(root, f.dir),
    };
  }
  return undefined;
}

/** The content as Biome writes it (format + organised imports), so `make test`'s `biome ci` passes as generated. */
function biomeFormatted(root: string, path: string, content: string): string {
  if (!/\.(ts|json)$/.test(path)) return content;
  const result = spawnSync(
    join(root, 'node_modules/.bin/biome'),
    ['check', '--write', `--stdin-file-path=${path}`],
    {
      cwd: root,
      input: content,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new ScaffoldError(`biome could not format ${path}: ${result.stderr}`);
  return result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`;
}

/** Adds `entry` to a kustomization's `resources` (created when missing); the new text, or undefined when it is there. */
export function withResource(text: string | undefined, entry: string, sorted: boolean): string | undefined {
  const doc = parseDocument(
    text ?? 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n',
  );
  if (!isMap(doc.contents)) throw new ScaffoldError('a kustomization that is not a YAML map');
  let resources = doc.get('resources');
  if (!isSeq(resources)) {
    doc.set('resources', doc.createNode([]));
    resources = doc.get('resources');
  }
  if (!isSeq(resources)) throw new ScaffoldError('a kustomization whose resources are not a list');
  const items = resources.items.map((i) => String((i as { value?: unknown }).value ?? i));
  if (items.includes(entry)) return undefined;
  const at = sorted ? items.findIndex((i) => i.localeCompare(entry) > 0) : -1;
  const node = doc.createNode(entry);
  if (at === -1) resources.items.push(node);
  else resources.items.splice(at, 0, node);
  resources.flow = false;
  return doc.toString({ lineWidth: 0 });
}

export interface ScaffoldResult {
  readonly spec: FunctionSpec;
  /** Repository-relative paths written (created or changed), in order. */
  readonly written: readonly string[];
  /** True when everything was already there: nothing was written. */
  readonly unchanged: boolean;
}

export async function scaffold(options: ScaffoldOptions, root = ROOT): Promise<ScaffoldResult> {
  const problems = argumentProblems(options);
  if (problems.length > 0) throw new ScaffoldError(problems.join('\n'));
  const { system, fn, type } = options;
  const reply = options.reply ?? defaultReplyType(system, fn);
  const replyProblems = argumentProblems({ ...options, reply });
  if (replyProblems.length > 0) throw new ScaffoldError(replyProblems.join('\n'));
  const functionsRoot = join(root, 'functions');
  const systemDir = join(functionsRoot, system);
  const newSystem = !existsSync(systemDir);
  const existing = existingContract(root, type, fn);
  const replyOwner = existingContract(root, reply, fn);
  if (replyOwner !== undefined && options.reply !== undefined)
    throw new ScaffoldError(
      `REPLY=${reply} is already defined by ${replyOwner.from}: a new function replies with a type of its own`,
    );
  const spec: FunctionSpec = { system, fn, type, reply, ...(existing === undefined ? {} : { existing }) };

  // What the files must hold.
  const wanted = new Map<string, string>();
  for (const [path, content] of [...functionFiles(spec), ...(newSystem ? systemFiles(spec) : [])])
    wanted.set(path, biomeFormatted(root, path, content));
  const read = (path: string): string | undefined =>
    existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : undefined;
  const kustomizations: [string, string, boolean][] = [
    [`functions/${system}/kustomization.yaml`, `${fn}/service.yaml`, true],
    ['functions/kustomization.yaml', system, true],
    [`eventing/manifests/${system}/kustomization.yaml`, `triggers/${fn}.yaml`, false],
    ['eventing/manifests/kustomization.yaml', system, false],
  ];
  for (const [path, entry, sorted] of kustomizations) {
    const changed = withResource(read(path), entry, sorted);
    if (changed !== undefined) wanted.set(path, changed);
  }

  const differs = [...wanted].filter(([path, content]) => read(path) !== content).map(([path]) => path);
  const taken = listFunctions(functionsRoot).find((f) => f.name === fn);
  const folder = `functions/${system}/${fn}`;
  if (differs.length === 0 && taken !== undefined) {
    await syncEventTypes(functionsRoot, { write: true, only: [fn], root });
    return { spec, written: [], unchanged: true };
  }
  // Anything of that name that is not exactly this scaffold: refuse before writing a byte.
  if (taken !== undefined)
    throw new ScaffoldError(
      `a function named ${fn} exists: ${relative(root, taken.dir)} (a function's name is its Knative Service name, unique across systems); choose another FN`,
    );
  for (const path of [folder, `eventing/manifests/${system}/triggers/${fn}.yaml`])
    if (existsSync(join(root, path)))
      throw new ScaffoldError(`${path} exists: remove it or choose another FN`);

  for (const path of differs) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), wanted.get(path) ?? '');
  }
  const types = await syncEventTypes(functionsRoot, { write: true, only: [fn], root });
  return { spec, written: [...differs, ...types.stale], unchanged: false };
}

function report(result: ScaffoldResult, newSystem: boolean): string {
  const { spec } = result;
  const lines = [`function ${spec.fn} in system ${spec.system}: accepts ${spec.type}, replies ${spec.reply}`];
  if (spec.existing !== undefined)
    lines.push(`  the schema and example of ${spec.type} are copied from ${spec.existing.from}`);
  if (result.unchanged) {
    lines.push('  nothing to do: every file is already as make new-function writes it');
    return `${lines.join('\n')}\n`;
  }
  for (const path of result.written) lines.push(`  wrote ${path}`);
  lines.push('next:');
  lines.push(`  make test-function FN=${spec.fn}   its type check and tests`);
  lines.push(
    `  make try FN=${spec.fn}             its examples: through make dev when it runs, else to it alone`,
  );
  if (!newSystem)
    lines.push(`  functions/${spec.system}/README.md: add ${spec.fn}'s events to the events table`);
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      system: { type: 'string', default: '' },
      fn: { type: 'string', default: '' },
      type: { type: 'string', default: '' },
      reply: { type: 'string' },
    },
  });
  const { system = '', fn = '', type = '' } = values;
  if (system === '' || fn === '' || type === '') {
    process.stderr.write(
      'usage: make new-function SYSTEM=<system> FN=<name> TYPE=<ce-type> [REPLY=<ce-type>]\n' +
        '  e.g. make new-function SYSTEM=demo FN=greeter TYPE=dev.sluice.demo.greet.v1\n',
    );
    process.exitCode = 64;
    return;
  }
  const newSystem = !existsSync(join(ROOT, 'functions', system));
  const result = await scaffold({ system, fn, type, ...(values.reply ? { reply: values.reply } : {}) });
  process.stdout.write(report(result, newSystem));
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `make new-function: ${err instanceof ScaffoldError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = err instanceof ScaffoldError ? 2 : 1;
  });
}
