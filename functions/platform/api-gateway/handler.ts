/**
 * api-gateway — the one public entry (docs/gateway.md). A plain HTTP function (the runtime's
 * `HttpFunction`): at start it reads the route table every system contributes (GATEWAY_ROUTES_DIR:
 * `<system>.yaml` files, the ConfigMap kustomize builds from `functions/<system>/routes.yaml`), builds
 * each route's hooks, and then proxies or publishes every request. Anything wrong with the table, the
 * hooks or the env stops the start with every problem listed (exit 78).
 */
import {
  directoryRouteSources,
  type HttpFunction,
  parseRouteTable,
  type RouteSource,
} from '../../runtime/src/index.ts';
import { checkRoutesAgainstConfig, GatewayConfigError, loadGatewayConfig } from './config.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { buildHooks, closeHooks, type RouteHooks } from './hook.ts';
import { HOOKS } from './hooks/registry.ts';

let running: Gateway | undefined;
let builtHooks: ReadonlyMap<unknown, RouteHooks> | undefined;

export const serve: HttpFunction['serve'] = async ({ log, metrics, signal }) => {
  const config = loadGatewayConfig(process.env);
  let sources: RouteSource[];
  try {
    sources = directoryRouteSources(config.routesDir);
  } catch (err) {
    throw new GatewayConfigError([`GATEWAY_ROUTES_DIR ${config.routesDir}: ${(err as Error).message}`]);
  }
  const table = await parseRouteTable(sources);
  checkRoutesAgainstConfig(table.routes, config);
  const hooks = await buildHooks(HOOKS, table.routes, { log, env: process.env, upstream: config.upstream });
  builtHooks = hooks;
  if (table.routes.length === 0) log.warn(`no route files in ${config.routesDir}: every request gets 404`);
  log.info(`${table.routes.length} routes from ${sources.map((s) => s.system).join(', ') || 'no system'}`, {
    'event.action': 'routes-loaded',
    'sluice.routes': table.routes.map(
      (r) => `${r.prefix} → ${r.kind === 'proxy' ? r.service : `publish ${r.eventType}`}`,
    ),
  });
  running = createGateway({
    table,
    hooks,
    upstream: config.upstream,
    brokerUrl: config.brokerUrl,
    trustedHops: config.trustedHops,
    log,
    metrics,
    shutdown: signal,
  });
  return running.handle;
};

export const shutdown: HttpFunction['shutdown'] = async () => {
  running?.close();
  if (builtHooks !== undefined) await closeHooks(builtHooks as Parameters<typeof closeHooks>[0]);
};
