/**
 * Kubernetes objects as the readers see them: parsed from multi-document YAML (a manifest file or a rendered
 * overlay), each with the file and document it came from, so every problem can name both.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** A parsed Kubernetes object: apiVersion and kind are checked, the rest is plain JSON. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

export interface ManifestDocument {
  /** The file, as the caller names it (relative to a manifests folder, or an overlay name). */
  readonly file: string;
  /** 0-based position in the file's YAML stream. */
  readonly index: number;
  readonly object: KubeObject;
}

export interface ManifestText {
  readonly file: string;
  readonly text: string;
}

/** Thrown with every problem found; each problem names its file (and object and field where there is one). */
export class ManifestError extends Error {
  override name = 'ManifestError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[], heading = 'invalid manifests') {
    super(`${heading}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a nested field: at(obj, 'spec', 'delivery', 'timeout'). */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof key === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[key];
    } else {
      if (!isRecord(current)) return undefined;
      current = current[key];
    }
  }
  return current;
}

export const groupOf = (apiVersion: string): string =>
  apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';

/**
 * Every object of some YAML texts, in order. Problems (YAML errors, a document that is not an object with
 * apiVersion, kind and metadata.name) are collected, not thrown, so one run reports them all.
 */
export function parseDocuments(texts: readonly ManifestText[], problems: string[]): ManifestDocument[] {
  const docs: ManifestDocument[] = [];
  for (const { file, text } of texts) {
    parseAllDocuments(text).forEach((d, index) => {
      const where = `${file} document ${index + 1}`;
      if (d.errors.length > 0) {
        problems.push(`${file}: YAML error: ${d.errors.map((e) => e.message).join('; ')}`);
        return;
      }
      const value: unknown = d.toJS();
      if (value === null || value === undefined) return;
      if (!isRecord(value)) {
        problems.push(`${where}: not a Kubernetes object`);
        return;
      }
      if (typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') {
        problems.push(`${where}: apiVersion and kind are required`);
        return;
      }
      if (
        !isRecord(value.metadata) ||
        typeof value.metadata.name !== 'string' ||
        value.metadata.name === ''
      ) {
        problems.push(`${where}: ${value.kind} has no metadata.name`);
        return;
      }
      docs.push({ file, index, object: value as unknown as KubeObject });
    });
  }
  return docs;
}

/** Every *.yaml / *.yml under `dir` (kustomization.yaml aside), sorted, named relative to `dir`. */
export async function readManifestFiles(dir: string): Promise<ManifestText[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name) && e.name !== 'kustomization.yaml')
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return Promise.all(files.map(async (f) => ({ file: relative(dir, f), text: await readFile(f, 'utf8') })));
}
