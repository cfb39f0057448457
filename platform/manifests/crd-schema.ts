/**
 * Turns an upstream CustomResourceDefinition into the JSON Schema the readers validate against, at
 * validation time (nothing derived is committed). Also a command, to look at what a CRD becomes:
 *
 *   node platform/manifests/crd-schema.ts <crd.yaml> <version> [free-form path ...]
 *
 * What it changes, and why:
 * - descriptions and `format` are dropped (ajv would need every Kubernetes format); `x-kubernetes-int-or-string`
 *   becomes string|integer;
 * - objects with `properties` and no `additionalProperties`/`x-kubernetes-preserve-unknown-fields` get
 *   `additionalProperties: false`: the API server silently prunes unknown fields of a CRD (and Knative's
 *   webhooks refuse them), so a typo would deploy as "not set" — here it is an error;
 * - the paths given as `free-form` (`status`, or e.g. `spec.override` = a whole pod template) become plain
 *   objects: Kubernetes validates those parts itself.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Json } from './documents.ts';

type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function strictSchema(node: JsonObject, path: string, freeForm: ReadonlySet<string>): JsonObject {
  if (freeForm.has(path)) {
    return { type: node.type === 'array' ? 'array' : 'object' };
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'description' || key === 'format' || key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && isObject(value)) {
      const props: JsonObject = {};
      for (const [name, child] of Object.entries(value)) {
        if (isObject(child))
          props[name] = strictSchema(child, path === '' ? name : `${path}.${name}`, freeForm);
      }
      out.properties = props;
    } else if (key === 'items' && isObject(value)) {
      out.items = strictSchema(value, `${path}[]`, freeForm);
    } else if (key === 'additionalProperties' && isObject(value)) {
      out.additionalProperties = strictSchema(value, `${path}{}`, freeForm);
    } else {
      out[key] = value;
    }
  }
  if (node['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.type = ['string', 'integer'];
  }
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (isObject(out.properties) && out.additionalProperties === undefined && !preserve) {
    out.additionalProperties = false;
  }
  return out;
}

export interface CrdInfo {
  readonly group: string;
  readonly kind: string;
  readonly versions: readonly string[];
}

/** The CustomResourceDefinitions of a YAML stream (a CRD file, or a release file with other objects too). */
export function crdDocuments(yamlText: string): JsonObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJSON() as Json)
    .filter((d): d is JsonObject => isObject(d) && d.kind === 'CustomResourceDefinition');
}

export function crdInfo(crd: JsonObject): CrdInfo | undefined {
  const spec = crd.spec;
  if (!isObject(spec) || typeof spec.group !== 'string' || !isObject(spec.names)) return undefined;
  const versions = Array.isArray(spec.versions)
    ? spec.versions.flatMap((v) => (isObject(v) && typeof v.name === 'string' ? [v.name] : []))
    : [];
  return { group: spec.group, kind: String(spec.names.kind), versions };
}

export function extractCrdSchema(
  crd: JsonObject,
  version: string,
  freeForm: readonly string[] = [],
): JsonObject {
  const info = crdInfo(crd);
  const spec = crd.spec;
  if (info === undefined || !isObject(spec) || !Array.isArray(spec.versions))
    throw new Error('malformed CRD');
  const entry = spec.versions.find((v) => isObject(v) && v.name === version);
  if (!isObject(entry) || !isObject(entry.schema) || !isObject(entry.schema.openAPIV3Schema)) {
    throw new Error(`CRD ${info.kind} has no openAPIV3Schema for version ${version}`);
  }
  const schema = strictSchema(entry.schema.openAPIV3Schema, '', new Set(freeForm));
  // Every object has apiVersion, kind and metadata, whether the CRD lists them (Knative's do not). metadata is
  // validated by the API server (ObjectMeta); the CRD schema only says `type: object`.
  return {
    ...schema,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      ...(isObject(schema.properties) ? schema.properties : {}),
    },
    required: ['apiVersion', 'kind', 'metadata', ...((schema.required as string[] | undefined) ?? [])],
  };
}

if (import.meta.main) {
  const [file, version, ...freeForm] = process.argv.slice(2);
  if (file === undefined || version === undefined) {
    process.stderr.write('usage: crd-schema.ts <crd.yaml> <version> [free-form path ...]\n');
    process.exit(2);
  }
  const [crd] = crdDocuments(readFileSync(file, 'utf8'));
  if (crd === undefined) {
    process.stderr.write(`${file}: no CustomResourceDefinition\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(extractCrdSchema(crd, version, freeForm), null, 2)}\n`);
}
