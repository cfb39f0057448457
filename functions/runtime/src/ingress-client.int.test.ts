import { Agent, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../platform/test-servers/ports.ts';
import { postToIngress, postUntilStored, storedByBroker } from './ingress-client.ts';

describe('postToIngress, against a real socket', () => {
  let server: Server;
  let url: string;
  const seen: { headers: IncomingHttpHeaders; body: string }[] = [];
  const closing = new WeakSet<Socket>();

  beforeAll(async () => {
    // The path picks the answer: /202, /400, /silence, /cut (status sent, then the connection dropped).
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        if (req.url === '/silence') return;
        // A kept-alive socket that closes as the next request arrives on it (the server's idle timeout, raced).
        if (req.url === '/close-next') {
          const socket = req.socket;
          if (closing.has(socket)) {
            socket.destroy();
            return;
          }
          closing.add(socket);
          res.writeHead(202).end();
          return;
        }
        if (req.url === '/cut') {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.write('partial');
          setImmediate(() => res.socket?.destroy());
          return;
        }
        const status = Number(req.url?.slice(1));
        res.writeHead(status, { 'content-type': 'application/problem+json' });
        res.end(status === 202 ? '' : JSON.stringify({ detail: `said ${status}` }));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });

  const message = { headers: { 'ce-id': 'e-1', 'content-type': 'application/json' }, body: '{"a":1}' };

  it('sends the event as given, with its length, and reads a 2xx as stored', async () => {
    const answer = await postToIngress(`${url}/202`, message, { timeoutMs: 2_000 });
    expect(answer).toEqual({ kind: 'answered', status: 202, text: '' });
    expect(storedByBroker(answer)).toBe(true);
    expect(seen.at(-1)).toMatchObject({
      headers: { 'ce-id': 'e-1', 'content-type': 'application/json', 'content-length': '7' },
      body: '{"a":1}',
    });
  });

  it("returns a refusal's status and text, not stored", async () => {
    const answer = await postToIngress(`${url}/400`, message, { timeoutMs: 2_000 });
    expect(answer).toEqual({ kind: 'answered', status: 400, text: '{"detail":"said 400"}' });
    expect(storedByBroker(answer)).toBe(false);
  });

  it('keeps what an answer broken off after its status said', async () => {
    const answer = await postToIngress(`${url}/cut`, message, { timeoutMs: 2_000 });
    expect(answer).toMatchObject({ kind: 'answered', status: 503 });
  });

  it('sends once more, on another socket, when a kept-alive socket closes as it is reused', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = seen.length;
      expect(await postToIngress(`${url}/close-next`, message, { timeoutMs: 2_000, agent })).toMatchObject({
        status: 202,
      });
      // The second POST finds its kept-alive socket closed under it; the retry's new socket answers.
      expect(await postToIngress(`${url}/close-next`, message, { timeoutMs: 2_000, agent })).toMatchObject({
        status: 202,
      });
      expect(seen.length - before).toBe(3);
    } finally {
      agent.destroy();
    }
  });

  it("lets an idle kept-alive socket go before the server's announced timeout ends, not after", async () => {
    // A server announcing `Keep-Alive: timeout=2`: the shared pool closes the idle socket first (after 1 s), so the
    // server reads its end; a pool that waited would see the server destroy the socket at 2 s, with no end read.
    const brief = createServer((_req, res) => res.writeHead(202).end());
    brief.keepAliveTimeout = 2_000;
    const closed = new Promise<boolean>((ok) =>
      brief.on('connection', (socket: Socket) => {
        let endRead = false;
        socket.on('end', () => {
          endRead = true;
        });
        socket.on('close', () => ok(endRead));
      }),
    );
    await new Promise<void>((ok) => brief.listen(0, '127.0.0.1', ok));
    try {
      const answer = await postToIngress(
        `http://127.0.0.1:${(brief.address() as AddressInfo).port}/`,
        message,
        {
          timeoutMs: 2_000,
        },
      );
      expect(answer).toMatchObject({ status: 202 });
      expect(await closed).toBe(true);
    } finally {
      brief.closeAllConnections();
      await new Promise((ok) => brief.close(ok));
    }
  });

  it('says timeout when no answer comes in time', async () => {
    expect(await postToIngress(`${url}/silence`, message, { timeoutMs: 100 })).toEqual({ kind: 'timeout' });
  });

  it('says unreachable, with the reason, when nothing listens or the caller aborts', async () => {
    const closed = await postToIngress(`http://127.0.0.1:${await freePort()}/`, message, {
      timeoutMs: 2_000,
    });
    expect(closed).toEqual({ kind: 'unreachable', cause: 'ECONNREFUSED' });
    const controller = new AbortController();
    const pending = postToIngress(`${url}/silence`, message, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toEqual({ kind: 'unreachable', cause: 'aborted' });
    expect(await postToIngress(`${url}/202`, message, { signal: AbortSignal.abort() })).toEqual({
      kind: 'unreachable',
      cause: 'aborted',
    });
  });
});

