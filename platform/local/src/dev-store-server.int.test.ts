import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevStoreServer, startDevStoreServer } from './dev-store-server.ts';

describe('startDevStoreServer', () => {
  let server: DevStoreServer;
  const post = (path: string, body: string) =>
    fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

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
    expect((await fetch(`${server.url}/v1/ping`)).status).toBe(204);
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
