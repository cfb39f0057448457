import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CrdDownloadError, findCrd } from './crd-sources.ts';
import { parseDocuments } from './documents.ts';
import { schemasFor } from './read-manifests.ts';
import type { SchemaOptions } from './schemas.ts';
import { readText } from './testing/read.ts';

const SERVICE = `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: f, namespace: sluice }
spec:
  template:
    spec:
      containers:
        - image: dev.local/sluice/f:1
          readinessProbe: { httpGet: { path: /health/readiness } }
`;

async function check(text: string, options: SchemaOptions) {
  const problems: string[] = [];
  const docs = parseDocuments([{ file: 'm.yaml', text }], problems);
  const schemas = await schemasFor(docs, options);
  return { ...readText(text, 'm.yaml', schemas), sources: schemas.sources };
}

describe('schemas', () => {
  it('validates a Knative Service against the pinned CRD, which does not require a container name', async () => {
    const { problems, sources } = await check(SERVICE, { require: true });
    expect(sources.get('serving.knative.dev/v1/Service')).toMatch(
      /^CRD .*10-knative-serving\/service\.yaml$/,
    );
    expect(problems).toEqual([]);
  });

  it('offline, falls back to @kubernetes-models/knative after Serving’s defaulting (no false positive on the name)', async () => {
    const { problems, sources } = await check(SERVICE, { crdDir: '/nonexistent', cacheDir: '/nonexistent' });
    expect(sources.get('serving.knative.dev/v1/Service')).toBe('@kubernetes-models/knative');
    expect(problems).toEqual([]);
    const bad = await check(
      SERVICE.replace('- image', '- ports: [{ containerPort: http }]\n          image'),
      {
        crdDir: '/nonexistent',
        cacheDir: '/nonexistent',
      },
    );
    expect(bad.problems).toEqual([
      'm.yaml: Service f: spec.template.spec.containers[0].ports[0].containerPort must be integer',
    ]);
  });

  it('refuses a misspelt field the cluster would silently drop, naming file, object and field', async () => {
    const { problems } = await check(SERVICE.replace('readinessProbe', 'readinesProbe'), { require: true });
    expect(problems).toEqual([
      'm.yaml: Service f: spec.template.spec.containers[0].readinesProbe is not a field of this kind (a typo? the cluster would drop it)',
    ]);
  });

  it('keeps the Trigger spec open where the CRD preserves unknown fields (delivery.timeout is a feature flag there)', async () => {
    const trigger = `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: t, namespace: sluice }
spec:
  broker: default
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: f } }
  delivery: { timeout: PT5S, deadLetterSink: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: d } } }
`;
    expect((await check(trigger, { require: true })).problems).toEqual([]);
  });

  it('without require, reads a kind whose CRD is missing with the structural checks only', async () => {
    const config = `
apiVersion: eventing.knative.dev/v1alpha1
kind: RabbitmqBrokerConfig
metadata: { name: c, namespace: sluice }
spec: { rabbitmqClusterReference: { name: r }, queueTipe: quorum }
`;
    const offline = await check(config, { crdDir: '/nonexistent', cacheDir: '/nonexistent' });
    expect(offline.problems).toEqual([]);
    const strict = await check(config, { require: true });
    expect(strict.problems).toEqual([
      'm.yaml: RabbitmqBrokerConfig c: spec.queueTipe is not a field of this kind (a typo? the cluster would drop it)',
    ]);
    const missing = await check(config, { require: true, crdDir: '/nonexistent', cacheDir: '/nonexistent' });
    expect(missing.problems.join('\n')).toMatch(
      /no CRD for RabbitmqBrokerConfig .* could not be fetched \(set CRD_DIR\)/,
    );
  });

  it('reports a kind it has no schema for when one is required', async () => {
    const { problems } = await check('apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n', {
      require: true,
    });
    expect(problems).toEqual(['m.yaml: Widget w: no schema for Widget (example.com/v1)']);
  });

  describe('the pinned release files, when CRD_DIR has no CRD', () => {
    let server: Server;
    let base = '';
    let cacheDir = '';
    let versionsFile = '';
    const requests: string[] = [];

    beforeAll(async () => {
      cacheDir = mkdtempSync(join(tmpdir(), 'sluice-crds-'));
      versionsFile = join(cacheDir, 'versions.env');
      writeFileSync(versionsFile, 'KEDA_VERSION=v2.20.2\n');
      // The real CRD, from CRD_DIR or this machine's cache or its release (wherever this checkout finds it).
      const found = await findCrd('keda.sh', 'ScaledObject', { download: true });
      if (found === undefined) throw new Error('no ScaledObject CRD in CRD_DIR, the cache or its release');
      const crd = stringify(found.crd);
      server = createServer((req, res) => {
        requests.push(req.url ?? '');
        // A release file carries other objects too: only the CRDs are kept.
        res.end(`apiVersion: v1\nkind: Namespace\nmetadata: {name: keda}\n---\n${crd}`);
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      const address = server.address();
      base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    });
    afterAll(() => {
      server.close();
      rmSync(cacheDir, { recursive: true, force: true });
    });

    const options = (): SchemaOptions => ({
      crdDir: '/nonexistent',
      cacheDir,
      versionsFile,
      download: true,
      fetch: (url) => fetch(url.replace('https://github.com', base)),
    });

    it('fetches the file `make deploy` would install, once per machine and version, then reads the cache', async () => {
      const first = await findCrd('keda.sh', 'ScaledObject', options());
      expect(requests).toEqual(['/kedacore/keda/releases/download/v2.20.2/keda-2.20.2-crds.yaml']);
      expect(first?.origin).toBe(join(cacheDir, 'keda-v2.20.2.yaml'));
      expect(readdirSync(cacheDir).sort()).toEqual(['keda-v2.20.2.yaml', 'versions.env']);
      expect(readFileSync(join(cacheDir, 'keda-v2.20.2.yaml'), 'utf8')).not.toContain('kind: Namespace');
      await findCrd('keda.sh', 'ScaledObject', options());
      expect(requests).toHaveLength(1);
    });

    it('names the URL when the download fails', async () => {
      await expect(
        findCrd('keda.sh', 'ScaledObject', {
          ...options(),
          cacheDir: join(cacheDir, 'empty'),
          fetch: async () => ({ ok: false, status: 404, text: async () => '' }),
        }),
      ).rejects.toThrow(
        new CrdDownloadError(
          'GET https://github.com/kedacore/keda/releases/download/v2.20.2/keda-2.20.2-crds.yaml: HTTP 404',
        ),
      );
    });
  });
});