describe('postUntilStored, against a broker that comes and goes', () => {
  const message = { headers: { 'ce-id': 'e-2', 'content-type': 'application/json' }, body: '{"b":2}' };

  /** A broker on `port` answering each POST with the next of `statuses` (the last one from then on). */
  const brokerAnswering = async (port: number, statuses: readonly number[]) => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        const status = statuses[Math.min(bodies.length, statuses.length - 1)] ?? 202;
        bodies.push(body);
        res.writeHead(status, { 'content-type': 'application/problem+json' });
        res.end(status < 300 ? '' : JSON.stringify({ detail: `said ${status}` }));
      });
    });
    await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
    return {
      bodies,
      close: async () => {
        server.closeAllConnections();
        await new Promise((ok) => server.close(ok));
      },
    };
  };

  it('waits for a broker that is not listening yet, then stores the event once', async () => {
    const port = await freePort();
    const outcome = postUntilStored(`http://127.0.0.1:${port}/`, message, { retryForMs: 10_000 });
    await new Promise((r) => setTimeout(r, 700)); // two or three attempts find nothing listening
    const broker = await brokerAnswering(port, [202]);
    try {
      expect(await outcome).toEqual({ kind: 'stored', status: 202 });
      expect(broker.bodies).toEqual(['{"b":2}']);
    } finally {
      await broker.close();
    }
  });

  it('asks again after 503, 429 and 408, and stops at the first 2xx', async () => {
    const port = await freePort();
    const broker = await brokerAnswering(port, [503, 429, 408, 202, 400]);
    try {
      expect(await postUntilStored(`http://127.0.0.1:${port}/`, message, { retryForMs: 10_000 })).toEqual({
        kind: 'stored',
        status: 202,
      });
      expect(broker.bodies).toHaveLength(4);
    } finally {
      await broker.close();
    }
  });

  it('takes a refusal as final: one attempt, with the status and text', async () => {
    const port = await freePort();
    const broker = await brokerAnswering(port, [400, 202]);
    try {
      expect(await postUntilStored(`http://127.0.0.1:${port}/`, message, { retryForMs: 10_000 })).toEqual({
        kind: 'refused',
        status: 400,
        text: '{"detail":"said 400"}',
      });
      expect(broker.bodies).toHaveLength(1);
    } finally {
      await broker.close();
    }
  });

  it('gives up after retryForMs with the last reason', async () => {
    const port = await freePort();
    const broker = await brokerAnswering(port, [503]);
    try {
      const outcome = await postUntilStored(`http://127.0.0.1:${port}/`, message, { retryForMs: 1_000 });
      expect(outcome).toEqual({ kind: 'failed', reason: 'the broker answered 503' });
      expect(broker.bodies.length).toBeGreaterThan(1);
    } finally {
      await broker.close();
    }
  });
});
