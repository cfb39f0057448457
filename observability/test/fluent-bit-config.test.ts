import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const K8S = join(import.meta.dirname, '..', 'k8s');

interface Section {
  readonly name: string;
  readonly keys: Map<string, string>;
}

/** Fluent Bit classic format: [SECTION] headers, then `Key Value` lines indented by spaces; # comments. */
function parseClassic(text: string): Section[] {
  const sections: Section[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const header = /^\[([A-Z_]+)\]$/.exec(line);
    if (header !== null) {
      sections.push({ name: header[1] as string, keys: new Map() });
      continue;
    }
    const kv = /^ {4}([A-Za-z0-9_.-]+)\s+(\S.*)$/.exec(line);
    const current = sections.at(-1);
    if (kv === null || current === undefined) throw new Error(`line ${i + 1} is not "    Key Value": ${raw}`);
    const key = (kv[1] as string).toLowerCase();
    if (current.keys.has(key)) throw new Error(`line ${i + 1}: ${kv[1]} set twice in [${current.name}]`);
    current.keys.set(key, kv[2] as string);
  }
  return sections;
}

/** Keys each plugin accepts (Fluent Bit 5.1 docs), lower-case; a typo fails instead of being ignored at run. */
const KNOWN: Record<string, string[]> = {
  SERVICE: [
    'flush',
    'log_level',
    'daemon',
    'http_server',
    'http_listen',
    'http_port',
    'health_check',
    'storage.path',
    'storage.sync',
    'storage.backlog.mem_limit',
    'parsers_file',
  ],
  tail: [
    'name',
    'tag',
    'path',
    'multiline.parser',
    'db',
    'db.locking',
    'mem_buf_limit',
    'skip_long_lines',
    'refresh_interval',
    'storage.type',
    'read_from_head',
    'exclude_path',
  ],
  kubernetes: [
    'name',
    'match',
    'kube_url',
    'kube_tag_prefix',
    'merge_log',
    'merge_log_key',
    'keep_log',
    'k8s-logging.parser',
    'k8s-logging.exclude',
    'labels',
    'annotations',
    'buffer_size',
  ],
  es: [
    'name',
    'match',
    'host',
    'port',
    'http_user',
    'http_passwd',
    'suppress_type_name',
    'logstash_format',
    'logstash_prefix',
    'logstash_dateformat',
    'time_key',
    'time_key_nanos',
    'include_tag_key',
    'replace_dots',
    'trace_error',
    'retry_limit',
    'buffer_size',
    'generate_id',
    'workers',
    'index',
    'pipeline',
  ],
};

const conf = readFileSync(join(K8S, 'fluent-bit', 'fluent-bit.conf'), 'utf8');
const sections = parseClassic(conf);
const plugin = (section: string, name: string): Map<string, string> => {
  const s = sections.find((x) => x.name === section && x.keys.get('name') === name);
  if (s === undefined) throw new Error(`no [${section}] ${name}`);
  return s.keys;
};

describe('fluent-bit.conf', () => {
  it('has only known keys for each section', () => {
    for (const s of sections) {
      const known = KNOWN[s.name === 'SERVICE' ? 'SERVICE' : (s.keys.get('name') ?? '')];
      expect(known, `[${s.name}] ${s.keys.get('name')}`).toBeDefined();
      for (const key of s.keys.keys()) expect(known, `[${s.name}] ${key}`).toContain(key);
    }
  });

  it('serves its metrics on 2020 for Prometheus', () => {
    const service = sections.find((s) => s.name === 'SERVICE')?.keys;
    expect(service?.get('http_server')).toBe('On');
    expect(service?.get('http_port')).toBe('2020');
  });

  it('tails container logs with the cri multiline parser', () => {
    const tail = plugin('INPUT', 'tail');
    expect(tail.get('path')).toMatch(/^\/var\/log\/containers\/.*\.log$/);
    expect(tail.get('multiline.parser')).toBe('cri');
    expect(tail.get('tag')).toBe('kube.*');
  });

  it('merges the JSON log into the record, drops the raw line, and keeps pod labels out', () => {
    const k8s = plugin('FILTER', 'kubernetes');
    expect(k8s.get('match')).toBe('kube.*');
    expect(k8s.get('kube_tag_prefix')).toBe('kube.var.log.containers.');
    expect(k8s.get('merge_log')).toBe('On');
    expect(k8s.get('keep_log')).toBe('Off');
    expect(k8s.get('labels')).toBe('Off');
  });

  it('writes dated indices to Elasticsearch 8 without type names and without a second @timestamp', () => {
    const es = plugin('OUTPUT', 'es');
    expect(es.get('suppress_type_name')).toBe('On');
    expect(es.get('logstash_format')).toBe('On');
    expect(es.get('logstash_prefix')).toBe('sluice-logs');
    expect(es.get('time_key')).not.toBe('@timestamp');
    expect(es.get('replace_dots')).toBe('Off');
    expect(Number(es.get('retry_limit'))).toBeGreaterThan(0);
    expect(es.get('host')).toBe('elasticsearch');
  });

  it('uses only environment variables the DaemonSet sets, and the index template matches its prefix', () => {
    const docs = parseAllDocuments(readFileSync(join(K8S, 'fluent-bit', 'fluent-bit.yaml'), 'utf8')).map(
      (d) => d.toJS(),
    );
    const ds = docs.find((d) => d.kind === 'DaemonSet');
    const container = ds.spec.template.spec.containers[0];
    const env = new Set((container.env as { name: string }[]).map((e) => e.name));
    for (const m of conf.matchAll(/\$\{([A-Z_]+)\}/g)) expect(env.has(m[1] as string), m[1]).toBe(true);
    expect(container.ports[0].containerPort).toBe(2020);
    const template = JSON.parse(readFileSync(join(K8S, 'elasticsearch', 'index-template.json'), 'utf8'));
    expect(template.index_patterns).toEqual([`${plugin('OUTPUT', 'es').get('logstash_prefix')}-*`]);
  });

  it('rejects a malformed line', () => {
    expect(() => parseClassic('[INPUT]\nName tail\n')).toThrow(/line 2/);
  });
});
