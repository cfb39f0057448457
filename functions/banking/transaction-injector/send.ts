/**
 * Senders: HTTP to the broker ingress (as `curl` would), or AMQP to the exchange a RabbitmqSource
 * reads (eventing/manifests/sources/transaction-injector.yaml), in the RabbitMQ protocol binding's
 * binary mode (`ce-*` headers, content-type = datacontenttype). Both retry what they may: an event
 * is sent until the broker took it (202 / publisher confirm) or refused it (4xx).
 *
 * AMQP publishes are `mandatory`: a confirm alone only says the exchange took the message, and an
 * exchange with no queue bound (the source not started yet) drops it. RabbitMQ returns such a message
 * (basic.return, before its confirm); the sender then waits and publishes it again, and reports it
 * failed when no queue ever takes it. A lost connection is reconnected and what was not confirmed published
 * again (functions/runtime/src/exchange-publisher.ts).
 */
import { connectExchangePublisher, postUntilStored } from '../../runtime/src/index.ts';
import type { Submission } from './plan.ts';

export const SendResult = { accepted: 'accepted', refused: 'refused', failed: 'failed' } as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];

export interface Sender {
  send(submission: Submission): Promise<SendResult>;
  close(): Promise<void>;
}

/**
 * `retryForMs`: how long a submission is retried while the broker cannot take it (not listening, reset, 5xx,
 * 429, 408): a minute, as the AMQP sender waits for RabbitMQ, so `make inject` outlasts a restart of `make dev`
 * or of the broker's pod. Each retry is the same event (same id): a copy the broker did take is one event.
 */
export function httpSender(brokerUrl: string, retryForMs = 60_000): Sender {
  return {
    async send(s) {
      const outcome = await postUntilStored(brokerUrl, s, { retryForMs });
      return outcome.kind === 'stored'
        ? SendResult.accepted
        : outcome.kind === 'refused'
          ? SendResult.refused
          : SendResult.failed;
    },
    async close() {},
  };
}

export const AMQP_EXCHANGE = 'sluice.banking.injector';

export async function amqpSender(url: string, exchange = AMQP_EXCHANGE, attempts = 8): Promise<Sender> {
  const publisher = await connectExchangePublisher(url, exchange, {
    unroutableAttempts: attempts,
    onRetry: (reason) => process.stderr.write(`make inject: ${reason}\n`),
  });
  return {
    async send(s) {
      const headers: Record<string, string> = {};
      let contentType: string | undefined;
      for (const [k, v] of Object.entries(s.headers)) {
        if (k === 'content-type') contentType = v;
        else headers[k] = v;
      }
      try {
        await publisher.publish({
          id: s.id,
          body: s.body,
          headers,
          ...(contentType === undefined ? {} : { contentType }),
        });
        return SendResult.accepted;
      } catch {
        return SendResult.failed; // unroutable after every attempt, or RabbitMQ unreachable for a minute
      }
    },
    close: () => publisher.close(),
  };
}
