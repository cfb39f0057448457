import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStaticFiles, STATIC_CONTENT_SECURITY_POLICY, StaticFilesError } from './static-files.ts';

let dir: string;
let outside: string;
let server: Server;
let port: number;

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A raw request: the path goes on the wire as written (fetch would normalise `..` away). */
const send = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });

const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;

beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), 'sluice-static-'));
  dir = join(base, 'static');
  outside = join(base, 'secret.txt');
  await mkdir(join(dir, 'assets', 'shapes'), { recursive: true });
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title><script src="main.js"></script>');
  await writeFile(join(dir, 'main.js'), SCRIPT);
  await writeFile(join(dir, 'main.css'), 'body{margin:0}');
  await writeFile(
    join(dir, 'assets', 'shapes', 'city.geojson'),
    '{"type":"FeatureCollection","features":[]}',
  );
  await writeFile(join(dir, 'assets', 'shapes', 'index.html'), '<p>shapes</p>');
  await writeFile(outside, 'do not serve');
  await symlink(outside, join(dir, 'link.txt'));
  const site = await loadStaticFiles(dir, { prefix: '/fleet/' });
  server = createServer(site.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(join(dir, '..'), { recursive: true, force: true });
});

describe('loadStaticFiles', () => {
  it('serves index.html at the prefix with the page CSP, and each file with its content type', async () => {
    const page = await send('/fleet/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(STATIC_CONTENT_SECURITY_POLICY);
    expect(page.body.toString()).toContain('<script src="main.js">');
    expect((await send('/fleet/index.html')).body).toEqual(page.body);
    const css = await send('/fleet/main.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['content-security-policy']).toBeUndefined();
    expect(css.headers['x-content-type-options']).toBe('nosniff');
    const shape = await send('/fleet/assets/shapes/city.geojson');
    expect(shape.headers['content-type']).toBe('application/geo+json');
    expect((await send('/fleet/assets/shapes/')).body.toString()).toBe('<p>shapes</p>');
  });

  it('redirects the prefix without its slash, keeping the query, so relative URLs resolve', async () => {
    const r = await send('/fleet?vehicle=v-1');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('/fleet/?vehicle=v-1');
  });

  it('answers 304 to a matching If-None-Match and revalidates every time (no-cache)', async () => {
    const first = await send('/fleet/main.css');
    expect(first.headers['cache-control']).toBe('no-cache');
    const etag = first.headers.etag ?? '';
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await send('/fleet/main.css', { 'if-none-match': `W/"other", ${etag}` });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect((await send('/fleet/main.css', { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('gzips a text file only for a client that takes gzip', async () => {
    const zipped = await send('/fleet/main.js', { 'accept-encoding': 'br, gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(SCRIPT.length);
    expect(gunzipSync(zipped.body).toString()).toBe(SCRIPT);
    const plain = await send('/fleet/main.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);
  });

  it.each([
    '/fleet/../secret.txt',
    '/fleet/%2e%2e/secret.txt',
    '/fleet/..%2fsecret.txt',
    '/fleet/assets/../../secret.txt',
    '/fleet/link.txt',
    '/fleet/main.js%00.html',
    '/fleet//etc/passwd',
    '/secret.txt',
    '/main.js',
    '/fleet/assets/',
  ])('answers 404 problem+json for %s (only the files listed at load exist)', async (path) => {
    const r = await send(path);
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.body.toString()).not.toContain('do not serve');
    expect(JSON.parse(r.body.toString())).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('answers HEAD without a body and other methods with 405 and Allow', async () => {
    const head = await send('/fleet/main.js', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(SCRIPT.length);
    expect(head.body.length).toBe(0);
    const post = await send('/fleet/main.js', {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('refuses a folder that is not a built page, and a prefix without slashes, saying why', async () => {
    await expect(loadStaticFiles(join(dir, 'missing'))).rejects.toThrow(/no built page at .*make pages/);
    await expect(loadStaticFiles(join(dir, 'assets'))).rejects.toThrow(/has no index\.html/);
    await expect(loadStaticFiles(dir, { prefix: 'fleet' })).rejects.toBeInstanceOf(StaticFilesError);
  });
});
