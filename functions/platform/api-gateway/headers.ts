/**
 * What the gateway reads from and writes into headers: the request id, the request path, the caller's
 * address, and the header sets handed on to an upstream and back to the client (RFC 9110 §7.6.1:
 * hop-by-hop fields, and every field named in Connection, stop at the proxy).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
/** Set by the gateway for an authenticated caller; a client's own value is always dropped. */
export const PRINCIPAL_HEADER = 'x-sluice-principal';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

/** Printable, no spaces or quotes, bounded: safe to log and to pass on. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The caller's X-Request-Id when it is sane, else a new one. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export type ParsedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The request target as the route table sees it. Refused: anything but origin-form, dot segments
 * (plain or percent-encoded: `/api/accounts/../admin` must not reach another upstream path), encoded
 * slashes and backslashes, control characters.
 */
export function parseTarget(url: string | undefined): ParsedTarget {
  if (url === undefined || !url.startsWith('/'))
    return { ok: false, reason: 'the request target must be a path' };
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  // node:http already refuses raw control characters in the target; their encoded forms are ours.
  if (/%2f|%5c|%00|\\/i.test(path))
    return { ok: false, reason: 'encoded slashes, backslashes and NUL are refused' };
  if (path.includes('//')) return { ok: false, reason: 'empty path segments (//) are refused' };
  for (const segment of path.split('/')) {
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..')
      return { ok: false, reason: 'dot segments (. and ..) are refused' };
  }
  return { ok: true, path, query };
}

/**
 * The caller's address. With `trustedHops` proxies in front that each append to X-Forwarded-For
 * (Kourier with use-remote-address, queue-proxy), the client is the entry that many places from the
 * right of [...X-Forwarded-For, socket peer]; entries further left are the client's own claims.
 */
export function clientAddressOf(req: IncomingMessage, trustedHops: number): string {
  const peer = req.socket.remoteAddress ?? '';
  if (trustedHops === 0) return peer;
  const forwarded = req.headers['x-forwarded-for'];
  const chain = [
    ...(typeof forwarded === 'string' ? forwarded.split(',') : [])
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    peer,
  ];
  return chain[chain.length - 1 - trustedHops] ?? chain[0] ?? peer;
}

function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const listed = headers.connection;
  return new Set(
    (typeof listed === 'string' ? listed : '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}

export interface UpstreamHeaderOptions {
  readonly requestId: string;
  readonly traceparent: string;
  readonly clientAddress: string;
  /** Undefined for an anonymous caller. */
  readonly principal: string | undefined;
  /**
   * False once an auth hook has consumed the client's credential: the upstream gets the principal, never the
   * API key or token itself (so a backend, its logs or a dump of its requests cannot replay it).
   */
  readonly forwardAuthorization: boolean;
}

/** The request headers an upstream gets: end-to-end ones, the forwarding trail, ids and trace. */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  options: UpstreamHeaderOptions,
): OutgoingHttpHeaders {
  const drop = connectionListed(req.headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    // Host is the upstream's (Kourier routes cluster-local Services by it); the principal is ours to say.
    if (name === 'host' || name === PRINCIPAL_HEADER) continue;
    if (name === 'authorization' && !options.forwardAuthorization) continue;
    out[name] = value;
  }
  const peer = req.socket.remoteAddress ?? '';
  const forwarded = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = typeof forwarded === 'string' && forwarded !== '' ? `${forwarded}, ${peer}` : peer;
  out['x-forwarded-proto'] =
    typeof req.headers['x-forwarded-proto'] === 'string' ? req.headers['x-forwarded-proto'] : 'http';
  if (req.headers.host !== undefined && req.headers['x-forwarded-host'] === undefined)
    out['x-forwarded-host'] = req.headers.host;
  out[REQUEST_ID_HEADER] = options.requestId;
  out.traceparent = options.traceparent;
  if (options.principal !== undefined) out[PRINCIPAL_HEADER] = options.principal;
  return out;
}

/** The upstream's response headers as the client gets them: end-to-end ones plus the request id. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, requestId: string): OutgoingHttpHeaders {
  const drop = connectionListed(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  out[REQUEST_ID_HEADER] = requestId;
  return out;
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}
