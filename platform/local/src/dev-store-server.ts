/**
 * The dev store: ONE in-memory DocumentStore hosted by the local platform, so under `make dev` without
 * MONGODB_URL every function instance shares state and keeps it across scale-to-zero (the banking
 * pipeline's accounts, idempotency records). Development only, like Knative's InMemoryChannel: loopback
 * only, gone when `make dev` stops. Every request carries the per-run token `make dev` generates
 * (`Authorization: Bearer`, 401 otherwise) and operations are `application/json` POSTs (415 otherwise),
 * so another local user's process, or a browser page posting a form to 127.0.0.1, cannot read or change
 * it. Clients use HttpDocumentStore; the wire format is in functions/runtime/src/adapters/http/dev-store-wire.ts.
 *
 * Atomicity: Node runs one request's store call at a time, and MemoryDocumentStore reads and writes a
 * document without an await in between, so each op is atomic as on MongoDB. The body is read in full
 * before the op starts; keep it that way (no awaits between read and write inside an op).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type {
  BulkWriteOperation,
  BulkWriteOptions,
  Collection,
  DocumentStore,
  Filter,
  FindOptions,
  IndexSpec,
  Update,
} from '../../../functions/runtime/src/index.ts';
import {
  DEV_STORE_OPS,
  type DevStoreArgs,
  type DevStoreErrorBody,
  type DevStoreOp,
  DUPLICATE_KEY_CODE,
  DuplicateKeyError,
  decodeDevStore,
  encodeDevStore,
  MemoryDocumentStore,
  SERVER_KEEP_ALIVE_MS,
} from '../../../functions/runtime/src/index.ts';
import { listenOnLoopback } from './listen-loopback.ts';

export interface DevStoreServerOptions {
  /** The per-run bearer token every request must carry. @default a new random one (see `token`) */
  readonly token?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** Largest request body; MongoDB's document limit. @default 16 MiB */
  readonly maxBodyBytes?: number;
  /** @default a new MemoryDocumentStore */
  readonly store?: DocumentStore;
}

export interface DevStoreServer {
  /** `http://127.0.0.1:<port>`, for SLUICE_DEV_STORE_URL. */
  readonly url: string;
  /** For SLUICE_DEV_STORE_TOKEN; never log it. */
  readonly token: string;
  readonly store: DocumentStore;
  close(): Promise<void>;
}

type Handler = (c: Collection, a: DevStoreArgs) => Promise<unknown>;

const OPS: Readonly<Record<DevStoreOp, Handler>> = {
  [DEV_STORE_OPS.findOne]: (c, a) => c.findOne(obj(a.filter, 'filter')),
  [DEV_STORE_OPS.find]: (c, a) => c.find(obj(a.filter, 'filter'), opt(a.options) as FindOptions),
  [DEV_STORE_OPS.insertOne]: (c, a) => c.insertOne(obj(a.doc, 'doc')),
  [DEV_STORE_OPS.updateOne]: (c, a) =>
    c.updateOne(obj(a.filter, 'filter'), obj(a.update, 'update') as Update, opt(a.options)),
  [DEV_STORE_OPS.findOneAndUpdate]: (c, a) =>
    c.findOneAndUpdate(obj(a.filter, 'filter'), obj(a.update, 'update') as Update, opt(a.options)),
  [DEV_STORE_OPS.deleteOne]: (c, a) => c.deleteOne(obj(a.filter, 'filter')),
  [DEV_STORE_OPS.deleteMany]: (c, a) => c.deleteMany(obj(a.filter, 'filter')),
  [DEV_STORE_OPS.countDocuments]: (c, a) => c.countDocuments(obj(a.filter, 'filter')),
  [DEV_STORE_OPS.createIndex]: (c, a) => c.createIndex(obj(a.spec, 'spec') as unknown as IndexSpec),
  [DEV_STORE_OPS.bulkWrite]: (c, a) =>
    c.bulkWrite(bulkOperations(a.operations), opt(a.options) as BulkWriteOptions),
};

