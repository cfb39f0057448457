import { describe, expect, it } from 'vitest';
import {
  bothEndsFlat,
  endProgress,
  handledCount,
  lastOverFirst,
  parsePipelineArgs,
  pipelineTable,
  pipelineTargets,
  type StoreRun,
  storeCallsByCollection,
  tenthRates,
  tenthRatesFromProgress,
  Workload,
} from './pipeline-bench.ts';

/** A store's result that meets every goal, with `over` changed. */
const storeRun = (over: Partial<StoreRun>): StoreRun => ({
  store: 'ferretdb-postgresql',
  label: 'FerretDB',
  floor: 1000,
  rate: 150,
  transfers: 1000,
  asked: 1000,
  seconds: 7,
  flat: 0.9,
  p99Ms: 500,
  calls: undefined,
  cpu: undefined,
  rssMb: { host: 100, 'transaction-processor': 90, 'transaction-journal': 80, 'accounts-api': 85 },
  ok: true,
  ...over,
});

describe('tenthRates', () => {
  it('splits the completions into ten equal counts and gives each its rate', () => {
    // 100 completions, one every 10 ms for the first half, every 20 ms after.
    const times = Array.from({ length: 100 }, (_, i) => (i < 50 ? (i + 1) * 10 : 500 + (i - 49) * 20));
    const rates = tenthRates(times.reverse(), 0);
    expect(rates).toHaveLength(10);
    expect(rates[0]).toBeCloseTo(100);
    expect(rates[9]).toBeCloseTo(50);
  });

  it('gives nothing for fewer than ten completions', () => {
    expect(tenthRates([1, 2, 3], 0)).toEqual([]);
  });
});

describe('tenthRatesFromProgress', () => {
  it('reads each tenth where the sampled count crosses it, between readings', () => {
    // 1,000 transfers: 1 per ms until 520 ms, then 1 per 2 ms to the last at 1,480 ms; read every 40 ms, so
    // that the first five tenths end between two readings.
    const doneAt = (t: number): number => (t <= 520 ? t : Math.min(1000, 520 + (t - 520) / 2));
    const samples = Array.from({ length: 40 }, (_, i) => ({ at: i * 40, done: doneAt(i * 40) }));
    const rates = tenthRatesFromProgress(samples, 1000, 0);
    // Tenth 6 runs 500 → 680 ms; the others at 1,000/s, then 500/s.
    const expected = [1000, 1000, 1000, 1000, 1000, 100 / 0.18, 500, 500, 500, 500];
    expect(rates).toHaveLength(10);
    rates.forEach((r, k) => {
      expect(r / (expected[k] as number)).toBeCloseTo(1, 6);
    });
    expect(lastOverFirst(rates)).toBeCloseTo(0.5, 6);
  });

  it('starts the first tenth once the earlier transfers (readings below zero) are through', () => {
    // A backlog of 200 earlier transfers, then 1 per ms: every tenth at 1,000/s, the first from 200 ms; the
    // last transfer at 1,200 ms, on a reading.
    const samples = Array.from({ length: 35 }, (_, i) => ({
      at: i * 40,
      done: Math.min(1000, i * 40 - 200),
    }));
    const rates = tenthRatesFromProgress(samples, 1000, 0);
    expect(rates).toHaveLength(10);
    for (const r of rates) expect(r / 1000).toBeCloseTo(1, 6);
  });

  it('gives nothing when the readings never reach the last tenth, or for fewer than ten transfers', () => {
    const samples = [
      { at: 100, done: 50 },
      { at: 200, done: 95 },
    ];
    expect(tenthRatesFromProgress(samples, 100, 0)).toEqual([]);
    expect(tenthRatesFromProgress([{ at: 100, done: 9 }], 9, 0)).toEqual([]);
  });
});

describe('endProgress', () => {
  it("counts a measured transfer through once every function has handled it, the last reading's count ending the run", () => {
    // Two functions: the journal 20 events behind accounts-api (which also saw 100 openings) at first.
    const readings = [
      { at: 0, counts: [480, 620] },
      { at: 100, counts: [560, 700] },
      { at: 200, counts: [700, 720] },
      { at: 300, counts: [800, 820] },
    ];
    // 300 measured transfers: each function's last 300 events.
    expect(endProgress(readings, 300).map((p) => p.done)).toEqual([-20, 60, 200, 300]);
  });
});

describe('handledCount', () => {
  it('adds up faas_invocations_total of outcome="success" over every event type', () => {
    const text = [
      '# TYPE faas_invocations_total counter',
      'faas_invocations_total{cloudevents_event_type="a",outcome="success",service_name="j"} 40',
      'faas_invocations_total{cloudevents_event_type="b",outcome="success",service_name="j"} 2',
      'faas_invocations_total{cloudevents_event_type="a",outcome="replayed",service_name="j"} 7',
      'sluice_store_calls_total{outcome="success"} 9',
    ].join('\n');
    expect(handledCount(text)).toBe(42);
  });
});

