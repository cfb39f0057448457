/**
 * The model's inputs, each with where it comes from (docs/capacity.md, "Inputs"). Measured figures are `make
 * bench` runs on this 2-core machine (docs/performance.md, with their dates); a loaded machine makes them
 * pessimistic. Estimates say so; replace them with measurements when a bench section covers them.
 */
import type { PlatformCosts, SystemProfile } from './model.ts';

export const PLATFORM_COSTS: PlatformCosts = {
  brokerCpuMsPerHop: {
    value: 0.45,
    source:
      'measured: make bench pipeline, ~1.8 ms of broker CPU per transfer over 4 hops (2 publishes, 2 deliveries)',
  },
  rabbitmqCpuMsPerMessage: {
    value: 0.18,
    source:
      'measured upper bound: the quorum floor did 8,316 msg/s on this 2-core machine with its client at 47 % of a core, so RabbitMQ had at most 1.53 cores',
  },
  quorumQueueMaxRate: {
    value: 8316,
    source:
      'measured: one quorum queue, one node, confirms and acks, 50 in flight (make bench-quick 2026-11-29)',
  },
  quorumReplicas: 3,
  mongoPrimaryOpsPerSecond: {
    value: 20_000,
    source:
      'assumed: MongoDB publishes no throughput figures; small single-document inserts on an 8-core primary, to replace with make bench on MongoDB',
  },
  deliveryLatencyMs: {
    value: 55.5,
    source: 'measured: broker path p50 on quorum queues, 50 in flight (make bench-quick 2026-11-29)',
  },
};

/** The function path without a handler: 7,224 req/s on one core (make bench 2026-11-23). */
const RUNTIME_MS = 0.138;
const estimate = (storeCalls: number): { value: number; source: string } => ({
  value: Math.round((RUNTIME_MS + 0.09 * storeCalls) * 100) / 100,
  source: `estimate: the runtime path (${RUNTIME_MS} ms, make bench) + ~0.09 ms of driver work per store call; not measured alone`,
});

export const SYSTEMS: Readonly<Record<string, SystemProfile>> = {
  banking: {
    name: 'banking',
    entry: 'transfers',
    publishes: 2,
    steps: [
      {
        name: 'transaction-processor',
        cpuMs: { value: 1.6, source: 'measured: make bench pipeline, the processor per transfer' },
        storeCalls: { value: 9.3, source: 'measured: make bench pipeline, sluice_store_calls_total' },
        deliveries: 1,
      },
      {
        name: 'transaction-journal',
        cpuMs: estimate(4),
        storeCalls: { value: 4, source: 'measured: make bench pipeline' },
        deliveries: 1,
      },
      {
        name: 'accounts-api',
        cpuMs: estimate(5.3),
        storeCalls: { value: 5.3, source: 'measured: make bench pipeline' },
        deliveries: 1,
      },
    ],
  },
  streams: {
    name: 'streams',
    entry: 'readings',
    // The RabbitmqSource's publish into the broker.
    publishes: 1,
    steps: [
      {
        name: 'window-aggregator',
        cpuMs: estimate(4),
        storeCalls: {
          value: 4,
          source: 'measured: make bench streams (idempotency claim and completion, insert, seal lookup)',
        },
        deliveries: 1,
      },
    ],
  },
};
