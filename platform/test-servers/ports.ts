import { createServer, type Server } from 'node:net';

/** A tuple of N ports when N is a literal (`const [a, b] = await freePorts(2)` needs no checks), else number[]. */
export type Ports<N extends number> = number extends N ? number[] : N extends number ? Tuple<N> : never;
type Tuple<N extends number, Acc extends number[] = []> = Acc['length'] extends N
  ? Acc
  : Tuple<N, [...Acc, number]>;

/**
 * `n` distinct TCP ports on 127.0.0.1 that were free a moment ago (the OS picks them).
 *
 * All n listeners stay open until every port is known, so the kernel cannot hand the same port out
 * twice — asking for one free port at a time can (listen on 0, close, listen on 0 again may return the
 * same number), and that gave EADDRINUSE in a fresh-clone `make test`. Take every port a test needs
 * in one call. A port can still be taken by another process between this returning and the caller's
 * child binding it; a server that can listen on port 0 itself and report its port avoids even that (the
 * local platform's instances do: `SLUICE_REPORT_PORTS=ipc`, functions/runtime/src/report-ports.ts).
 */
export async function freePorts<N extends number>(n: N): Promise<Ports<N>> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
    }
    // n listeners, n ports: the tuple type holds.
    return servers.map((srv) => {
      const address = srv.address();
      if (typeof address !== 'object' || address === null) throw new Error('no port');
      return address.port;
    }) as Ports<N>;
  } finally {
    await Promise.all(
      servers.map(
        (srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve())),
      ),
    );
  }
}

/** One TCP port that was free a moment ago; for several, call {@link freePorts} once instead. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
