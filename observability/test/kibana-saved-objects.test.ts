import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KIBANA_DATA_VIEW_ID, LOG_INDEX_PATTERN, LOG_TIME_FIELD } from '../dashboards/datasources.ts';

const K8S = join(import.meta.dirname, '..', 'k8s');

interface Mapping {
  type?: string;
  properties?: Record<string, Mapping>;
}

interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown> & { title: string };
  references: { name: string; type: string; id: string }[];
}

const objects = readFileSync(join(K8S, 'kibana', 'saved-objects.ndjson'), 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as SavedObject);
const byId = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));

/** Field paths the index template maps explicitly. */
function mappedFields(): Set<string> {
  const template = JSON.parse(readFileSync(join(K8S, 'elasticsearch', 'index-template.json'), 'utf8')) as {
    index_patterns: string[];
    template: { mappings: { properties: Record<string, unknown> } };
  };
  const out = new Set<string>();
  const walk = (props: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(props)) {
      const child = (v as { properties?: Record<string, unknown> }).properties;
      if (child === undefined) out.add(prefix + k);
      else walk(child, `${prefix}${k}.`);
    }
  };
  walk(template.template.mappings.properties, '');
  return out;
}

describe('kibana saved objects', () => {
  it('has unique ids and the data view, searches and dashboard', () => {
    expect(byId.size).toBe(objects.length);
    expect(objects.map((o) => o.type).sort()).toEqual([
      'dashboard',
      'index-pattern',
      'search',
      'search',
      'search',
      'search',
      'search',
    ]);
    const view = byId.get(`index-pattern:${KIBANA_DATA_VIEW_ID}`);
    expect(view?.attributes).toMatchObject({ title: LOG_INDEX_PATTERN, timeFieldName: LOG_TIME_FIELD });
  });

  it('resolves every reference to an object of the file, with the right type', () => {
    for (const o of objects)
      for (const r of o.references)
        expect(byId.has(`${r.type}:${r.id}`), `${o.id} → ${r.type}:${r.id}`).toBe(true);
  });

  it('names a reference for every indexRefName and panelRefName', () => {
    for (const o of objects) {
      const names = new Set(o.references.map((r) => r.name));
      const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string } | undefined;
      const source = JSON.parse(meta?.searchSourceJSON ?? '{}') as { indexRefName?: string };
      if (o.type === 'search') expect(names.has(source.indexRefName ?? ''), o.id).toBe(true);
      if (o.type === 'dashboard') {
        const panels = JSON.parse(String(o.attributes.panelsJSON)) as { panelRefName: string }[];
        expect(panels.length).toBeGreaterThan(0);
        for (const p of panels) expect(names.has(p.panelRefName), p.panelRefName).toBe(true);
      }
    }
  });

  it('searches and shows only fields the index template maps', () => {
    const mapped = mappedFields();
    for (const o of objects.filter((x) => x.type === 'search')) {
      for (const c of o.attributes.columns as string[])
        expect(mapped.has(c), `${o.id} column ${c}`).toBe(true);
      const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string };
      const kql = (JSON.parse(meta.searchSourceJSON) as { query: { query: string } }).query.query;
      for (const m of kql.matchAll(/([a-z_@][a-z0-9_.@]*):/g))
        expect(mapped.has(m[1] as string), `${o.id} query field ${m[1]}`).toBe(true);
    }
  });

  it('maps the ids the functions log as keywords, so a search by id is exact', () => {
    const template = readFileSync(join(K8S, 'elasticsearch', 'index-template.json'), 'utf8');
    const props = (JSON.parse(template) as { template: { mappings: Mapping } }).template.mappings;
    for (const path of [
      'event.id',
      'trace.id',
      'span.id',
      'cloudevents.event_id',
      'cloudevents.event_type',
      'banking.transaction.id',
    ]) {
      let node: Mapping | undefined = props;
      for (const key of path.split('.')) node = node?.properties?.[key];
      expect(node?.type, path).toBe('keyword');
    }
  });
});
