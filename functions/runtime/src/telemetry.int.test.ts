import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  driveOutcomes,
  HELLO_TYPE,
  type LiveFunction,
  parseExposition,
  postHello,
  promtool,
  type Sample,
  scrape,
  startHello,
} from '../../../observability/test/live-function.ts';
import { waitFor } from '../test/support.ts';
import { INVOKE_BUCKETS, PROMETHEUS_NAMES } from './telemetry.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe('telemetry on a running function', () => {
  let fn: LiveFunction;
  let statuses: Record<string, number>;
  let exposition: { status: number; contentType: string; text: string };
  let samples: Sample[];

  const find = (name: string, labels: Record<string, string> = {}): Sample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  beforeAll(async () => {
    fn = await startHello();
    statuses = await driveOutcomes(fn.url);
    // The SDK loads in the background: the cold start is recorded once it is in.
    await waitFor('the cold start in the exposition', async () =>
      (await scrape(fn.url)).text.includes(`${PROMETHEUS_NAMES.coldstarts}{`),
    );
    exposition = await scrape(fn.url);
    samples = parseExposition(exposition.text);
  });
  afterAll(async () => {
    await fn?.stop();
  });

  it('answered each driven event with its expected status', () => {
    expect(statuses).toEqual({ success: 200, replayed: 200, invalid: 400, unaccepted: 400, rejected: 422 });
  });

  it('serves the exposition on the function port and it passes promtool check metrics', () => {
    expect(exposition.status).toBe(200);
    expect(exposition.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const result = promtool(['check', 'metrics'], exposition.text);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('puts service_name, faas_name and faas_version on every series', () => {
    expect(samples.length).toBeGreaterThan(20);
    for (const s of samples) {
      expect(s.labels, s.name).toMatchObject({
        service_name: 'hello',
        faas_name: 'hello',
        faas_version: 'hello-00001',
      });
    }
  });

  it('counts invocations by cloudevents_event_type and outcome', () => {
    const inv = (outcome: string, type = HELLO_TYPE): number | undefined =>
      find(PROMETHEUS_NAMES.invocations, { cloudevents_event_type: type, outcome })[0]?.value;
    expect(inv('success')).toBe(1);
    expect(inv('replayed')).toBe(1);
    expect(inv('invalid')).toBe(1);
    expect(inv('invalid', 'dev.sluice.other.thing.v1')).toBe(1);
    expect(inv('rejected')).toBe(1);
  });

  it('counts replays, replies, errors and dead-letter-bound rejections by reason', () => {
    expect(find(PROMETHEUS_NAMES.replays, { cloudevents_event_type: HELLO_TYPE })[0]?.value).toBe(1);
    // The replay answers with the recorded reply too: two replies went back to the broker.
    expect(find(PROMETHEUS_NAMES.replies, { cloudevents_event_type: HELLO_TYPE })[0]?.value).toBe(2);
    const rejected = find(PROMETHEUS_NAMES.rejections);
    expect(rejected.map((s) => [s.labels.outcome, s.labels.error_type, s.value]).sort()).toEqual([
      ['invalid', 'schema', 1],
      ['invalid', 'unaccepted-type', 1],
      ['rejected', 'no-such-person', 1],
    ]);
    expect(find(PROMETHEUS_NAMES.errors).reduce((sum, s) => sum + s.value, 0)).toBe(3);
  });

  it('records durations in seconds with second-scale buckets', () => {
    const buckets = find(`${PROMETHEUS_NAMES.invokeDuration}_bucket`, { outcome: 'success' });
    expect(buckets.map((b) => b.labels.le)).toEqual([...INVOKE_BUCKETS.map(String), '+Inf']);
    const sum = find(`${PROMETHEUS_NAMES.invokeDuration}_sum`, { outcome: 'success' })[0]?.value ?? -1;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(10); // seconds, not milliseconds
    const http = find(`${PROMETHEUS_NAMES.httpDuration}_count`, {
      http_request_method: 'POST',
      http_route: '/',
    });
    expect(http.map((s) => [s.labels.http_response_status_code, s.value]).sort()).toEqual([
      ['200', 2],
      ['400', 2],
      ['422', 1],
    ]);
  });

  it('records one cold start with its duration, and process CPU and memory', () => {
    expect(find(PROMETHEUS_NAMES.coldstarts)[0]?.value).toBe(1);
    // A function's own instrument (hello counts greetings through @opentelemetry/api): one success ran.
    expect(find('hello_greetings_total', { hello_language: 'en', service_name: 'hello' })[0]?.value).toBe(1);
    expect(find(`${PROMETHEUS_NAMES.initDuration}_count`)[0]?.value).toBe(1);
    expect(find(PROMETHEUS_NAMES.cpuTime, { cpu_mode: 'user' })[0]?.value).toBeGreaterThan(0);
    expect(find(PROMETHEUS_NAMES.memoryUsage)[0]?.value).toBeGreaterThan(1e6);
  });
});

describe('trace context on a running function', () => {
  let fn: LiveFunction;
  beforeAll(async () => {
    fn = await startHello({ OTEL_SDK_DISABLED: 'true' });
  });
  afterAll(async () => {
    await fn?.stop();
  });

  it('continues the incoming traceparent on the reply and on the log line, with the same span id', async () => {
    const id = `trace-${process.pid}-ok`;
    const res = await postHello(fn.url, { id, traceparent: TRACEPARENT });
    expect(res.status).toBe(200);
    const reply = res.headers.get('ce-traceparent') ?? '';
    const [, traceId, spanId] = reply.split('-');
    expect(traceId).toBe(TRACE_ID);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe('00f067aa0ba902b7');
    const line = await waitFor('the log line', () => fn.logs().find((l) => l['event.id'] === id));
    expect(line).toMatchObject({ 'trace.id': TRACE_ID, 'span.id': spanId, 'event.outcome': 'success' });
  });

  it('puts the trace ids on the log line of a rejected event too', async () => {
    const id = `trace-${process.pid}-rejected`;
    const res = await postHello(fn.url, { id, traceparent: TRACEPARENT, data: { name: 'nobody' } });
    expect(res.status).toBe(422);
    const line = await waitFor('the log line', () => fn.logs().find((l) => l['event.id'] === id));
    expect(line).toMatchObject({
      'trace.id': TRACE_ID,
      'event.outcome': 'failure',
      'event.reason': 'no-such-person',
    });
    expect(line['span.id']).toMatch(/^[0-9a-f]{16}$/);
  });

  it('answers 404 on /metrics when metrics are off', async () => {
    expect((await scrape(fn.url)).status).toBe(404);
  });
});
