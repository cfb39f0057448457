import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { PROBLEM_CONTENT_TYPE } from './cloudevent/problem.ts';
import type { HttpAnswer } from './invoke.ts';
import { DEAD_LETTERED_HEADER, isFinalRefusal, keepRejected, type SinkPost } from './keep-rejected.ts';
import { JsonLogger } from './log.ts';

const log = new JsonLogger({ serviceName: 'test', sink: { write: () => true } });
const SINK = 'http://127.0.0.1:9/dead-letter-sink';

const binary: IncomingHttpHeaders = {
  'ce-specversion': '1.0',
  'ce-id': 'e-1',
  'ce-source': '/orders',
  'ce-type': 'dev.sluice.order.placed.v1',
  'ce-correlationid': 'root-1',
  'content-type': 'application/json',
  'user-agent': 'Go-http-client/1.1',
};
const body = Buffer.from('{"amount":-1}');

function refusal(status: number): HttpAnswer {
  return {
    status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE },
    body: Buffer.from(
      JSON.stringify({ title: 'Event Rejected', status, detail: 'insufficient funds', type: 'x' }),
    ),
  };
}

interface Posted {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

function sink(statuses: (number | Error)[]): { post: SinkPost; posted: Posted[] } {
  const posted: Posted[] = [];
  return {
    posted,
    post: async (url, message) => {
      posted.push({ url, ...message });
      const next = statuses.shift() ?? 204;
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

const keeping = (answer: HttpAnswer, post: SinkPost) =>
  keepRejected(
    { invoke: async () => answer },
    { sinkUrl: SINK, dest: '/sluice/functions/processor', log, post },
  );

describe('keepRejected', () => {
  describe('isFinalRefusal', () => {
    it('is every answer SelectiveRetry does not retry and that is not a success', () => {
      for (const s of [300, 302, 400, 401, 413, 415, 422]) expect(isFinalRefusal(s), String(s)).toBe(true);
      for (const s of [200, 204, 404, 408, 409, 429, 500, 503])
        expect(isFinalRefusal(s), String(s)).toBe(false);
    });
  });

  it('passes successes and retriable failures through without calling the sink', async () => {
    const { post, posted } = sink([]);
    for (const status of [204, 503]) {
      const answer = { status, headers: {}, body: Buffer.alloc(0) };
      expect(await keeping(answer, post).invoke(binary, body)).toBe(answer);
    }
    expect(posted).toHaveLength(0);
  });

  it('forwards a refused binary event as received, with the knativeerror* extensions, before answering', async () => {
    const { post, posted } = sink([202]);
    const answer = await keeping(refusal(422), post).invoke(binary, body);
    expect(answer.status).toBe(422);
    expect(answer.headers[DEAD_LETTERED_HEADER]).toBe('true');
    expect(posted).toHaveLength(1);
    const [sent] = posted;
    expect(sent?.url).toBe(SINK);
    expect(sent?.body).toEqual(body);
    expect(sent?.headers).toMatchObject({
      'ce-id': 'e-1',
      'ce-correlationid': 'root-1',
      'content-type': 'application/json',
      'ce-knativeerrordest': '/sluice/functions/processor',
      'ce-knativeerrorcode': '422',
    });
    expect(sent?.headers['user-agent']).toBeUndefined();
    const data = JSON.parse(Buffer.from(String(sent?.headers['ce-knativeerrordata']), 'base64').toString());
    expect(data).toEqual({ title: 'Event Rejected', status: 422, detail: 'insufficient funds' });
  });

  it('answers 503 (retried by the broker) when the sink is down or fails', async () => {
    for (const failure of [new Error('connect ECONNREFUSED'), 500]) {
      const { post } = sink([failure]);
      const answer = await keeping(refusal(400), post).invoke(binary, body);
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBeDefined();
      expect(answer.headers[DEAD_LETTERED_HEADER]).toBeUndefined();
    }
  });

  it('sends data the sink cannot parse again as opaque bytes with its content type as an extension', async () => {
    const { post, posted } = sink([400, 204]);
    const answer = await keeping(refusal(400), post).invoke(binary, Buffer.from('{not json'));
    expect(answer.headers[DEAD_LETTERED_HEADER]).toBe('true');
    expect(posted[1]?.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'ce-sluicedatacontenttype': 'application/json',
    });
    expect(posted[1]?.body.toString()).toBe('{not json');
  });

  it('answers the refusal as is when the sink refuses it for good (nothing a retry could change)', async () => {
    const { post } = sink([400, 400]);
    const answer = await keeping(refusal(400), post).invoke(binary, body);
    expect(answer.status).toBe(400);
    expect(answer.headers[DEAD_LETTERED_HEADER]).toBeUndefined();
  });

  it('re-encodes a structured event in binary mode', async () => {
    const { post, posted } = sink([204]);
    const structured = {
      specversion: '1.0',
      id: 's-1',
      source: '/orders',
      type: 'dev.sluice.order.placed.v1',
      data: { amount: 3 },
    };
    await keeping(refusal(400), post).invoke(
      { 'content-type': 'application/cloudevents+json' },
      Buffer.from(JSON.stringify(structured)),
    );
    expect(posted[0]?.headers).toMatchObject({ 'ce-id': 's-1', 'ce-knativeerrorcode': '400' });
    expect(JSON.parse(posted[0]?.body.toString() ?? '')).toEqual({ amount: 3 });
  });

  it('keeps neither what is not a CloudEvent nor a dead letter refused by the sink itself (no loop)', async () => {
    const { post, posted } = sink([]);
    const plain = await keeping(refusal(400), post).invoke({ 'content-type': 'application/json' }, body);
    const deadLetter = await keeping(refusal(400), post).invoke(
      { ...binary, 'ce-knativeerrordest': 'http://processor/' },
      body,
    );
    expect([plain.status, deadLetter.status]).toEqual([400, 400]);
    expect(posted).toHaveLength(0);
  });

  it('keeps a refusal the invoker answers asynchronously', async () => {
    const { post, posted } = sink([204]);
    const handler = keepRejected(
      { invoke: async () => refusal(422) },
      { sinkUrl: SINK, dest: '/sluice/functions/processor', log, post },
    );
    expect((await handler.invoke(binary, body)).headers[DEAD_LETTERED_HEADER]).toBe('true');
    expect(posted).toHaveLength(1);
  });

  it("logs the kept refusal with the event's id, flow, cause and trace, so Kibana places it in its tree", async () => {
    const lines: Record<string, unknown>[] = [];
    const recording = new JsonLogger({
      serviceName: 'test',
      sink: {
        write: (chunk: string) => {
          for (const l of chunk.split('\n')) if (l !== '') lines.push(JSON.parse(l));
          return true;
        },
      },
    });
    const { post } = sink([202]);
    const handler = keepRejected(
      { invoke: async () => refusal(422) },
      { sinkUrl: SINK, dest: '/sluice/functions/processor', log: recording, post },
    );
    await handler.invoke(
      {
        ...binary,
        'ce-causationid': 'parent-1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      body,
    );
    recording.flush();
    expect(lines.find((l) => l['event.action'] === 'dead-letter-kept')).toMatchObject({
      'cloudevents.event_id': 'e-1',
      'sluice.correlation_id': 'root-1',
      'sluice.causation_id': 'parent-1',
      'trace.id': '0af7651916cd43dd8448eb211c80319c',
    });
  });
});
