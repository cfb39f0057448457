/**
 * What every kind reader shares: where an object came from (for messages), its metadata, and typed getters
 * that record a problem naming the field instead of throwing, so one run reports every problem of every file.
 */
import { at, isRecord, type ManifestDocument } from './documents.ts';

export interface ObjectMeta {
  readonly name: string;
  /** `metadata.namespace`, or `default` (where kubectl would put it) when the manifest has none. */
  readonly namespace: string;
  /** The file the object came from, as the caller named it. */
  readonly file: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Problems refuse the manifests; warnings are things a cluster accepts that do not do what they seem to. */
export interface Findings {
  readonly problems: string[];
  readonly warnings: string[];
}

export class ObjectReader {
  readonly doc: ManifestDocument;
  readonly findings: Findings;
  readonly meta: ObjectMeta;
  /** `<file>: <Kind> <name>`, the start of every message about this object. */
  readonly where: string;
  #problems = 0;

  constructor(doc: ManifestDocument, findings: Findings) {
    this.doc = doc;
    this.findings = findings;
    const m = doc.object.metadata;
    this.where = `${doc.file}: ${doc.object.kind} ${m.name}`;
    this.meta = {
      name: m.name,
      namespace: typeof m.namespace === 'string' && m.namespace !== '' ? m.namespace : 'default',
      file: doc.file,
      labels: this.#stringMap(m.labels, 'metadata.labels'),
      annotations: this.#stringMap(m.annotations, 'metadata.annotations'),
    };
  }

  /** How many problems this object has had so far (a reader returns undefined when it had any). */
  get problemCount(): number {
    return this.#problems;
  }

  problem(field: string, message: string): void {
    this.#problems++;
    this.findings.problems.push(`${this.where}: ${field} ${message}`);
  }

  warn(field: string, message: string): void {
    this.findings.warnings.push(`${this.where}: ${field} ${message}`);
  }

  get(...path: (string | number)[]): unknown {
    return at(this.doc.object, ...path);
  }

  string(field: string, value: unknown, required: true): string | undefined;
  string(field: string, value: unknown, required?: false): string | undefined;
  string(field: string, value: unknown, required = false): string | undefined {
    if (value === undefined || value === null || value === '') {
      if (required) this.problem(field, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.problem(field, `must be a string (got ${JSON.stringify(value)}; quote it in YAML)`);
      return undefined;
    }
    return value;
  }

  /** An integer field (a YAML number, not a string), within bounds. */
  integer(field: string, value: unknown, min: number, max: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.problem(field, `must be an integer ${min}..${max} (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return value;
  }

  boolean(field: string, value: unknown): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.problem(field, `must be true or false (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return value;
  }

  object(field: string, value: unknown, required = false): Record<string, unknown> | undefined {
    if (value === undefined || value === null) {
      if (required) this.problem(field, 'is required');
      return undefined;
    }
    if (!isRecord(value)) {
      this.problem(field, 'must be an object');
      return undefined;
    }
    return value;
  }

  #stringMap(value: unknown, field: string): Readonly<Record<string, string>> {
    if (value === undefined || value === null) return {};
    const out: Record<string, string> = {};
    if (!isRecord(value)) {
      this.problem(field, 'must be a map of strings');
      return out;
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string') out[k] = v;
      else this.problem(`${field}.${k}`, `must be a string (got ${JSON.stringify(v)}; quote it in YAML)`);
    }
    return Object.freeze(out);
  }
}
