/** The per-Service router against slow clients: real sockets, node:http's own 408. */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceRouter, startRouter } from './router.ts';
import { until } from './testing/http-events.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

describe('router: slow clients', () => {
  let router: ServiceRouter;
  let acquired = 0;

  beforeAll(async () => {
    router = await startRouter({
      // Never reached by a request that does not complete: counting proves it.
      activator: {
        name: 'slow',
        acquire: () => {
          acquired++;
          return new Promise(() => {});
        },
      },
      log: new RecordingLogger(),
      timeoutMs: 30_000,
      headersTimeoutMs: 1_000,
      requestTimeoutMs: 2_000,
    });
  });
  afterAll(() => router.close(0));

  async function answerTo(text: string): Promise<string> {
    const socket = connect(router.port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => {
      answer += c;
    });
    const closed = once(socket, 'close');
    socket.write(text);
    await until('the router to answer and close', () => answer.includes('\r\n\r\n'), 15_000);
    await closed;
    return answer;
  }

  it('answers 408 and closes a connection whose headers never finish', async () => {
    expect(await answerTo('POST / HTTP/1.1\r\nHost: slow\r\nce-id: 1\r\n')).toMatch(/^HTTP\/1\.1 408 /);
    expect(acquired).toBe(0);
  });

  it('answers 408 and closes a connection whose body never finishes', async () => {
    const answer = await answerTo('POST / HTTP/1.1\r\nHost: slow\r\nContent-Length: 50\r\n\r\n{"partial":');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });
});
