import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brokerYaml } from '../../../eventing/src/testing/manifests.ts';
import { checkLocalServices } from './check-services.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

function ksvc(name: string, clusterLocal: boolean): string {
  return `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ${name}
  namespace: sluice
${clusterLocal ? '  labels: {networking.knative.dev/visibility: cluster-local}\n' : ''}spec:
  template:
    spec:
      containers: [{image: dev.local/sluice/${name}:1}]
`;
}

const trigger = (name: string, subscriber: string) => `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${name}, namespace: sluice}
spec:
  broker: default
  filter: {attributes: {type: t.${name}}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ${subscriber}}}
`;

const routes = (lines: string) =>
  `apiVersion: gateway.sluice.dev/v1alpha1\nkind: RouteTable\nroutes:\n${lines}`;

describe('checkLocalServices', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A repository tree: files by path relative to its root. */
  function tree(files: Record<string, string>): { functions: string; eventing: string } {
    const root = mkdtempSync(join(tmpdir(), 'sluice-check-'));
    dirs.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return { functions: join(root, 'functions'), eventing: join(root, 'eventing/manifests') };
  }

  it("passes the repository's own manifests and routes", async () => {
    const { problems, services } = await checkLocalServices(
      join(ROOT, 'functions'),
      join(ROOT, 'eventing/manifests'),
    );
    expect(problems).toEqual([]);
    expect(services.filter((s) => s.visibility === 'public').map((s) => s.name)).toEqual(['api-gateway']);
  });

  it('fails on a planted bad tree: a public event endpoint, two public Services, routes to nowhere and to a public Service', async () => {
    const { functions, eventing } = tree({
      'functions/demo/hello/service.yaml': ksvc('hello', false),
      'functions/demo/worker/service.yaml': ksvc('worker', true),
      'functions/platform/gw/service.yaml': ksvc('gw', false),
      'functions/demo/routes.yaml': routes(
        '  - {prefix: /api/hello, service: hello}\n  - {prefix: /api/gone, service: gone}\n',
      ),
      'eventing/manifests/broker.yaml': brokerYaml(),
      'eventing/manifests/demo/hello.yaml': trigger('hello', 'hello'),
      'eventing/manifests/demo/worker.yaml': trigger('worker', 'worker'),
    });
    const { problems } = await checkLocalServices(functions, eventing);
    expect(problems).toEqual([
      'gw, hello are public: only the gateway may be (label the others networking.knative.dev/visibility: cluster-local)',
      `${join(functions, 'demo/routes.yaml')}: /api/hello proxies to hello, which is public: make it cluster-local, the gateway is the way in`,
      `${join(functions, 'demo/routes.yaml')}: /api/gone proxies to gone, which has no service.yaml`,
      `${join(functions, 'demo/hello/service.yaml')}: hello receives events (subscriber of Trigger hello) but is public: label it networking.knative.dev/visibility: cluster-local`,
    ]);
  });

  it('reports clashing route prefixes between systems', async () => {
    const { functions, eventing } = tree({
      'functions/a/x/service.yaml': ksvc('x', true),
      'functions/a/routes.yaml': routes('  - {prefix: /api, service: x}\n'),
      'functions/b/routes.yaml': routes('  - {prefix: /api/b, service: x}\n'),
      'eventing/manifests/broker.yaml': brokerYaml(),
    });
    const { problems } = await checkLocalServices(functions, eventing);
    expect(problems).toEqual([
      `prefix /api/b (${join(functions, 'b/routes.yaml')}) lies under /api, which system a owns (${join(functions, 'a/routes.yaml')})`,
    ]);
  });
});
