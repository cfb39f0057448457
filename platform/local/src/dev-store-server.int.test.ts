import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevStoreServer, startDevStoreServer } from './dev-store-server.ts';

describe('startDevStoreServer', () => {
  let server: DevStoreServer;
  const auth = () => ({ authorization: `Bearer ${server.token}` });
  const post = (path: string, body: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      body,
      headers: { ...auth(), 'content-type': 'application/json' },
    });

  beforeAll(async () => {
    server = await startDevStoreServer({ maxBodyBytes: 1024 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on loopback only, on a free port', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers 204 to a ping', async () => {
    expect((await fetch(`${server.url}/v1/ping`, { headers: auth() })).status).toBe(204);
  });

  it('answers 401 without the per-run token, or with another one', async () => {
    const none = await fetch(`${server.url}/v1/ping`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await fetch(`${server.url}/v1/c0/findOne`, {
      method: 'POST',
      body: '{"filter":{}}',
      headers: { authorization: `Bearer ${server.token}x`, 'content-type': 'application/json' },
    });
    expect(wrong.status).toBe(401);
  });

  it('answers 415 to an operation that is not application/json (a form a browser page could post)', async () => {
    const res = await fetch(`${server.url}/v1/c0/insertOne`, {
      method: 'POST',
      body: 'doc=1',
      headers: { ...auth(), 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(await server.store.collection('c0').countDocuments({})).toBe(0);
  });

  it('generates a long random token per server', async () => {
    const other = await startDevStoreServer();
    try {
      expect(other.token).not.toBe(server.token);
      expect(Buffer.from(other.token, 'base64url')).toHaveLength(32);
    } finally {
      await other.close();
    }
  });

  it('answers 200 with the result of an operation', async () => {
    expect((await post('/v1/c1/insertOne', '{"doc":{"_id":"a","n":1}}')).status).toBe(200);
    const res = await post('/v1/c1/findOne', '{"filter":{"_id":"a"}}');
    expect(await res.json()).toEqual({ result: { _id: 'a', n: 1 } });
  });

  it('answers 409 with code 11000 for a duplicate key', async () => {
    await post('/v1/c2/insertOne', '{"doc":{"_id":"a"}}');
    const res = await post('/v1/c2/insertOne', '{"doc":{"_id":"a"}}');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'DuplicateKeyError', code: 11000 });
  });

  it('answers 400 for unsafe keys, malformed JSON and bad collection names', async () => {
    const unsafe = await post('/v1/c3/insertOne', '{"doc":{"_id":"a","$where":"1"}}');
    expect(unsafe.status).toBe(400);
    expect(((await unsafe.json()) as { message: string }).message).toMatch(/unsafe key/);
    expect((await post('/v1/c3/insertOne', '{"doc":')).status).toBe(400);
    expect((await post('/v1/%24cmd/findOne', '{"filter":{}}')).status).toBe(400);
  });

  it('answers 404 for unknown operations, including inherited names', async () => {
    expect((await post('/v1/c4/drop', '{}')).status).toBe(404);
    expect((await post('/v1/c4/toString', '{}')).status).toBe(404);
  });

  it('answers 413 for a body above the limit', async () => {
    const res = await post('/v1/c5/insertOne', JSON.stringify({ doc: { _id: 'a', pad: 'x'.repeat(2048) } }));
    expect(res.status).toBe(413);
  });
});
