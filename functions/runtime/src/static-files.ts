/**
 * Serves a built page folder (platform/build/pages.ts writes it: `index.html`, `main.js`, `main.css`, `assets/…`)
 * over node:http, for a plain HTTP function (`serve` in handler.ts, e.g. fleet-web) and for `make dev`'s console.
 *
 * ```ts
 * import { join } from 'node:path';
 * import { loadStaticFiles } from '../../runtime/src/index.ts';
 * export async function serve() {
 *   const site = await loadStaticFiles(join(import.meta.dirname, 'static'), { prefix: '/fleet/' });
 *   return site.handle; // GET/HEAD /fleet/ → index.html, /fleet/main.js …; 404 problem+json for the rest
 * }
 * ```
 *
 * The folder is read once, at load, into memory (a page is a few hundred KiB; MAX_STATIC_BYTES bounds it): a
 * request is a map lookup by path, so no request can name a file outside the folder (`..`, encoded or not,
 * symlinks, NUL) — only the files listed at load exist. Answers carry a strong ETag and `cache-control: no-cache`
 * (the names are fixed, so the browser revalidates and gets 304 until a rebuild), gzip when the client takes it and
 * it helps, `x-content-type-options: nosniff`, and HTML a Content-Security-Policy that allows this origin only
 * (no CDN: a page must work offline). Hand-written rather than `serve-static`/`send`: those stream from disk per
 * request and resolve paths against the file system, which is the traversal surface this avoids.
 */
import { hash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { PROBLEM_CONTENT_TYPE } from './cloudevent/problem.ts';

const gzip = promisify(gzipCallback);

/** Content types by file extension; anything else is served as application/octet-stream. */
export const STATIC_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.geojson': 'application/geo+json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** What a page may load: its own origin only (scripts, styles, fetch/EventSource), images also as data: URLs. */
export const STATIC_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** A built page larger than this is refused at load (it would sit in memory). */
export const MAX_STATIC_BYTES = 32 * 1024 * 1024;

export interface StaticFilesOptions {
  /**
   * The URL path the folder is served at, with a trailing slash (`/fleet/`); a request for it without the slash
   * is redirected (308) so the page's relative URLs resolve, any other path outside it is 404.
   * @default '/'
   */
  readonly prefix?: string;
  /** The Content-Security-Policy of HTML answers. @default STATIC_CONTENT_SECURITY_POLICY */
  readonly contentSecurityPolicy?: string;
}

export interface StaticFiles {
  /** Answers GET/HEAD for the folder's files: 200, 304, 308 (prefix without slash), 404, 405. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** The URL paths served (`/fleet/`, `/fleet/main.js` …); a directory's index.html also as `<dir>/`. */
  readonly paths: ReadonlySet<string>;
}

export class StaticFilesError extends Error {
  override name = 'StaticFilesError';
}

interface Entry {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly type: string;
  readonly etag: string;
  readonly html: boolean;
}

async function listFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    throw new StaticFilesError(
      `no built page at ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): build it with \`make pages\``,
    );
  }
  // Regular files only: a symlink is neither followed nor served.
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const COMPRESSIBLE = /^(text\/|application\/(json|geo\+json|javascript)|image\/svg)/;

/** Reads `dir` into memory and returns the handler that serves it (see the module comment). */
export async function loadStaticFiles(dir: string, options: StaticFilesOptions = {}): Promise<StaticFiles> {
  const prefix = options.prefix ?? '/';
  if (!prefix.startsWith('/') || !prefix.endsWith('/'))
    throw new StaticFilesError(`prefix ${prefix} must start and end with "/"`);
  const csp = options.contentSecurityPolicy ?? STATIC_CONTENT_SECURITY_POLICY;
  const files = await listFiles(dir);
  if (!(await stat(join(dir, 'index.html')).catch(() => undefined))?.isFile())
    throw new StaticFilesError(`${dir} has no index.html: build the page with \`make pages\``);
  const entries = new Map<string, Entry>();
  let total = 0;
  for (const file of files) {
    const body = await readFile(file);
    total += body.length;
    if (total > MAX_STATIC_BYTES)
      throw new StaticFilesError(`${dir} holds more than ${MAX_STATIC_BYTES} bytes: not a page`);
    const ext = extname(file).toLowerCase();
    const type = STATIC_CONTENT_TYPES[ext] ?? 'application/octet-stream';
    let gzipped: Buffer | undefined;
    if (COMPRESSIBLE.test(type) && body.length > 1024) {
      const packed = await gzip(body);
      if (packed.length < body.length * 0.9) gzipped = packed;
    }
    const entry: Entry = {
      body,
      gzipped,
      type,
      // node:crypto, not lazy-crypto.ts: whole files at start-up, where the native hash is ~7× faster (1.5 MB: 0.9 vs 6.3 ms).
      etag: `"${hash('sha256', body, 'base64url').slice(0, 27)}"`,
      html: ext === '.html',
    };
    const path = prefix + relative(dir, file).split(sep).join('/');
    entries.set(path, entry);
    if (path.endsWith('/index.html')) entries.set(path.slice(0, -'index.html'.length), entry);
  }
  const bare = prefix.length > 1 ? prefix.slice(0, -1) : undefined;

  const problem = (res: ServerResponse, status: number, title: string, detail: string): void => {
    const text = JSON.stringify({ type: 'about:blank', title, status, detail });
    res.writeHead(status, {
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': Buffer.byteLength(text),
      'x-content-type-options': 'nosniff',
    });
    res.end(text);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      problem(res, 405, 'Method Not Allowed', 'a page is read with GET or HEAD');
      return;
    }
    if (path === bare) {
      res.writeHead(308, { location: prefix + (query === -1 ? '' : url.slice(query)), 'content-length': 0 });
      res.end();
      return;
    }
    // Only the paths listed at load exist; %-escapes are not decoded (built file names need none).
    const entry = entries.get(path);
    if (entry === undefined) {
      problem(res, 404, 'Not Found', `no file at ${path.slice(0, 200)}`);
      return;
    }
    const headers: Record<string, string | number> = {
      'content-type': entry.type,
      etag: entry.etag,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      vary: 'accept-encoding',
    };
    if (entry.html) headers['content-security-policy'] = csp;
    const match = req.headers['if-none-match'];
    if (match?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === entry.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const useGzip = entry.gzipped !== undefined && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    const body = useGzip && entry.gzipped !== undefined ? entry.gzipped : entry.body;
    if (useGzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  return { handle, paths: new Set(entries.keys()) };
}
