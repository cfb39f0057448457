/**
 * Rendered manifests as plain objects: parse a multi-document YAML stream (what `kustomize build` writes)
 * and read the few fields the project rules need without casting at every step.
 */
import { parseAllDocuments } from 'yaml';

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

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function parseManifest(text: string, source = 'manifest'): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const [index, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0)
      throw new ManifestError(`${source} document ${index}: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJSON();
    if (value === null || value === undefined) continue;
    if (!isRecord(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') {
      throw new ManifestError(`${source} document ${index} has no apiVersion/kind`);
    }
    if (!isRecord(value.metadata) || typeof value.metadata.name !== 'string') {
      throw new ManifestError(`${source} document ${index} (${value.kind}) has no metadata.name`);
    }
    objects.push(value as unknown as KubeObject);
  }
  return objects;
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

export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export const group = (apiVersion: string): string =>
  apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';

/** `Kind/namespace/name`, the way the rules name an object in their messages. */
export const describe = (o: KubeObject): string =>
  `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

export const isKnativeService = (o: KubeObject): boolean =>
  o.kind === 'Service' && group(o.apiVersion) === 'serving.knative.dev';

/** ISO 8601 durations as Knative's delivery spec uses them (PT30S, PT0.5S, PT1M30S, P1D); null when invalid. */
export function isoDurationMs(text: string): number | null {
  const m =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      text,
    );
  if (m === null || text === 'P' || text.endsWith('T')) return null;
  const [, d, h, min, s] = m.map((part) => (part === undefined ? 0 : Number(part)));
  return (((d ?? 0) * 24 + (h ?? 0)) * 60 + (min ?? 0)) * 60_000 + (s ?? 0) * 1000;
}
