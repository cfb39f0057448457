/**
 * A function's express routes on a server of their own, on a loopback port, for the tests that send them requests:
 * served as the runtime serves them (`routesApp`: the Router its `routes` fill, the runtime's fallbacks behind it).
 */
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import { routesApp } from '../src/route-answers.ts';
import type { InitContext, SluiceFunction } from '../src/types.ts';

export interface RoutesServer {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  readonly router: Router;
  close(): Promise<void>;
}

export async function serveRoutes(
  routes: SluiceFunction['routes'],
  context: InitContext,
): Promise<RoutesServer> {
  const { app, router } = routesApp(routes ?? (() => {}), context);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    router,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
