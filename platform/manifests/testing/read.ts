/** Reads YAML text the way the module does, returning problems instead of throwing (for the readers' tests). */
import { parseDocuments } from '../documents.ts';
import { collectManifests, type ManifestSet } from '../read-manifests.ts';
import type { Schemas } from '../schemas.ts';

export interface ReadResult {
  readonly set: ManifestSet;
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

export function readText(text: string, file = 'manifest.yaml', schemas?: Schemas): ReadResult {
  const problems: string[] = [];
  const docs = parseDocuments([{ file, text }], problems);
  const read = collectManifests(docs, schemas === undefined ? {} : { schemas });
  return { set: read.set, problems: [...problems, ...read.problems], warnings: read.set.warnings };
}
