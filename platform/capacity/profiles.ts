/**
 * The model's inputs, each with where it comes from (docs/capacity.md, "Inputs"). Measured figures are `make
 * bench` runs on this 2-core machine (docs/performance.md, with their dates); a loaded machine makes them
 * pessimistic. Estimates say so; replace them with measurements when a bench section covers them.
 */
import type { PlatformCosts, SystemProfile } from './model.ts';

export const PLATFORM_COSTS: PlatformCosts = {
  brokerCpuMsPerHop: {
    value: 0.15,
    source:
      'measured: make bench pipeline on FerretDB/PostgreSQL 2026-11-29 17:35Z, 0.9 ms of broker CPU per transfer over 6 hops (2 publishes, 4 deliveries); the broker path alone: 0.24 ms per event over 2 hops',
  },
  rabbitmqCpuMsPerMessage: {
    value: 0.18,
    source:
      'measured upper bound: the quorum floor did 8,316 msg/s on this 2-core machine with its client at 47 % of a core, so RabbitMQ had at most 1.53 cores',
  },
  quorumQueueMaxRate: {
    value: 11_992,
    source:
      'measured: one quorum queue, one node, confirms and acks, 50 in flight (make bench, quiet machine, 2026-11-29 17:35Z)',
  },
  quorumReplicas: 3,
  mongoPrimaryOpsPerSecond: {
    value: 20_000,
    source:
      'assumed: MongoDB publishes no throughput figures; small documents written with w:majority on an 8-core primary, to replace with make bench on MongoDB',
  },
  deliveryLatencyMs: {
    value: 17.6,
    source:
      "derived: 50 in flight ÷ 2,840 events/s (Little's law), the broker path on quorum queues (make bench, quiet machine, 2026-11-29 17:35Z)",
  },
};

/** The function path without a handler: 73 µs of CPU per request (make bench 2026-11-29 16:49Z, quiet). */
const RUNTIME_MS = 0.073;
const estimate = (storeCalls: number): { value: number; source: string } => ({
  value: Math.round((RUNTIME_MS + 0.09 * storeCalls) * 100) / 100,
  source: `estimate: the runtime path (${RUNTIME_MS} ms, make bench) + ~0.09 ms of driver work per store call; not measured alone`,
});
/** The banking pipeline's figures: make bench, FerretDB/PostgreSQL, 20,000 transfers, quiet machine. */
const PIPELINE = 'measured: make bench pipeline, FerretDB/PostgreSQL, 2026-11-29 17:35Z';

export const SYSTEMS: Readonly<Record<string, SystemProfile>> = {
  banking: {
    name: 'banking',
    entry: 'transfers',
    publishes: 2,
    steps: [
      {
        name: 'transaction-processor',
        cpuMs: { value: 0.3, source: `${PIPELINE}, CPU per transfer` },
        storeCalls: { value: 0.2, source: `${PIPELINE}, sluice_store_calls_total (group commit)` },
        documents: { value: 2, source: 'by design: the debit and the credit entry (docs/banking.md)' },
        deliveries: 1,
      },
      {
        name: 'transaction-journal',
        cpuMs: { value: 0.3, source: `${PIPELINE}, CPU per transfer` },
        storeCalls: { value: 0.4, source: `${PIPELINE}, sluice_store_calls_total (group commit)` },
        documents: { value: 2, source: 'by design: the journal entry and its marker' },
        deliveries: 1,
      },
      {
        name: 'accounts-api',
        cpuMs: { value: 0.4, source: `${PIPELINE}, CPU per transfer` },
        storeCalls: { value: 0.7, source: `${PIPELINE}, sluice_store_calls_total (group commit)` },
        documents: { value: 3, source: 'by design: two balances and the outcome' },
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
        documents: { value: 4, source: 'one per store call (none is batched)' },
        deliveries: 1,
      },
    ],
  },
};
