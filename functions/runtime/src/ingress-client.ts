/**
 * POSTs one CloudEvent, already in binary mode (cloudevent/encode.ts `toBinary`, or `ce-*` headers by hand), to
 * a broker's ingress, and says what became of it: the broker's answer (status and text), no answer in time, or
 * no connection. Every function that publishes through the broker (orders' intake, quotes, the fleet tracker,
 * the window closer, the gateway's publish routes) goes through here; each maps the three outcomes to its own
 * answer. The broker answers 2xx once the event is stored (after RabbitMQ's publisher confirm).
 *
 * node:http on one keep-alive pool per process, not `fetch`: fetch builds web streams, a Request and a Response
 * per event, and the gateway spent 37 % of its busy time in them (docs/performance.md, "The gateway's publish
 * routes"). A kept-alive socket the broker closed an instant before it was reused is retried once on another
 * socket (seen: two of 33,000 POSTs through the gateway, as the sockets of a burst idled out); any other
 * connection error is `unreachable`, and callers retry: the event's id makes a second copy one event to every
 * consumer. `postUntilStored` is that retry for a sender with nothing else to do meanwhile (`make inject`,
 * `make simulate`): the event again and again, for as long as the caller allows, until the broker stores or
 * refuses it.
 */
import { Agent, type ClientRequest, type OutgoingHttpHeaders, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENT_IDLE_SOCKET_MS, closedOnReuse } from './keep-alive.ts';

export type IngressAnswer =
  | { readonly kind: 'answered'; readonly status: number; readonly text: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable'; readonly cause: string };

export interface IngressPostOptions {
  /** No answer (status and body) within this: `timeout`; the event may or may not be stored. @default none */
  readonly timeoutMs?: number;
  /** Aborted (the caller's handler timed out, the process is stopping): the request is cut, `unreachable`. */
  readonly signal?: AbortSignal;
  /** @default one keep-alive pool shared by the process */
  readonly agent?: Agent;
}

/** Of the answer only this much is read: a 202, or a problem+json a caller quotes a few hundred characters of. */
const ANSWER_BYTES = 16 * 1024;

let sharedAgent: Agent | undefined;
const defaultAgent = (): Agent => {
  sharedAgent ??= new Agent({ keepAlive: true, timeout: CLIENT_IDLE_SOCKET_MS });
  return sharedAgent;
};

export function postToIngress(
  url: string,
  message: { readonly headers: OutgoingHttpHeaders; readonly body: Buffer | string },
  options: IngressPostOptions,
): Promise<IngressAnswer> {
  const body = typeof message.body === 'string' ? Buffer.from(message.body) : message.body;
  const headers = { ...message.headers, 'content-length': body.length };
  const agent = options.agent ?? defaultAgent();
  return new Promise<IngressAnswer>((resolve) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const settle = (answer: IngressAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(answer);
    };
    const send = (retry: boolean): void => {
      const attempt = request(url, { method: 'POST', headers, agent });
      req = attempt;
      let responded = false;
      // First: a request destroyed below (timeout, abort) emits its error on the next tick.
      attempt.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        // A kept-alive socket the broker closed as it was reused (its idle timeout): nothing of this request
        // was answered, so it goes once more on another socket, as node's docs advise (`reusedSocket`).
        if (retry && !responded && closedOnReuse(attempt, err)) send(false);
        else settle({ kind: 'unreachable', cause: err.code ?? err.message });
      });
      attempt.on('response', (res) => {
        responded = true;
        const status = res.statusCode ?? 502;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size >= ANSWER_BYTES) return;
          chunks.push(chunk);
          size += chunk.length;
        });
        const answered = (): void =>
          settle({ kind: 'answered', status, text: Buffer.concat(chunks, size).toString('utf8') });
        res.on('end', answered);
        // An answer broken off after its status still says what the broker decided.
        res.on('error', answered);
        res.on('close', answered);
      });
      attempt.end(body);
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            settle({ kind: 'timeout' });
            req?.destroy();
          }, options.timeoutMs);
    const onAbort = (): void => {
      settle({ kind: 'unreachable', cause: 'aborted' });
      req?.destroy();
    };
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    send(true);
  });
}

/** A 2xx: the broker stored the event. */
export const storedByBroker = (answer: IngressAnswer): answer is IngressAnswer & { kind: 'answered' } =>
  answer.kind === 'answered' && answer.status >= 200 && answer.status < 300;

/** Why an event was not stored, for an error message: the broker's status, no answer in time, or no connection. */
export function notStoredReason(answer: IngressAnswer): string {
  if (answer.kind === 'answered') return `the broker answered ${answer.status}`;
  return answer.kind === 'timeout'
    ? 'no answer from the broker in time'
    : `broker unreachable (${answer.cause})`;
}

/** What became of an event posted until the broker took it. */
export type StoreOutcome =
  | { readonly kind: 'stored'; readonly status: number }
  /** A 4xx that asking again cannot change (not 408 or 429): the broker read the event and will not take it. */
  | { readonly kind: 'refused'; readonly status: number; readonly text: string }
  /** Neither stored nor refused within `retryForMs`: the last attempt's reason. */
  | { readonly kind: 'failed'; readonly reason: string };

export interface PostUntilStoredOptions {
  /** How long the event is sent again while no broker takes it (unreachable, reset, no answer, 5xx, 408, 429). */
  readonly retryForMs: number;
  /** Each attempt's wait for an answer; the event may have been stored, and the next copy has the same id. @default 30 s */
  readonly attemptTimeoutMs?: number;
  readonly agent?: Agent;
}

/** 5xx, 408 (the broker gave up reading) and 429 (it sheds load) are the broker's state, not the event's. */
const worthRetrying = (status: number): boolean => status >= 500 || status === 408 || status === 429;

/**
 * Sends the event until the broker stores it (2xx) or refuses it, backing off 200 ms, 400 ms, … up to 3 s between
 * attempts, for at most `retryForMs`: so that a sender outlasts a restart of `make dev` or of the broker's pod.
 */
export async function postUntilStored(
  url: string,
  message: { readonly headers: OutgoingHttpHeaders; readonly body: Buffer | string },
  options: PostUntilStoredOptions,
): Promise<StoreOutcome> {
  const deadline = Date.now() + options.retryForMs;
  const post: IngressPostOptions = {
    timeoutMs: options.attemptTimeoutMs ?? 30_000,
    ...(options.agent === undefined ? {} : { agent: options.agent }),
  };
  for (let attempt = 1; ; attempt++) {
    const answer = await postToIngress(url, message, post);
    if (answer.kind === 'answered') {
      if (answer.status >= 200 && answer.status < 300) return { kind: 'stored', status: answer.status };
      if (!worthRetrying(answer.status)) return { kind: 'refused', status: answer.status, text: answer.text };
    }
    const pause = Math.min(100 * 2 ** attempt, 3000);
    if (Date.now() + pause > deadline) return { kind: 'failed', reason: notStoredReason(answer) };
    await sleep(pause);
  }
}