/** bulkWrite's operations, each checked for its shape; the store checks the documents and updates. */
function bulkOperations(value: unknown): BulkWriteOperation[] {
  if (!Array.isArray(value)) throw new TypeError('operations must be an array');
  return value.map((op: unknown, i) => {
    const o = obj(op, `operations[${i}]`);
    if (o.insertOne !== undefined) {
      return { insertOne: { document: obj(obj(o.insertOne, 'insertOne').document, 'insertOne.document') } };
    }
    const u = obj(o.updateOne, `operations[${i}]: insertOne or updateOne`);
    return {
      updateOne: {
        filter: obj(u.filter, 'updateOne.filter'),
        update: obj(u.update, 'updateOne.update') as Update,
        upsert: u.upsert === true,
      },
    };
  });
}

function obj(value: unknown, what: string): Filter {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object`);
  }
  return value as Filter;
}

function opt(value: unknown): { upsert?: boolean } {
  return value === undefined ? {} : (obj(value, 'options') as { upsert?: boolean });
}

class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

/** A fresh per-run token: 256 bits from the CSPRNG, URL-safe. */
export function newDevStoreToken(): string {
  return randomBytes(32).toString('base64url');
}

// Hashing both sides gives equal lengths, so the comparison is constant-time whatever is sent.
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export async function startDevStoreServer(options: DevStoreServerOptions = {}): Promise<DevStoreServer> {
  const store = options.store ?? new MemoryDocumentStore();
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const token = options.token ?? newDevStoreToken();
  const expected = digest(`Bearer ${token}`);
  const authorized = (req: IncomingMessage): boolean =>
    timingSafeEqual(digest(req.headers.authorization ?? ''), expected);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!authorized(req)) {
      req.resume();
      res.setHeader('www-authenticate', 'Bearer realm="sluice-dev-store"');
      return answerError(
        res,
        401,
        'Unauthorized',
        'missing or wrong dev store token (SLUICE_DEV_STORE_TOKEN)',
      );
    }
    if (path === '/v1/ping') {
      if (req.method !== 'GET') return answerError(res, 405, 'MethodNotAllowed', 'use GET');
      await store.ping();
      res.writeHead(204).end();
      return;
    }
    const [, name = '', op = ''] = /^\/v1\/([^/]+)\/([A-Za-z]+)$/.exec(path) ?? [];
    // hasOwn: `toString` and friends are not operations.
    const handler = Object.hasOwn(OPS, op) ? OPS[op as DevStoreOp] : undefined;
    if (handler === undefined) {
      return answerError(res, 404, 'NotFound', `no such operation: ${req.method} ${path}`);
    }
    if (req.method !== 'POST') return answerError(res, 405, 'MethodNotAllowed', 'use POST');
    if (!isJson(req.headers['content-type'])) {
      req.resume();
      return answerError(res, 415, 'UnsupportedMediaType', 'operations are application/json');
    }
    let result: unknown;
    try {
      const collection = decodeURIComponent(name);
      if (collection.includes('$') || collection.includes('\0')) {
        throw new TypeError(`invalid collection name "${collection}"`);
      }
      const args = obj(decodeDevStore(await readBody(req, maxBodyBytes)), 'body') as DevStoreArgs;
      result = await handler(store.collection(collection), args);
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        return answerError(res, 409, err.name, err.message, DUPLICATE_KEY_CODE);
      }
      if (err instanceof BodyTooLargeError) {
        res.setHeader('connection', 'close'); // the rest of the body is not read
        return answerError(res, 413, err.name, err.message);
      }
      if (err instanceof TypeError || err instanceof SyntaxError || err instanceof URIError) {
        return answerError(res, 400, 'TypeError', err.message);
      }
      throw err;
    }
    const body = encodeDevStore({ result });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) answerError(res, 500, (err as Error).name ?? 'Error', String(err));
      else res.destroy();
    });
  });
  // Longer than undici's idle keep-alive, so a client rarely reuses a socket the server is closing.
  server.keepAliveTimeout = SERVER_KEEP_ALIVE_MS;
  // Loopback only: its one guard is a per-run bearer token, and no one off this machine needs it.
  const port = await listenOnLoopback(server, options.port);
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    store,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
    },
  };
}

function answerError(
  res: ServerResponse,
  status: number,
  error: string,
  message: string,
  code?: number,
): void {
  const answer: DevStoreErrorBody = code === undefined ? { error, message } : { error, message, code };
  const body = JSON.stringify(answer);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(`request body above ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
