/**
 * `make dev`'s event console on loopback: the page (platform/local/console/page/, built into static/) and the JSON +
 * server-sent-events API it reads. Private by default: every request needs the per-run token `make dev` writes only
 * to the owner-only `.tmp/dev/endpoints.json` and prints in its start-up view, as a bearer token (CLIs) or the
 * cookie the printed URL sets (`/console/?token=…` → HttpOnly, SameSite=Strict cookie, then the URL without it).
 * Browsers send a 127.0.0.1 cookie to every port of that host (the gateway's too), so the cookie is scoped to
 * `Path=/console/` and the page reads the API under it (`/console/v1/…`): no other loopback service receives it.
 * A POST must also come from the console's own origin (Origin header), and the Host must be this loopback address,
 * so another site open in the same browser can neither read nor replay (CSRF, DNS rebinding).
 *
 *   GET  /console/                        the page
 *   GET  /v1/stream                       server-sent events: every record from now on (`id` = seq; resumes after
 *                                         `Last-Event-ID` or `?after=<seq>` with what the ring still holds)
 *   GET  /v1/records?after=<seq>          the records held, oldest first
 *   GET  /v1/events?type=&subject=&id=    accepted events, newest first (substring filters), `limit` ≤ 1000
 *   GET  /v1/lineage/<event id>           its path (lineage.ts); `?root=1` from the first event of its flow
 *   GET  /v1/trail?event=<id>             the delivery records of one event (`make try`); `correlation=<id>`: a flow
 *   GET  /v1/functions | /v1/triggers | /v1/dead-letters | /v1/stats
 *   POST /v1/dead-letters/replay          {"ids": ["<dead letter id>", …]}: replays them (eventing/src/dead-letters.ts)
 *   POST /v1/triggers/<name>/pause|resume when the broker can pause a Trigger
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, type StaticFiles } from '../../../../functions/runtime/src/index.ts';
import { listenOnLoopback } from '../listen-loopback.ts';
import { buildLineage, rootOf } from './lineage.ts';
import type { EventRecorder } from './recorder.ts';
import type { ConsoleRecord, DeadLetterView, FunctionView, ReplayOutcome, TriggerView } from './records.ts';

export const CONSOLE_PATH = '/console/';
/** The cookie's name is this plus the console's port: two make devs on one machine keep their own. */
export const CONSOLE_COOKIE = 'sluice_console_';
/** A page that reads slower than this much buffered output is cut off; it reconnects with Last-Event-ID. */
export const MAX_STREAM_BUFFER = 1024 * 1024;
const HEARTBEAT_MS = 15_000;
const MAX_BODY = 64 * 1024;

/** What the console shows besides the recording; each is optional (the view says it is unavailable). */
export interface ConsoleSources {
  functions?(): readonly FunctionView[];
  triggers?(): Promise<readonly TriggerView[]>;
  deadLetters?(): Promise<readonly DeadLetterView[]>;
  replay?(ids: readonly string[]): Promise<readonly ReplayOutcome[]>;
  /** Pauses (true) or resumes (false) a Trigger's dispatcher; resolves false when there is no such Trigger. */
  pause?(trigger: string, paused: boolean): Promise<boolean>;
}

export interface ConsoleServerOptions {
  readonly recorder: EventRecorder;
  readonly sources?: ConsoleSources;
  /** The built page; undefined: the page answers 503 with how to build it. */
  readonly page?: StaticFiles | undefined;
  /** Why there is no page (shown in that 503). */
  readonly pageProblem?: string;
  /** @default 0: a free port */
  readonly port?: number;
}

export interface ConsoleServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Never logged; in endpoints.json and the printed console URL. */
  readonly token: string;
  /** The page's URL with the token, as `make dev` prints it. */
  readonly pageUrl: string;
  close(): Promise<void>;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

function cookieToken(header: string | undefined, cookie: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === cookie) return value.join('=');
  }
  return undefined;
}

const contains = (value: string | undefined, needle: string | null): boolean =>
  needle === null || needle === '' || (value ?? '').toLowerCase().includes(needle.toLowerCase());

