import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BANKING,
  BENCH_DEAD_LETTER,
  BENCH_SUBSCRIBER,
  benchManifests,
  cpuTicksFromStat,
  cpuTimesFromStat,
  declaredQueueType,
  PIPELINE_FUNCTIONS,
  parseBrokerBenchArgs,
  pipelineManifests,
} from './broker-bench.ts';

describe('benchManifests', () => {
  it('declares one classic-queue broker and one trigger with an exact type filter and the given parallelism', () => {
    const m = benchManifests({ eventType: 'dev.sluice.bench.x.v1', parallelism: 37 });
    expect(m.broker.queueType).toBe('classic');
    expect(m.triggers).toHaveLength(1);
    const t = m.triggers[0];
    expect(t?.filter).toEqual({ type: 'dev.sluice.bench.x.v1' });
    expect(t?.parallelism).toBe(37);
    expect(t?.subscriber.ref?.name).toBe(BENCH_SUBSCRIBER);
    expect(t?.delivery?.retry).toBe(0);
    expect(t?.delivery?.deadLetterSink?.ref?.name).toBe(BENCH_DEAD_LETTER);
    expect(m.warnings).toEqual([]);
  });
});

describe('declaredQueueType', () => {
  it("reads the queue type of the project's RabbitmqBrokerConfig (quorum, as upstream's default)", () => {
    expect(declaredQueueType(join(import.meta.dirname, '../..'))).toBe('quorum');
  });

  it('is what the bench broker runs on when asked', () => {
    expect(benchManifests({ eventType: 't', parallelism: 1, queueType: 'quorum' }).broker.queueType).toBe(
      'quorum',
    );
    expect(
      parseBrokerBenchArgs(
        '{"url":"amqp://x","seconds":1,"warmupSeconds":1,"inFlight":2,"queueType":"quorum"}',
      ).queueType,
    ).toBe('quorum');
    expect(
      parseBrokerBenchArgs('{"url":"amqp://x","seconds":1,"warmupSeconds":1,"inFlight":2}').queueType,
    ).toBe('classic');
  });

  it("records into make dev's console only when asked (the recording row of the broker path)", () => {
    const base = '"url":"amqp://x","seconds":1,"warmupSeconds":1,"inFlight":2';
    expect(parseBrokerBenchArgs(`{${base}}`).recording).toBe(false);
    expect(parseBrokerBenchArgs(`{${base},"recording":true}`).recording).toBe(true);
  });
});

describe('pipelineManifests', () => {
  it("routes transfers through the project's banking triggers only: no bench subscriber behind the broker", () => {
    const m = pipelineManifests(join(import.meta.dirname, '../..'), 'quorum');
    expect(m.broker.queueType).toBe('quorum');
    const route = m.triggers.map((t) => `${t.filter.type} → ${t.subscriber.ref?.name}`).sort();
    expect(route).toContain(`${BANKING.submitted} → transaction-processor`);
    expect(route).toContain(`${BANKING.processed} → transaction-journal`);
    expect(route).toContain(`${BANKING.processed} → accounts-api`);
    expect(m.triggers.filter((t) => t.subscriber.ref?.name === BENCH_SUBSCRIBER)).toEqual([]);
    expect(new Set(m.triggers.map((t) => t.subscriber.ref?.name))).toEqual(new Set(PIPELINE_FUNCTIONS));
    expect(m.warnings).toEqual([]);
  });
});

describe('parseBrokerBenchArgs', () => {
  it('returns the arguments broker.ts passes, with the server cpu defaulting to 0', () => {
    expect(parseBrokerBenchArgs('{"url":"amqp://h","seconds":3,"warmupSeconds":1,"inFlight":50}')).toEqual({
      url: 'amqp://h',
      seconds: 3,
      warmupSeconds: 1,
      inFlight: 50,
      serverCpu: '0',
      queueType: 'classic',
      recording: false,
    });
  });

  it('throws when a number is missing or not positive', () => {
    expect(() => parseBrokerBenchArgs('{"url":"amqp://h","seconds":3,"warmupSeconds":1}')).toThrow(
      /inFlight/,
    );
    expect(() =>
      parseBrokerBenchArgs('{"url":"amqp://h","seconds":0,"warmupSeconds":1,"inFlight":5}'),
    ).toThrow(/seconds/);
  });
});

describe('cpuTicksFromStat', () => {
  it('returns utime + stime of a /proc/<pid>/stat line, also when the command name holds spaces', () => {
    const tail = 'R 1 1 1 0 -1 4194304 99 0 0 0 17 5 0 0 20 0 1 0 678006 3133440 357';
    expect(cpuTicksFromStat(`42 (node) ${tail}`)).toBe(22);
    expect(cpuTicksFromStat(`42 (a b) c) ${tail}`)).toBe(22);
    expect(cpuTimesFromStat(`42 (a b) c) ${tail}`)).toEqual({ user: 17, system: 5 });
  });

  it('returns undefined for a truncated line', () => {
    expect(cpuTicksFromStat('42 (node) R 1 1')).toBeUndefined();
    expect(cpuTimesFromStat('42 (node) R 1 1')).toBeUndefined();
  });
});
