/**
 * Rendered manifests as plain objects: parse a multi-document YAML stream (what `kustomize build` writes)
 * and read the few fields the project rules need without casting at every step. Typed reading (durations,
 * delivery, defaults) is platform/manifests'; this is only what the rules need on top.
 */
import { parseAllDocuments } from 'yaml';
import { at, isRecord, type KubeObject } from '../../manifests/index.ts';

export { at, isRecord, type KubeObject };

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

export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export const group = (apiVersion: string): string =>
  apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';

/** `Kind/namespace/name`, the way the rules name an object in their messages. */
export const describe = (o: KubeObject): string =>
  `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

export const isKnativeService = (o: KubeObject): boolean =>
  o.kind === 'Service' && group(o.apiVersion) === 'serving.knative.dev';
