import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { fromAmqp, RABBITMQ_EVENT_TYPE, toAmqp, wrapAmqpMessage } from './wire.ts';

const event: CloudEvent = {
  specversion: '1.0',
  id: 'id 100%',
  source: '/src',
  type: 'dev.t',
  subject: 'sub',
  time: '2024-05-01T10:00:00Z',
  datacontenttype: 'application/json',
  data: { big: 123456789, text: 'é' },
  dataBytes: Buffer.from('{"big":123456789,"text":"é"}'),
  extensions: { tenant: 'acme', n: 3 },
};

describe('wire', () => {
  it('writes attributes and extensions as plain headers, as eventing-rabbitmq does', () => {
    const m = toAmqp(event);
    expect(m.headers).toEqual({
      specversion: '1.0',
      id: 'id 100%',
      source: '/src',
      type: 'dev.t',
      subject: 'sub',
      time: '2024-05-01T10:00:00Z',
      'content-type': 'application/json',
      tenant: 'acme',
      n: '3',
    });
    expect(m.messageId).toBe('id 100%');
  });

  it('reads back what it wrote, data bytes unchanged', () => {
    const m = toAmqp(event);
    const back = fromAmqp({
      content: m.content,
      properties: { headers: { ...m.headers, 'x-delivery-count': 2 }, contentType: m.contentType },
    });
    expect(back).toMatchObject({
      id: 'id 100%',
      source: '/src',
      type: 'dev.t',
      subject: 'sub',
      extensions: { tenant: 'acme', n: '3' },
    });
    expect(Buffer.from(back?.data as Uint8Array).equals(m.content)).toBe(true);
  });

  it('passes values and data through AMQP as they are: no percent-decoding, data not parsed', () => {
    const verbatim: CloudEvent = {
      specversion: '1.0',
      id: 'v1',
      source: '/sources/café',
      type: 'dev.t',
      subject: 'caf%C3%A9 save 50%',
      data: Buffer.from('{"n":1.10, not json'),
      dataBytes: Buffer.from('{"n":1.10, not json'),
      extensions: { note: 'item%41 ☕' },
    };
    const m = toAmqp(verbatim);
    expect(m.contentType).toBeUndefined();
    expect(m.headers['content-type']).toBeUndefined();
    const back = fromAmqp({ content: m.content, properties: { headers: m.headers } });
    expect(back).toMatchObject({
      source: '/sources/café',
      subject: 'caf%C3%A9 save 50%',
      extensions: { note: 'item%41 ☕' },
    });
    expect(back?.datacontenttype).toBeUndefined();
    expect(Buffer.from(back?.dataBytes ?? []).toString()).toBe('{"n":1.10, not json');
  });

  it('accepts ce-, cloudEvents: and cloudEvents_ prefixed headers', () => {
    for (const p of ['ce-', 'cloudEvents:', 'cloudEvents_']) {
      const back = fromAmqp({
        content: Buffer.from('hi'),
        properties: {
          headers: {
            [`${p}specversion`]: '1.0',
            [`${p}id`]: 'a',
            [`${p}type`]: 't',
            [`${p}source`]: Buffer.from('/s'),
          },
          contentType: 'text/plain',
        },
      });
      expect(back, p).toMatchObject({ id: 'a', type: 't', source: '/s', datacontenttype: 'text/plain' });
    }
  });

  it('reads structured mode, and returns undefined for a message that is no CloudEvent', () => {
    const doc = JSON.stringify({ specversion: '1.0', id: 's1', source: '/x', type: 't', data: { a: 1 } });
    expect(
      fromAmqp({ content: Buffer.from(doc), properties: { contentType: 'application/cloudevents+json' } })
        ?.id,
    ).toBe('s1');
    expect(
      fromAmqp({ content: Buffer.from('plain'), properties: { headers: { foo: 'bar' } } }),
    ).toBeUndefined();
  });

  it('wraps a plain message as RabbitmqSource does', () => {
    const e = wrapAmqpMessage(
      {
        content: Buffer.from('{"x":1}'),
        properties: { messageId: 'm-1', contentType: 'application/json', timestamp: 1_700_000_000 },
      },
      '/apis/v1/namespaces/sluice/rabbitmqsources/src#q',
    );
    expect(e).toMatchObject({
      id: 'm-1',
      subject: 'm-1',
      type: RABBITMQ_EVENT_TYPE,
      time: '2023-11-14T22:13:20.000Z',
    });
    expect(e.source).toBe('/apis/v1/namespaces/sluice/rabbitmqsources/src#q');
  });
});
