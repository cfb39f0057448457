/**
 * The repository's route table as the gateway builds it at start: every functions/<system>/routes.yaml
 * parses, no prefixes clash, and every hook it names is registered and accepts its config. (Which
 * Services the routes may target is checked by the local platform and the deploy rules, which know the
 * manifests.)
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRouteTable, ROUTE_KIND, repositoryRouteSources } from '../../runtime/src/index.ts';
import { buildHooks, closeHooks } from './hook.ts';
import { HOOKS } from './hooks/registry.ts';

const FUNCTIONS = join(import.meta.dirname, '../..');

describe("the repository's route table", async () => {
  const sources = repositoryRouteSources(FUNCTIONS);
  const table = await parseRouteTable(sources);

  it('has the routes the README shows', () => {
    expect(sources.map((s) => s.system)).toEqual(expect.arrayContaining(['banking', 'demo']));
    expect(table.match('/api/accounts/acc-1')).toMatchObject({
      kind: ROUTE_KIND.proxy,
      service: 'accounts-api',
    });
    expect(table.match('/api/hello')).toMatchObject({
      kind: ROUTE_KIND.publish,
      eventType: 'dev.sluice.hello.requested.v1',
    });
  });

  it('hands a client credential on only to users, which checks the admin key again', () => {
    const forwarding = table.routes
      .filter((r) => r.auth?.forwardAuthorization === true)
      .map((r) => (r.kind === ROUTE_KIND.proxy ? r.service : r.prefix));
    expect(forwarding).toEqual(['users']);
  });

  it('builds every hook it names', async () => {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    // Every Service resolves (which ones exist is the platform's and the deploy rules' check).
    const upstream = (service: string): string => `http://${service}.test`;
    const hooks = await buildHooks(HOOKS, table.routes, { log: quiet, env: {}, upstream });
    expect(hooks).toBeInstanceOf(Map);
    await closeHooks(hooks);
  });
});
