import { describe, expect, it } from 'vitest';
import { testEvent } from './testing/test-sink.ts';
import { normalizeTraceparent, traceAtDispatch, traceAtIngress, traceOnDeadLetter } from './trace-context.ts';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const OTHER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('trace context through the upstream data plane', () => {
  it('normalizes a traceparent as the OpenTelemetry propagator re-writes it, and refuses invalid ones', () => {
    expect(normalizeTraceparent(TP)).toBe(TP);
    expect(normalizeTraceparent(TP.replace(/01$/, '03'))).toBe(TP);
    expect(normalizeTraceparent(`01${TP.slice(2)}-future`)).toBe(TP);
    for (const bad of ['ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', `${TP}-x`, 'nope'])
      expect(normalizeTraceparent(bad), bad).toBeUndefined();
    expect(normalizeTraceparent(`00-${'0'.repeat(32)}-b7ad6b7169203331-01`)).toBeUndefined();
  });

  it('stores an HTTP traceparent at the ingress under the extensions, which win over it', () => {
    expect(traceAtIngress(testEvent(), { traceparent: TP }).extensions).toEqual({
      traceparent: TP,
      tracestate: '',
    });
    const own = testEvent({ extensions: { traceparent: OTHER } });
    expect(traceAtIngress(own, { traceparent: TP, tracestate: 'v=1' }).extensions).toEqual({
      traceparent: OTHER,
      tracestate: 'v=1',
    });
    expect(traceAtIngress(own, {}).extensions).toEqual({ traceparent: OTHER });
  });

  it('sends the trace as HTTP headers only when both headers are there, and never as extensions', () => {
    const alone = traceAtDispatch(testEvent({ extensions: { traceparent: TP, tenant: 'acme' } }));
    expect(alone.headers).toEqual({});
    expect(alone.event.extensions).toEqual({ tenant: 'acme' });
    const both = traceAtDispatch(testEvent({ extensions: { traceparent: TP, tracestate: '' } }));
    expect(both.headers).toEqual({ traceparent: TP });
    expect(both.event.extensions).toEqual({});
    expect(
      traceAtDispatch(testEvent({ extensions: { traceparent: TP, tracestate: 'v=1' } })).headers,
    ).toEqual({
      traceparent: TP,
      tracestate: 'v=1',
    });
  });

  it('puts the span headers on the dead letter, tracestate even when empty', () => {
    expect(traceOnDeadLetter(testEvent(), { traceparent: TP }).extensions).toEqual({
      traceparent: TP,
      tracestate: '',
    });
    expect(traceOnDeadLetter(testEvent(), {}).extensions).toEqual({});
  });
});
