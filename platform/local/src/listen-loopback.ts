/**
 * Listening for `make dev`'s own APIs (the control API, the dev store, the event console): on 127.0.0.1 only, since
 * their one guard is a per-run token.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 at `port` (0: a free one) and resolves to the port; rejects when it cannot (EADDRINUSE). */
export async function listenOnLoopback(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
