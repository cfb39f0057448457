import { describe, expect, it } from 'vitest';
import { formatPlan, oddCeil, type PlatformCosts, plan, type SystemProfile } from './model.ts';
import { PLATFORM_COSTS, SYSTEMS } from './profiles.ts';

const s = (value: number) => ({ value, source: 'test' });
/** Round figures, so every number below can be checked by hand. */
const costs: PlatformCosts = {
  brokerCpuMsPerHop: s(0.5),
  rabbitmqCpuMsPerMessage: s(0.2),
  quorumQueueMaxRate: s(5000),
  quorumReplicas: 3,
  mongoPrimaryOpsPerSecond: s(10_000),
  deliveryLatencyMs: s(50),
};
const system: SystemProfile = {
  name: 'two-step',
  entry: 'events',
  publishes: 2,
  steps: [
    { name: 'first', cpuMs: s(1.4), storeCalls: s(2), documents: s(6), deliveries: 1 },
    { name: 'second', cpuMs: s(0.7), storeCalls: s(1), documents: s(2), deliveries: 2 },
  ],
};
const hw = { instanceCores: 1, targetUtilization: 0.7, nodeCores: 8, nodeUtilization: 0.5 };

describe('capacity model', () => {
  it('sizes each step from its CPU per event at the target utilization, and its in-flight deliveries by Little', () => {
    const p = plan(1000, system, costs, hw);
    // 1000/s × 1.4 ms = 1.4 cores → ceil(1.4 / 0.7) = 2; 1000/s × 0.7 ms = 0.7 cores → 1.
    expect(p.steps.map((x) => [x.name, x.cores, x.replicas])).toEqual([
      ['first', 1.4, 2],
      ['second', 0.7, 1],
    ]);
    // 1000/s × 1 delivery × 50 ms = 50 in flight; the second step gets 2 deliveries per event.
    expect(p.steps.map((x) => x.inFlight)).toEqual([50, 100]);
    expect(p.steps.map((x) => x.storeCallsPerSecond)).toEqual([2000, 1000]);
    expect(p.steps.map((x) => x.documentsPerSecond)).toEqual([6000, 2000]);
  });

  it('counts broker hops, replicated RabbitMQ work, and the busiest queue', () => {
    const p = plan(1000, system, costs, hw);
    // 3 deliveries + 2 publishes = 5 hops per event.
    expect(p.broker).toEqual({ hopsPerSecond: 5000, cores: 2.5 });
    // 3,000 msg/s × 3 replicas × 0.2 ms = 1.8 cores; at least the 3 replicas' nodes.
    expect(p.rabbitmq.messagesPerSecond).toBe(3000);
    expect(p.rabbitmq.cores).toBeCloseTo(1.8);
    expect(p.rabbitmq.nodes).toBe(3);
    expect(p.rabbitmq.busiestQueueRate).toBe(2000);
  });

  it('shards MongoDB by documents (not round trips), adds nodes for the work, and says what breaks first', () => {
    const small = plan(1000, system, costs, hw);
    // A batched write is one round trip but each of its documents is the primary's work.
    expect(small.mongodb).toEqual({ opsPerSecond: 8000, roundTripsPerSecond: 3000, shards: 1 });
    // 3 instance cores + 2.5 broker + 1.8 RabbitMQ = 7.3 cores over 4-core shares → 2, at least 3 nodes.
    expect(small.workCores).toBeCloseTo(7.3);
    expect(small.nodes).toBe(3);
    expect(small.bottlenecks.every((b) => b.load < 1)).toBe(true);

    const big = plan(10_000, system, costs, hw);
    expect(big.mongodb).toEqual({ opsPerSecond: 80_000, roundTripsPerSecond: 30_000, shards: 8 });
    expect(big.storeNodes).toBe(24);
    expect(big.bottlenecks.map((b) => [b.what.split(' (')[0], b.load])).toEqual([
      ['the MongoDB primary', 8],
      ["the busiest Trigger's quorum queue", 4],
    ]);
    expect(formatPlan(big, system, costs, hw)).toContain('BREAKS 8.00  the MongoDB primary');
  });

  it('keeps Raft clusters odd and refuses a rate that is not positive', () => {
    expect([0.2, 1, 2, 3, 4.1].map(oddCeil)).toEqual([1, 1, 3, 3, 5]);
    expect(() => plan(0, system, costs, hw)).toThrow(RangeError);
  });

  it('prints the banking plan at 10k/s with its inputs and their sources', () => {
    const text = formatPlan(
      plan(10_000, SYSTEMS.banking as SystemProfile, PLATFORM_COSTS),
      SYSTEMS.banking as SystemProfile,
      PLATFORM_COSTS,
    );
    expect(text).toContain('capacity plan: 10,000 transfers/s through banking');
    expect(text).toContain('measured: make bench pipeline');
    expect(text).toMatch(/transaction-processor: \d+ replicas/);
    expect(text).toContain('what breaks first');
  });
});
