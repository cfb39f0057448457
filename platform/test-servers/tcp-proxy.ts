/**
 * A TCP proxy in front of a test server, so a test can cut every connection through it at once (sockets
 * destroyed both ways, as a failed node or a network cut does) or refuse new ones for a while: the fault a
 * client's reconnection is tested against, on the real server, without touching the server shared by other
 * tests.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface TcpProxy {
  /** The proxy's address, e.g. to put into an amqp:// URL in place of the server's. */
  readonly host: string;
  readonly port: number;
  /** Destroys every open connection through the proxy, both sides. */
  cut(): void;
  /** While refusing, new connections are destroyed as soon as they arrive. */
  refuse(on: boolean): void;
  /** How many connections the proxy accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = tcpConnect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp proxy: no port');
  return {
    host: '127.0.0.1',
    port: address.port,
    cut() {
      for (const s of open) s.destroy();
    },
    refuse(on) {
      refusing = on;
    },
    accepted: () => accepted,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
