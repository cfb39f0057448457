import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { type ConfirmedMessage, publishConfirmed, publishFields } from './amqp-publish.ts';

// amqplib's own argument builder and codec, by file: its package exports only the channel APIs.
const require = createRequire(import.meta.url);
const lib = join(dirname(require.resolve('amqplib')), 'lib');
const { publish: argsPublish } = require(join(lib, 'api_args.js')) as {
  publish(exchange: string, routingKey: string, options: object): Record<string, unknown>;
};
const defs = require(join(lib, 'defs.js')) as {
  BasicPublish: number;
  BasicProperties: number;
  encodeMethod(id: number, channel: number, fields: object): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer;
};

const messages: ConfirmedMessage[] = [
  {
    exchange: 'b.sluice.default',
    routingKey: '',
    content: Buffer.from('{"amount":100}'),
    headers: {
      specversion: '1.0',
      id: 'tx-1',
      type: 'dev.sluice.banking.transaction.submitted.v1',
      source: '/banking/injector',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'content-type': 'application/json',
    },
    messageId: 'tx-1',
    contentType: 'application/json',
  },
  {
    exchange: 'sluice.streams',
    routingKey: 'readings',
    content: Buffer.alloc(0),
    headers: { 'ce-id': 'r-7', 'ce-subject': 'sensör ✓', count: 7, big: 2 ** 40, flag: true, ratio: 0.25 },
    messageId: 'r-7',
    mandatory: true,
  },
  {
    exchange: '',
    routingKey: 'q',
    content: Buffer.from('x'),
    headers: {},
    messageId: 'm',
    contentType: 'text/plain',
  },
];

/** The options the public `publish` took for the same message, as the callers built them before. */
function publicOptions(m: ConfirmedMessage): object {
  return {
    persistent: true,
    mandatory: m.mandatory === true,
    headers: m.headers,
    messageId: m.messageId,
    ...(m.contentType === undefined ? {} : { contentType: m.contentType }),
  };
}

/** Every enumerable key with its value, own or inherited (how amqplib's encodeTable walks a table). */
function enumerated(table: unknown): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const key in table as object) out.push([key, (table as Record<string, unknown>)[key]]);
  return out;
}

describe('publishFields', () => {
  it.each(messages.map((m) => [m.exchange || '(default exchange)', m] as const))(
    'is what amqplib builds for the same publish, field by field, and the same frames (%s)',
    (_, m) => {
      const theirs = argsPublish(m.exchange, m.routingKey, publicOptions(m));
      const ours = publishFields(m);
      expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
      for (const key of Object.keys(theirs)) {
        if (key === 'headers') expect(enumerated(ours.headers)).toEqual(enumerated(theirs.headers));
        else expect(ours[key], key).toEqual(theirs[key]);
      }
      expect(defs.encodeMethod(defs.BasicPublish, 1, ours)).toEqual(
        defs.encodeMethod(defs.BasicPublish, 1, theirs),
      );
      const size = m.content.length;
      expect(defs.encodeProperties(defs.BasicProperties, 1, size, ours)).toEqual(
        defs.encodeProperties(defs.BasicProperties, 1, size, theirs),
      );
    },
  );

  it('passes the headers object itself, where amqplib would make it the prototype of a new one', () => {
    const m = messages[0] as ConfirmedMessage;
    expect(publishFields(m).headers).toBe(m.headers);
    expect(Object.getPrototypeOf(argsPublish(m.exchange, m.routingKey, publicOptions(m)).headers)).toBe(
      m.headers,
    );
  });
});

describe('publishConfirmed', () => {
  const m = messages[0] as ConfirmedMessage;

  it('sends the message, then queues its confirm callback, as ConfirmChannel#publish does', () => {
    const calls: string[] = [];
    let sent: unknown;
    const channel = {
      sendMessage(fields: object, properties: object, content: Buffer) {
        calls.push('sendMessage');
        expect(properties).toBe(fields);
        expect(content).toBe(m.content);
        sent = fields;
        return false;
      },
      pushConfirmCallback(cb: (err: unknown) => void) {
        calls.push('pushConfirmCallback');
        cb(null);
      },
      publish() {
        throw new Error('the public publish is not used when the channel has its internals');
      },
    } as unknown as ConfirmChannel;
    const confirmed: unknown[] = [];
    expect(publishConfirmed(channel, m, (err) => confirmed.push(err))).toBe(false);
    expect(calls).toEqual(['sendMessage', 'pushConfirmCallback']);
    expect(sent).toEqual(publishFields(m));
    expect(confirmed).toEqual([null]);
  });

  it('queues no callback for a message that could not be sent (a closed channel throws)', () => {
    const pushed: unknown[] = [];
    const channel = {
      sendMessage() {
        throw new Error('Channel closed');
      },
      pushConfirmCallback: (cb: unknown) => pushed.push(cb),
    } as unknown as ConfirmChannel;
    expect(() => publishConfirmed(channel, m, () => {})).toThrow('Channel closed');
    expect(pushed).toEqual([]);
  });

  it('uses the public publish with the same options on a channel without those internals', () => {
    const published: unknown[][] = [];
    const channel = {
      publish: (...args: unknown[]) => {
        published.push(args);
        return true;
      },
    } as unknown as ConfirmChannel;
    const cb = (): void => {};
    const mandatory = messages[1] as ConfirmedMessage;
    expect(publishConfirmed(channel, mandatory, cb)).toBe(true);
    expect(published).toEqual([
      [mandatory.exchange, mandatory.routingKey, mandatory.content, publicOptions(mandatory), cb],
    ]);
  });
});
