/**
 * The running `make dev`'s control API, for `make update` / `make rollback` (revisions-cli.ts): what `kubectl
 * patch ksvc` is on the cluster. Loopback only, every request with the per-run bearer token `make dev` writes
 * to its owner-only endpoints file, bodies `application/json` only (a browser page cannot post a form here);
 * answers JSON, errors problem+json (RFC 9457).
 *
 *   GET  /v1/services/{name}/revisions   the Service's revisions and the routed one
 *   POST /v1/services/{name}/revisions   a new revision from the working tree, all traffic to it (201)
 *   PUT  /v1/services/{name}/traffic     {"revision": "<name>"} or {} (the one before the routed): all traffic there
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Logger, PROBLEM_TYPE_BASE } from '../../../functions/runtime/src/index.ts';
import { listenOnLoopback } from './listen-loopback.ts';
import { describeRevision, type LocalRevisions, RevisionError } from './revisions.ts';

export interface ControlServer {
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

export interface ControlServerOptions {
  readonly revisions: LocalRevisions;
  readonly log: Logger;
  /** @default a fresh 256-bit token */
  readonly token?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
}

const MAX_BODY = 4096;
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  const body = JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${title.toLowerCase().replaceAll(' ', '-')}`,
    title,
    status,
    detail,
  });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new RevisionError(400, `the body is over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RevisionError(400, 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RevisionError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const token = options.token ?? randomBytes(32).toString('base64url');
  const expected = digest(`Bearer ${token}`);
  const { revisions, log } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
      req.resume();
      res.setHeader('www-authenticate', 'Bearer realm="sluice-dev-control"');
      return problem(res, 401, 'Unauthorized', 'missing or wrong control token (.tmp/dev/endpoints.json)');
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const [, name = '', what = ''] = /^\/v1\/services\/([^/]+)\/(revisions|traffic)$/.exec(path) ?? [];
    if (name === '' || !NAME.test(name)) {
      req.resume();
      return problem(res, 404, 'Not Found', `no such resource: ${req.method} ${path}`);
    }
    const allowed = what === 'revisions' ? ['GET', 'POST'] : ['PUT'];
    if (!allowed.includes(req.method ?? '')) {
      req.resume();
      res.setHeader('allow', allowed.join(', '));
      return problem(res, 405, 'Method Not Allowed', `use ${allowed.join(' or ')}`);
    }
    if (
      req.method !== 'GET' &&
      (req.headers['content-type'] ?? '').split(';')[0]?.trim() !== 'application/json'
    ) {
      req.resume();
      return problem(res, 415, 'Unsupported Media Type', 'requests carry application/json');
    }
    try {
      if (req.method === 'GET') {
        req.resume();
        const { routed, revisions: list } = revisions.list(name);
        return json(res, 200, {
          service: name,
          routed,
          revisions: list.map((r) => describeRevision(r, routed)),
        });
      }
      const body = await readJson(req);
      if (what === 'revisions') {
        const { revision, previous } = await revisions.update(name);
        return json(res, 201, { service: name, routed: revision.name, previous });
      }
      const wanted = body.revision;
      if (wanted !== undefined && (typeof wanted !== 'string' || !NAME.test(wanted)))
        throw new RevisionError(400, 'revision must be a revision name, e.g. window-aggregator-00001');
      const { revision, previous } = await revisions.rollback(name, wanted);
      return json(res, 200, { service: name, routed: revision.name, previous });
    } catch (err) {
      if (err instanceof RevisionError)
        return problem(
          res,
          err.status,
          err.status === 404 ? 'Not Found' : err.status === 409 ? 'Conflict' : 'Bad Request',
          err.message,
        );
      throw err;
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error(`control API: ${String(err)}`, { 'event.action': 'control-failed' });
      if (!res.headersSent) problem(res, 500, 'Internal Server Error', String(err));
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, options.port);
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