function sseFrame(record: ConsoleRecord): string {
  return `id: ${record.seq}\nevent: ${record.kind}\ndata: ${JSON.stringify(record)}\n\n`;
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { recorder } = options;
  const sources = options.sources ?? {};
  const token = randomBytes(32).toString('base64url');
  const expectedBearer = digest(`Bearer ${token}`);
  const expectedToken = digest(token);
  const streams = new Set<ServerResponse>();
  let origins = new Set<string>();
  let hosts = new Set<string>();
  let cookieName = CONSOLE_COOKIE;

  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(text);
  };
  const problem = (res: ServerResponse, status: number, title: string, detail: string): void => {
    const text = JSON.stringify({ type: 'about:blank', title, status, detail });
    res.writeHead(status, {
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(text);
  };

  const authorized = (req: IncomingMessage): 'bearer' | 'cookie' | undefined => {
    if (timingSafeEqual(digest(req.headers.authorization ?? ''), expectedBearer)) return 'bearer';
    const cookie = cookieToken(req.headers.cookie, cookieName);
    if (cookie !== undefined && timingSafeEqual(digest(cookie), expectedToken)) return 'cookie';
    return undefined;
  };

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new RangeError(`the body is larger than ${MAX_BODY} bytes`);
      chunks.push(chunk as Buffer);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  };

  const stream = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const last = Number(req.headers['last-event-id'] ?? url.searchParams.get('after') ?? 'NaN');
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The page reconnects after 2 s when the stream ends (make dev restarted, or it read too slowly).
    res.write('retry: 2000\n\n');
    // Lets the page notice a restarted make dev (its numbering behind the page's) and start over.
    res.write(`event: hello\ndata: ${JSON.stringify({ total: recorder.stats().total })}\n\n`);
    if (Number.isInteger(last)) for (const r of recorder.records(last)) res.write(sseFrame(r));
    streams.add(res);
    // One write per batch of records (the recorder batches them), not one per record.
    const unsubscribe = recorder.subscribe((records) => {
      if (res.writableLength > MAX_STREAM_BUFFER) {
        res.end();
        return;
      }
      let frames = '';
      for (const r of records) frames += sseFrame(r);
      res.write(frames);
    });
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    });
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/v1/stream' && get) return stream(req, res, url);
    if (path === '/v1/records' && get)
      return answer(res, 200, { records: recorder.records(Number(url.searchParams.get('after') ?? 0) || 0) });
    if (path === '/v1/stats' && get) return answer(res, 200, recorder.stats());
    if (path === '/v1/trail' && get) {
      const event = url.searchParams.get('event') ?? undefined;
      const correlation = url.searchParams.get('correlation') ?? undefined;
      if (event === undefined && correlation === undefined)
        return problem(res, 400, 'Bad Request', 'name an event (?event=<id>) or a flow (?correlation=<id>)');
      return answer(res, 200, {
        records: recorder.trail({
          ...(event === undefined ? {} : { event }),
          ...(correlation === undefined ? {} : { correlation }),
        }),
      });
    }
    if (path === '/v1/events' && get) {
      const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 200) || 200, 1), 1000);
      const type = url.searchParams.get('type');
      const subject = url.searchParams.get('subject');
      const id = url.searchParams.get('id');
      const events = recorder
        .records()
        .filter(
          (r) =>
            r.kind === 'accepted' &&
            contains(r.eventType, type) &&
            contains(r.subject, subject) &&
            contains(r.eventId, id),
        )
        .reverse()
        .slice(0, limit);
      return answer(res, 200, { events });
    }
    if (path.startsWith('/v1/lineage/') && get) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/v1/lineage/'.length));
      } catch {
        return problem(res, 400, 'Bad Request', 'the event id is not valid percent-encoding');
      }
      const records = recorder.records();
      const start = url.searchParams.get('root') === '1' ? rootOf(records, id) : id;
      const root = buildLineage(records, start);
      if (root === undefined)
        return problem(res, 404, 'Not Found', `the console has no record of event ${id.slice(0, 200)}`);
      return answer(res, 200, { root });
    }
    if (path === '/v1/functions' && get) return answer(res, 200, { functions: sources.functions?.() ?? [] });
    if (path === '/v1/triggers' && get)
      return answer(res, 200, { triggers: (await sources.triggers?.()) ?? [] });
    if (path === '/v1/dead-letters' && get) {
      if (sources.deadLetters === undefined)
        return problem(res, 503, 'Service Unavailable', 'no dead-letter store is known to this platform');
      return answer(res, 200, { deadLetters: await sources.deadLetters() });
    }
    if (method !== 'POST') return problem(res, 404, 'Not Found', `no ${method} ${path.slice(0, 200)}`);
    if (path === '/v1/dead-letters/replay') {
      if (sources.replay === undefined)
        return problem(res, 503, 'Service Unavailable', 'no dead-letter store is known to this platform');
      const body = (await readJson(req)) as { ids?: unknown } | null;
      const ids = body?.ids;
      if (
        !Array.isArray(ids) ||
        ids.length === 0 ||
        ids.length > 1000 ||
        !ids.every((i) => typeof i === 'string')
      )
        return problem(res, 400, 'Bad Request', 'send {"ids": ["<dead letter id>", …]} (1 to 1000 ids)');
      return answer(res, 200, { results: await sources.replay(ids) });
    }
    const pause = /^\/v1\/triggers\/([a-z0-9-]{1,253})\/(pause|resume)$/.exec(path);
    if (pause !== null) {
      if (sources.pause === undefined)
        return problem(res, 501, 'Not Implemented', 'this broker cannot pause a Trigger');
      const found = await sources.pause(pause[1] ?? '', pause[2] === 'pause');
      if (!found) return problem(res, 404, 'Not Found', `no Trigger ${pause[1]}`);
      return answer(res, 200, { trigger: pause[1], paused: pause[2] === 'pause' });
    }
    return problem(res, 404, 'Not Found', `no POST ${path.slice(0, 200)}`);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!hosts.has(req.headers.host ?? '')) {
      req.resume();
      return problem(res, 421, 'Misdirected Request', 'the console answers on its loopback address only');
    }
    // The printed URL: trade the token for the cookie, then drop it from the address bar (and history).
    if (url.pathname === CONSOLE_PATH && url.searchParams.has('token')) {
      req.resume();
      const given = url.searchParams.get('token') ?? '';
      if (!timingSafeEqual(digest(given), expectedToken))
        return problem(
          res,
          401,
          'Unauthorized',
          'this is not the token of the running make dev (it changes per run)',
        );
      res.writeHead(303, {
        location: CONSOLE_PATH,
        'set-cookie': `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=${CONSOLE_PATH}`,
        'content-length': 0,
      });
      res.end();
      return;
    }
    if (url.pathname === '/' || url.pathname === '/console') {
      req.resume();
      res.writeHead(308, { location: CONSOLE_PATH, 'content-length': 0 }).end();
      return;
    }
    const auth = authorized(req);
    if (auth === undefined) {
      req.resume();
      return problem(
        res,
        401,
        'Unauthorized',
        'open the console URL make dev printed (or send the token of .tmp/dev/endpoints.json as a bearer token)',
      );
    }
    // The page's API calls: under /console/ so that the cookie (Path=/console/) goes nowhere else.
    if (url.pathname.startsWith(`${CONSOLE_PATH}v1/`))
      url.pathname = url.pathname.slice(CONSOLE_PATH.length - 1);
    else if (url.pathname.startsWith(CONSOLE_PATH)) {
      if (options.page === undefined) {
        req.resume();
        return problem(
          res,
          503,
          'Service Unavailable',
          options.pageProblem ?? 'the console page is not built: make pages',
        );
      }
      options.page.handle(req, res);
      return;
    }
    if (req.method === 'POST' && auth === 'cookie' && !origins.has(req.headers.origin ?? '')) {
      req.resume();
      return problem(res, 403, 'Forbidden', 'a change must come from the console page itself');
    }
    if (req.method !== 'POST') req.resume();
    api(req, res, url).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof SyntaxError || err instanceof RangeError)
        problem(res, 400, 'Bad Request', (err as Error).message);
      else problem(res, 500, 'Internal Error', String(err));
    });
  });
  const port = await listenOnLoopback(server, options.port);
  const origin = `http://127.0.0.1:${port}`;
  hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  origins = new Set([...hosts].map((h) => `http://${h}`));
  cookieName = `${CONSOLE_COOKIE}${port}`;
  return {
    url: origin,
    token,
    pageUrl: `${origin}${CONSOLE_PATH}?token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
