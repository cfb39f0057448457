import { describe, expect, it } from 'vitest';
import { parseExposition } from '../../../observability/test/live-function.ts';
import { loadConfig } from './config.ts';
import { createTelemetry, PROMETHEUS_NAMES } from './telemetry.ts';

const config = loadConfig({ FUNCTION_DIR: 'functions/orders', K_SERVICE: 'orders' });
const record = (eventType: string, outcome: 'success' | 'error' | 'transient', reason?: string) => ({
  eventType,
  outcome,
  durationSeconds: 0.02,
  coldStart: false,
  replied: false,
  ...(reason === undefined ? {} : { reason }),
});

describe('createTelemetry', () => {
  it('keeps what is recorded while the SDK loads and exports it once loaded', async () => {
    const metrics = await createTelemetry(config);
    metrics.coldStart(0.4); // before the background import can have finished
    metrics.invocation(record('dev.sluice.orders.placed.v1', 'success'));
    const samples = parseExposition((await metrics.scrape()) ?? '');
    expect(samples.find((s) => s.name === PROMETHEUS_NAMES.coldstarts)?.value).toBe(1);
    expect(samples.find((s) => s.name === PROMETHEUS_NAMES.invocations)?.labels).toMatchObject({
      cloudevents_event_type: 'dev.sluice.orders.placed.v1',
      outcome: 'success',
      service_name: 'orders',
    });
    await metrics.shutdown();
  });

  it('counts store calls by collection and operation (the round trips per event)', async () => {
    const metrics = await createTelemetry(config);
    metrics.storeCall?.('sluice_idempotency', 'insertOne');
    metrics.storeCall?.('sluice_idempotency', 'insertOne');
    metrics.storeCall?.('orders', 'findOne');
    const calls = parseExposition((await metrics.scrape()) ?? '').filter(
      (s) => s.name === PROMETHEUS_NAMES.storeCalls,
    );
    const by = Object.fromEntries(
      calls.map((s) => [`${s.labels.db_collection_name} ${s.labels.db_operation_name}`, s.value]),
    );
    expect(by).toEqual({ 'sluice_idempotency insertOne': 2, 'orders findOne': 1 });
    await metrics.shutdown();
  });

  it('omits faas_version when K_REVISION is not set', async () => {
    const metrics = await createTelemetry(config);
    metrics.coldStart(0.1);
    const samples = parseExposition((await metrics.scrape()) ?? '');
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) expect(s.labels.faas_version).toBeUndefined();
    await metrics.shutdown();
  });

  it('caps the event types it labels, so client-chosen types cannot explode the series count', async () => {
    const metrics = await createTelemetry(config);
    for (let i = 0; i < 100; i++) metrics.invocation(record(`dev.sluice.spam.t${i}.v1`, 'success'));
    const types = new Set(
      parseExposition((await metrics.scrape()) ?? '')
        .filter((s) => s.name === PROMETHEUS_NAMES.invocations)
        .map((s) => s.labels.cloudevents_event_type),
    );
    expect(types.size).toBe(65);
    expect(types.has('_other')).toBe(true);
    await metrics.shutdown();
  });

  it('counts a handler timeout as an error and a timeout', async () => {
    const metrics = await createTelemetry(config);
    metrics.invocation(record('dev.sluice.orders.placed.v1', 'transient', 'HandlerTimeoutError'));
    metrics.invocation(record('dev.sluice.orders.placed.v1', 'error', 'TypeError'));
    const samples = parseExposition((await metrics.scrape()) ?? '');
    expect(samples.find((s) => s.name === PROMETHEUS_NAMES.timeouts)?.value).toBe(1);
    expect(
      samples
        .filter((s) => s.name === PROMETHEUS_NAMES.errors)
        .map((s) => s.labels.error_type)
        .sort(),
    ).toEqual(['HandlerTimeoutError', 'TypeError']);
    expect(samples.some((s) => s.name === PROMETHEUS_NAMES.rejections)).toBe(false);
    await metrics.shutdown();
  });
});
