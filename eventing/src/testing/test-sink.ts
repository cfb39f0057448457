/**
 * Test doubles for the broker tests: a subscriber HTTP server on 127.0.0.1 that records every request
 * (parsed as a CloudEvent) and answers as a script says, plus polling helpers with deadlines.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudEvent } from '../../../functions/runtime/src/index.ts';
import { receive, toBinary } from '../../../functions/runtime/src/index.ts';

export interface Received {
  /** As a sluice function reads it (the runtime's receive()). */
  readonly event: CloudEvent;
  readonly headers: IncomingHttpHeaders;
  /** node's rawHeaders: names as sent, values one character per byte — the bytes on the wire. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly at: number;
}

export interface Answer {
  readonly status: number;
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string>;
  /** A reply CloudEvent, sent in binary mode (status should be 200). */
  readonly reply?: CloudEvent;
  readonly delayMs?: number;
  /** Promise a body, send part of it, then cut the connection (a 2xx whose body cannot be read). */
  readonly cutBody?: boolean;
}

export type Script = (event: CloudEvent, attempt: number, received: readonly Received[]) => Answer;

export interface TestSink {
  readonly url: string;
  readonly received: Received[];
  /** Received events of this id, in order. */
  attemptsOf(id: string): Received[];
  close(): Promise<void>;
}

export async function startTestSink(script: Script = () => ({ status: 202 })): Promise<TestSink> {
  const received: Received[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const body = Buffer.concat(chunks);
    let event: CloudEvent;
    try {
      event = receive(req.headers, body, { rawHeaders: req.rawHeaders }).event;
    } catch (err) {
      res.writeHead(400).end(String(err));
      return;
    }
    received.push({ event, headers: req.headers, rawHeaders: req.rawHeaders, body, at: performance.now() });
    const attempt = received.filter((r) => r.event.id === event.id).length;
    const answer = script(event, attempt, received);
    if (answer.delayMs !== undefined) await new Promise((r) => setTimeout(r, answer.delayMs));
    if (answer.cutBody === true) {
      res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"par', () => res.socket?.destroy());
      return;
    }
    if (answer.reply !== undefined) {
      const m = toBinary(answer.reply);
      res.writeHead(answer.status, m.headers).end(m.body);
      return;
    }
    res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    attemptsOf: (id) => received.filter((r) => r.event.id === id),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lets pending deliveries run for a while, to show something did NOT happen (a bounded pause). */
export function settle(ms = 200): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let seq = 0;
export function testEvent(overrides: Partial<Record<string, unknown>> = {}): CloudEvent {
  seq++;
  const { extensions, ...rest } = overrides;
  return {
    specversion: '1.0',
    id: `evt-${process.pid}-${seq}`,
    source: '/tests/eventing',
    type: 'dev.sluice.test.thing.happened.v1',
    datacontenttype: 'application/json',
    data: { n: seq },
    extensions: (extensions as CloudEvent['extensions'] | undefined) ?? {},
    ...rest,
  } as CloudEvent;
}

/**
 * POSTs an event to the ingress in binary mode, with `headers` added (an HTTP traceparent); retries 5xx
 * and connection errors (as a producer would).
 */
export async function postEvent(
  url: string,
  event: CloudEvent,
  retries = 0,
  headers: Readonly<Record<string, string>> = {},
): Promise<number> {
  const m = toBinary(event);
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { ...headers, ...m.headers }, body: m.body });
      await res.arrayBuffer();
      if (res.status < 500 || i >= retries) return res.status;
    } catch (err) {
      if (i >= retries) throw err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