describe('storeCallsByCollection', () => {
  it('adds up sluice_store_calls_total per collection and ignores other families', () => {
    const text = [
      '# HELP sluice_store_calls_total Calls to the store',
      'sluice_store_calls_total{service_name="p",db_collection_name="sluice_idempotency",db_operation_name="insertOne"} 20',
      'sluice_store_calls_total{service_name="p",db_collection_name="sluice_idempotency",db_operation_name="findOne"} 2',
      'sluice_store_calls_total{service_name="p",db_collection_name="banking_entries",db_operation_name="insertOne"} 21',
      'faas_invocations_total{service_name="p"} 10',
    ].join('\n');
    expect(storeCallsByCollection(text)).toEqual({ sluice_idempotency: 22, banking_entries: 21 });
  });
});

describe('parsePipelineArgs', () => {
  it('needs the RabbitMQ URL and a transfer count, and defaults the rest', () => {
    const a = parsePipelineArgs('{"url":"amqp://h","transfers":100}');
    expect(a).toMatchObject({
      url: 'amqp://h',
      transfers: 100,
      inFlight: 50,
      queueType: 'quorum',
      serverCpu: '0',
      workload: Workload.neighbours,
    });
    expect(a.mongodbUrl).toBeUndefined();
    expect(parsePipelineArgs('{"url":"amqp://h","transfers":1,"workload":"inject"}').workload).toBe(
      Workload.inject,
    );
    expect(() => parsePipelineArgs('{"transfers":1}')).toThrow(/url/);
    expect(() => parsePipelineArgs('{"url":"amqp://h"}')).toThrow(/transfers/);
  });

  it('runs no warm-up unless asked, and refuses a negative one', () => {
    expect(parsePipelineArgs('{"url":"amqp://h","transfers":100}').warmupTransfers).toBe(0);
    expect(parsePipelineArgs('{"url":"amqp://h","transfers":100,"warmupTransfers":0}').warmupTransfers).toBe(
      0,
    );
    expect(parsePipelineArgs('{"url":"amqp://h","transfers":100,"warmupTransfers":10}').warmupTransfers).toBe(
      10,
    );
    expect(() => parsePipelineArgs('{"url":"amqp://h","transfers":100,"warmupTransfers":-1}')).toThrow(
      /warmupTransfers/,
    );
  });
});

describe('pipelineTable', () => {
  it('says how many transfers warmed the pipeline up, and at what rate, on the rows that had them', () => {
    const base = storeRun({ store: 'memory', label: 'dev store', rssMb: undefined });
    const [, , warmed, cold] = pipelineTable([{ ...base, warmup: 100, warmupRate: 80.4 }, base]);
    expect(warmed).toContain(
      'dev store: 1000 of 1000 transfers in 7 s, after 100 warm-up transfers (80/s) |',
    );
    expect(cold).toContain('dev store: 1000 of 1000 transfers in 7 s |');
    const [target] = pipelineTargets([{ ...base, warmup: 100, warmupRate: 80.4 }]);
    expect(target?.note).toContain('after 100 warm-up transfers (80/s)');
  });
});

describe('pipelineTargets', () => {
  it("gives make inject's workload no target line: its row is reported, the goal is on the neighbours' loop", () => {
    const targets = pipelineTargets([storeRun({}), storeRun({ workload: Workload.inject, rate: 10 })]);
    expect(targets.map((t) => t.name)).toEqual(['pipeline-ferretdb-postgresql']);
  });

  it('meets the goal only with the ratio, flatness, every transfer and the invariants', () => {
    const [met] = pipelineTargets([storeRun({})]);
    expect(met).toMatchObject({ name: 'pipeline-ferretdb-postgresql', met: true });
    expect(met?.ratio).toBeCloseTo(0.15);
    expect(pipelineTargets([storeRun({ flat: 0.5 })])[0]?.met).toBe(false);
    expect(pipelineTargets([storeRun({ transfers: 900 })])[0]?.met).toBe(false);
    expect(pipelineTargets([storeRun({ ok: false })])[0]?.met).toBe(false);
    expect(pipelineTargets([storeRun({ rate: 50 })])[0]?.met).toBe(false);
  });

  it('needs both ends flat: the replies, and the end of the pipeline whose last tenths may be a catch-up', () => {
    // The journal's backlog drained fast once the loop stopped (end 4.49) while the replies slowed (0.7).
    const slowReplies = pipelineTargets([storeRun({ flat: 4.49, replyFlat: 0.7 })])[0];
    expect(slowReplies?.met).toBe(false);
    expect(slowReplies?.note).toContain('last tenth 0.70 × the first at both ends');
    expect(pipelineTargets([storeRun({ flat: 0.7, replyFlat: 1.2 })])[0]?.met).toBe(false);
    expect(pipelineTargets([storeRun({ flat: 4.49, replyFlat: 1.02 })])[0]?.met).toBe(true);
    expect(bothEndsFlat({ flat: 0.9 })).toBe(0.9);
    expect(pipelineTable([storeRun({ flat: 4.49, replyFlat: 1.02 })])[2]).toContain('| 1.02 |');
  });

  it('holds the in-memory store to its memory bounds', () => {
    expect(pipelineTargets([storeRun({ store: 'memory' })])[0]?.met).toBe(true);
    const big = storeRun({
      store: 'memory',
      rssMb: { host: 100, 'transaction-processor': 200, 'transaction-journal': 80, 'accounts-api': 85 },
    });
    expect(pipelineTargets([big])[0]?.met).toBe(false);
  });
});
