import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { upstreamPath } from './gateway.ts';
import {
  clientAddressOf,
  clientResponseHeaders,
  parseTarget,
  requestIdOf,
  upstreamRequestHeaders,
} from './headers.ts';
import { derivedId, idempotencyKey } from './publish.ts';

/** Just the parts of IncomingMessage the header helpers read. */
const request = (headers: Record<string, string>, peer = '10.0.0.9'): IncomingMessage =>
  ({ headers, socket: { remoteAddress: peer } }) as unknown as IncomingMessage;

describe('parseTarget', () => {
  it('splits path and query', () => {
    expect(parseTarget('/api/accounts/a1?limit=2')).toEqual({
      ok: true,
      path: '/api/accounts/a1',
      query: '?limit=2',
    });
    expect(parseTarget('/x')).toEqual({ ok: true, path: '/x', query: '' });
  });

  it.each([
    ['/api/accounts/../admin', 'dot segments'],
    ['/api/accounts/%2e%2E/admin', 'dot segments'],
    ['/api/accounts/./a', 'dot segments'],
    ['/api/accounts/a%2Fb', 'encoded slashes'],
    ['/api/accounts/a%5cb', 'encoded slashes'],
    ['/api/accounts/a%00', 'NUL'],
    ['/api//accounts', 'empty path segments'],
    ['http://evil.example/api/accounts', 'must be a path'],
    ['*', 'must be a path'],
  ])('refuses %s (%s)', (url, reason) => {
    const parsed = parseTarget(url);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });
});

describe('requestIdOf', () => {
  it('keeps a sane X-Request-Id and replaces anything else', () => {
    expect(requestIdOf({ 'x-request-id': 'req-42.a:b' })).toBe('req-42.a:b');
    for (const bad of ['', 'has space', 'x'.repeat(129), 'quote"d']) {
      expect(requestIdOf({ 'x-request-id': bad })).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(requestIdOf({})).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('clientAddressOf', () => {
  const req = request({ 'x-forwarded-for': 'spoofed, 203.0.113.7, 10.1.0.5' }, '127.0.0.1');

  it('is the socket peer when no proxy is trusted', () => {
    expect(clientAddressOf(req, 0)).toBe('127.0.0.1');
  });

  it('counts trusted proxies from the right, never trusting what the client put in front', () => {
    expect(clientAddressOf(req, 1)).toBe('10.1.0.5');
    expect(clientAddressOf(req, 2)).toBe('203.0.113.7');
    expect(clientAddressOf(request({}, '127.0.0.1'), 2)).toBe('127.0.0.1');
  });
});

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop and Connection-listed fields, Host and a client-made principal', () => {
    const out = upstreamRequestHeaders(
      request({
        host: 'api.example',
        connection: 'keep-alive, x-drop-me',
        'keep-alive': 'timeout=5',
        'x-drop-me': '1',
        'transfer-encoding': 'chunked',
        'x-sluice-principal': 'admin',
        accept: 'text/event-stream',
        'x-forwarded-for': '198.51.100.1',
      }),
      {
        requestId: 'r1',
        traceparent: '00-t-s-01',
        clientAddress: '198.51.100.1',
        principal: undefined,
        forwardAuthorization: true,
      },
    );
    expect(out).toEqual({
      accept: 'text/event-stream',
      'x-forwarded-for': '198.51.100.1, 10.0.0.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'api.example',
      'x-request-id': 'r1',
      traceparent: '00-t-s-01',
    });
  });

  it('names an authenticated principal', () => {
    const out = upstreamRequestHeaders(request({}), {
      requestId: 'r',
      traceparent: 't',
      clientAddress: 'c',
      principal: 'ops',
      forwardAuthorization: false,
    });
    expect(out['x-sluice-principal']).toBe('ops');
  });

  it('drops the client’s Authorization once an auth hook consumed it, and only then', () => {
    const options = { requestId: 'r', traceparent: 't', clientAddress: 'c', principal: 'ada' };
    const req = request({ authorization: 'Bearer qk_ada_secret', cookie: 'c=1' });
    const consumed = upstreamRequestHeaders(req, { ...options, forwardAuthorization: false });
    expect(consumed.authorization).toBeUndefined();
    expect(consumed['x-sluice-principal']).toBe('ada');
    expect(upstreamRequestHeaders(req, { ...options, forwardAuthorization: true }).authorization).toBe(
      'Bearer qk_ada_secret',
    );
  });
});

describe('clientResponseHeaders', () => {
  it('passes end-to-end fields and adds the request id', () => {
    expect(
      clientResponseHeaders(
        {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'close',
          'transfer-encoding': 'chunked',
        },
        'r9',
      ),
    ).toEqual({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'r9' });
  });
});

describe('upstreamPath', () => {
  it.each([
    ['/api/accounts', undefined, '/api/accounts/a1', '/api/accounts/a1'],
    ['/api/accounts', '/accounts', '/api/accounts', '/accounts'],
    ['/api/accounts', '/accounts', '/api/accounts/a1', '/accounts/a1'],
    ['/api/accounts', '/', '/api/accounts/a1', '/a1'],
    ['/api/accounts', '/', '/api/accounts', '/'],
    ['/api/accounts', '', '/api/accounts', '/'],
  ])('prefix %s rewritten to %s: %s → %s', (prefix, rewrite, path, expected) => {
    expect(upstreamPath(prefix, rewrite, path)).toBe(expected);
  });
});

describe('Idempotency-Key', () => {
  it('takes a bare token or an RFC 8941 string, refuses the unusable', () => {
    expect(idempotencyKey(undefined)).toBeUndefined();
    expect(idempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    expect(idempotencyKey('"abc"')).toBe('abc');
    expect(idempotencyKey('')).toBeNull();
    expect(idempotencyKey('x'.repeat(256))).toBeNull();
    expect(idempotencyKey('tab\there')).toBeNull();
  });

  it('derives one event id per caller and key', () => {
    const a = derivedId({ id: 'alice' }, 'k1');
    expect(derivedId({ id: 'alice' }, 'k1')).toBe(a);
    expect(derivedId({ id: 'bob' }, 'k1')).not.toBe(a);
    expect(derivedId({ id: 'alice' }, 'k2')).not.toBe(a);
    expect(a).toMatch(/^ik-[A-Za-z0-9_-]{32}$/);
  });
});
