import { describe, expect, it } from 'vitest';
import { receive } from '../cloudevent/receive.ts';
import { Limits } from '../limits.ts';
import { JsonLogger } from '../log.ts';
import { noopMetrics } from '../ports/metrics.ts';
import { continueTrace } from '../trace.ts';
import { eventFields, Reporter } from './report.ts';

function capture() {
  const lines: string[] = [];
  const log = new JsonLogger({
    serviceName: 'svc',
    sink: { write: (c: string) => lines.push(...c.trim().split('\n')) },
  });
  return { log, lines, reporter: new Reporter(log, noopMetrics) };
}

const event = (id: string) =>
  receive(
    {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/shop/"quoted"',
      'ce-type': 'dev.sluice.test.order.placed.v1',
      'ce-subject': 'order\tone',
      'ce-causationid': 'cause-1',
      'ce-correlationid': 'chain-1',
      'content-type': 'application/json',
    },
    Buffer.from('{"orderId":"o1"}'),
  ).event;

describe('Reporter', () => {
  describe('succeeded', () => {
    it('writes the outcome line with the fields eventFields gives, in order, then the outcome', () => {
      const { log, lines, reporter } = capture();
      const e = event('evt-"1"');
      const trace = continueTrace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', undefined);
      const reply = { id: 'r-1', type: 'dev.sluice.test.order.accepted.v1' };
      reporter.succeeded(
        { event: e, trace, started: performance.now(), coldStart: true },
        'success',
        200,
        reply,
      );
      log.flush();
      const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
      const expected = {
        ...eventFields(e, trace),
        'event.kind': 'event',
        'event.outcome': 'success',
        'event.duration': line['event.duration'],
        'faas.coldstart': true,
        'http.response.status_code': 200,
        'sluice.outcome': 'success',
        'sluice.reply.id': 'r-1',
        'sluice.reply.type': 'dev.sluice.test.order.accepted.v1',
      };
      expect(Object.keys(line).slice(0, 5)).toEqual([
        '@timestamp',
        'log.level',
        'message',
        'ecs.version',
        'service',
      ]);
      expect(Object.entries(line).slice(5)).toEqual(Object.entries(expected));
      expect(line.message).toBe('event processed');
      expect(line['event.duration']).toBeTypeOf('number');
    });

    it('caps the line to Limits.logLineBytes when the event ids are huge, each field capped', () => {
      const { log, lines, reporter } = capture();
      const e = event('x'.repeat(Limits.logLineBytes));
      const trace = continueTrace(undefined, undefined);
      reporter.succeeded(
        { event: e, trace, started: performance.now(), coldStart: false },
        'replayed',
        204,
        undefined,
      );
      log.flush();
      expect(Buffer.byteLength(lines[0] ?? '')).toBeLessThanOrEqual(Limits.logLineBytes);
      const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
      expect(line).toMatchObject({
        message: 'event replayed from idempotency record',
        'trace.id': trace.traceId,
      });
      expect(String(line['event.id']).length).toBe(Limits.logField);
      expect(line['sluice.outcome']).toBe('replayed');
    });
  });
});
