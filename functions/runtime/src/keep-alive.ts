import type { ClientRequest } from 'node:http';

/**
 * Keep-alive on both ends of every HTTP hop here. A server keeps an idle connection 65 s: longer than the 60 s
 * idle timeout of the usual load balancer in front of it, so that one closes first. A client lets an idle socket
 * go after 60 s, or a second before the server's `Keep-Alive: timeout=` when that is sooner (node:http's `Agent`
 * heeds the hint only below a timeout of its own): the client closes first, so a request seldom goes out on a
 * socket the server is closing. What still races is sent again where that is safe (ingress-client.ts, the
 * gateway's proxy).
 */
export const SERVER_KEEP_ALIVE_MS = 65_000;
export const CLIENT_IDLE_SOCKET_MS = 60_000;

/**
 * The server closed the kept-alive socket this request was given as it was reused (its idle timeout, raced): the
 * request never reached it, so it may go again on another socket, as node's docs advise (`reusedSocket`). The
 * caller still decides whether the request may be sent twice, and must only ask before any answer arrived.
 */
export function closedOnReuse(request: ClientRequest, err: NodeJS.ErrnoException): boolean {
  return request.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
}
