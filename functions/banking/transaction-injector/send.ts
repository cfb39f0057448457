/**
 * Senders: HTTP to the broker ingress (as `curl` would), or AMQP to the exchange a RabbitmqSource
 * reads (eventing/manifests/sources/transaction-injector.yaml), in the RabbitMQ protocol binding's
 * binary mode (`ce-*` headers, content-type = datacontenttype). Both retry what they may: an event
 * is sent until the broker took it (202 / publisher confirm) or refused it (4xx).
 *
 * AMQP publishes are `mandatory`: a confirm alone only says the exchange took the message, and an
 * exchange with no queue bound (the source not started yet) drops it. RabbitMQ returns such a message
 * (basic.return, before its confirm); the sender then waits and publishes it again, and reports it
 * failed when no queue ever takes it.
 */
import type { Submission } from './plan.ts';

export const SendResult = { accepted: 'accepted', refused: 'refused', failed: 'failed' } as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];

export interface Sender {
  send(submission: Submission): Promise<SendResult>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function httpSender(brokerUrl: string, attempts = 8): Sender {
  return {
    async send(s) {
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await fetch(brokerUrl, { method: 'POST', headers: s.headers, body: s.body });
          await res.arrayBuffer();
          if (res.status >= 200 && res.status < 300) return SendResult.accepted;
          if (res.status < 500 && res.status !== 429 && res.status !== 408) return SendResult.refused;
        } catch {
          // connection refused or reset: retry
        }
        if (attempt >= attempts) return SendResult.failed;
        await sleep(Math.min(100 * 2 ** attempt, 3000));
      }
    },
    async close() {},
  };
}

export const AMQP_EXCHANGE = 'sluice.banking.injector';

export async function amqpSender(url: string, exchange = AMQP_EXCHANGE, attempts = 8): Promise<Sender> {
  const { connect } = await import('amqplib');
  // TCP_NODELAY: confirms of publishes made one by one otherwise wait out the server's delayed ACK.
  const connection = await connect(url, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  // The RabbitmqSource's exchange, declared here too so publishing works before the source runs. Same
  // type as the source declares it (headers, as upstream's adapter; its binding has no arguments, so it
  // takes every message): RabbitMQ refuses a redeclaration with another type.
  await channel.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
  // Returned (unroutable) message ids; a return always arrives before the publish's confirm.
  const returned = new Set<string>();
  channel.on('return', (msg: { properties: { messageId?: unknown } }) => {
    if (typeof msg.properties.messageId === 'string') returned.add(msg.properties.messageId);
  });
  const publish = (s: Submission): Promise<void> => {
    const headers: Record<string, string> = {};
    let contentType: string | undefined;
    for (const [k, v] of Object.entries(s.headers)) {
      if (k === 'content-type') contentType = v;
      else headers[k] = v;
    }
    return new Promise<void>((resolve, reject) => {
      channel.publish(
        exchange,
        '',
        s.body,
        {
          persistent: true,
          mandatory: true,
          headers,
          ...(contentType === undefined ? {} : { contentType }),
          messageId: s.id,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  };
  return {
    async send(s) {
      for (let attempt = 1; ; attempt++) {
        returned.delete(s.id);
        await publish(s);
        if (!returned.delete(s.id)) return SendResult.accepted;
        if (attempt >= attempts) return SendResult.failed;
        await sleep(Math.min(100 * 2 ** attempt, 3000));
      }
    },
    async close() {
      await channel.close();
      await connection.close();
    },
  };
}
