/**
 * The capacity model of docs/capacity.md: for a target event rate, the replicas of each function, the
 * dispatchers' parallelism, RabbitMQ's and MongoDB's load and the node count — from the costs `make bench`
 * measured on this machine (docs/performance.md) and figures the upstream projects published (cited in
 * docs/capacity.md). Pure arithmetic: `make capacity RATE=… [SYSTEM=banking]` prints it (cli.ts).
 */

/** Where a figure comes from: measured here (with the run), published (with the source), or assumed. */
export interface Sourced {
  readonly value: number;
  readonly source: string;
}

/** One function of a system, per entry event of the system (e.g. per transfer submitted). */
export interface StepProfile {
  readonly name: string;
  /** CPU of the function (runtime + handler) per entry event, in ms. */
  readonly cpuMs: Sourced;
  /** Store round trips per entry event (a batch of writes is one). */
  readonly storeCalls: Sourced;
  /**
   * Documents written or read per entry event: what the primary works through (an index update and an
   * oplog entry per document written), however many round trips carry them.
   */
  readonly documents: Sourced;
  /** Deliveries to this function per entry event (through a Trigger). */
  readonly deliveries: number;
}

export interface SystemProfile {
  readonly name: string;
  /** What one "event" of RATE is. */
  readonly entry: string;
  readonly steps: readonly StepProfile[];
  /** Events published to the broker per entry event (the ingress, replies, sources). */
  readonly publishes: number;
}

export interface PlatformCosts {
  /** Broker data-plane CPU per hop (one publish through the ingress, or one dispatch), ms. */
  readonly brokerCpuMsPerHop: Sourced;
  /** RabbitMQ CPU per message (publish + confirm + deliver + ack) on one node, ms. */
  readonly rabbitmqCpuMsPerMessage: Sourced;
  /** What one quorum queue carries at most (its leader is one Erlang process on one node), msg/s. */
  readonly quorumQueueMaxRate: Sourced;
  /** Replicas of each quorum queue (each message is written on every one). */
  readonly quorumReplicas: number;
  /** Small documents written or read per second by one replica-set primary, w:majority (MongoDB publishes no figure). */
  readonly mongoPrimaryOpsPerSecond: Sourced;
  /** End-to-end time of one delivery (dispatch → answer), ms: Little's law gives the parallelism. */
  readonly deliveryLatencyMs: Sourced;
}

export interface Hardware {
  /** CPU a function instance may use (its limit), in cores. */
  readonly instanceCores: number;
  /** The share of an instance's CPU the autoscaler aims at (Knative's target utilization: 70 %). */
  readonly targetUtilization: number;
  /** Cores of one node. */
  readonly nodeCores: number;
  /** The share of a node's cores planned for work (the rest: the kubelet, the system, spikes). */
  readonly nodeUtilization: number;
}

export const DEFAULT_HARDWARE: Hardware = {
  instanceCores: 1,
  targetUtilization: 0.7,
  nodeCores: 8,
  nodeUtilization: 0.6,
};

export interface StepPlan {
  readonly name: string;
  readonly cores: number;
  readonly replicas: number;
  /** Deliveries in flight at RATE (Little's law): the Trigger's dispatchers × parallelism must reach it. */
  readonly inFlight: number;
  readonly storeCallsPerSecond: number;
  readonly documentsPerSecond: number;
}

export interface Bottleneck {
  readonly what: string;
  /** Load ÷ what it can take: above 1 it breaks. */
  readonly load: number;
  readonly remedy: string;
}

export interface CapacityPlan {
  readonly rate: number;
  readonly system: string;
  readonly steps: readonly StepPlan[];
  readonly broker: { readonly hopsPerSecond: number; readonly cores: number };
  readonly rabbitmq: {
    readonly messagesPerSecond: number;
    /** Cluster CPU, every replica's share included. */
    readonly cores: number;
    readonly nodes: number;
    /** The busiest queue's rate (a Trigger's queue carries its whole type). */
    readonly busiestQueueRate: number;
  };
  /** Documents per second (written or read) and the shards they need; round trips for the connection pools. */
  readonly mongodb: {
    readonly opsPerSecond: number;
    readonly roundTripsPerSecond: number;
    readonly shards: number;
  };
  readonly nodes: number;
  /** Nodes for the functions, the broker and RabbitMQ (the replica set beside them when it does not shard). */
  readonly workNodes: number;
  readonly workCores: number;
  /** Nodes of MongoDB's shards (3 members each), when one replica set is not enough. */
  readonly storeNodes: number;
  /** What breaks first, most loaded first. */
  readonly bottlenecks: readonly Bottleneck[];
}

/** The plan for `rate` entry events per second. */
export function plan(
  rate: number,
  system: SystemProfile,
  costs: PlatformCosts,
  hw: Hardware = DEFAULT_HARDWARE,
): CapacityPlan {
  if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`);
  const steps = system.steps.map((s) => {
    const cores = (rate * s.cpuMs.value) / 1000;
    return {
      name: s.name,
      cores,
      replicas: Math.max(1, Math.ceil(cores / (hw.instanceCores * hw.targetUtilization))),
      inFlight: Math.ceil((rate * s.deliveries * costs.deliveryLatencyMs.value) / 1000),
      storeCallsPerSecond: rate * s.storeCalls.value,
      documentsPerSecond: rate * s.documents.value,
    };
  });
  const deliveries = system.steps.reduce((n, s) => n + s.deliveries, 0);
  const hopsPerSecond = rate * (deliveries + system.publishes);
  const brokerCores = (hopsPerSecond * costs.brokerCpuMsPerHop.value) / 1000;
  // Every delivery is one message of one queue; each is written and replicated on every quorum replica.
  const messagesPerSecond = rate * deliveries;
  const rabbitCores = (messagesPerSecond * costs.quorumReplicas * costs.rabbitmqCpuMsPerMessage.value) / 1000;
  const rabbitNodes = Math.max(
    costs.quorumReplicas,
    oddCeil(rabbitCores / (hw.nodeCores * hw.nodeUtilization)),
  );
  const busiestQueueRate = rate * Math.max(...system.steps.map((s) => s.deliveries));
  // The primary's load is the documents, not the round trips: a batched write carries several.
  const opsPerSecond = steps.reduce((n, s) => n + s.documentsPerSecond, 0);
  const roundTripsPerSecond = steps.reduce((n, s) => n + s.storeCallsPerSecond, 0);
  const shards = Math.max(1, Math.ceil(opsPerSecond / costs.mongoPrimaryOpsPerSecond.value));
  const functionCores = steps.reduce((n, s) => n + s.replicas * hw.instanceCores, 0);
  // Function instances at their limits, the broker's data plane, and RabbitMQ; MongoDB's members on nodes of
  // their own when it shards, else beside them (3 members, one per node, like RabbitMQ's).
  const workCores = functionCores + brokerCores + rabbitCores;
  const workNodes = Math.max(3, Math.ceil(workCores / (hw.nodeCores * hw.nodeUtilization)));
  const storeNodes = shards > 1 ? shards * 3 : 0;
  const nodes = workNodes + storeNodes;
  const bottlenecks: Bottleneck[] = [
    {
      what: `the busiest Trigger's quorum queue (${fmt(busiestQueueRate)} msg/s on one leader)`,
      load: busiestQueueRate / costs.quorumQueueMaxRate.value,
      remedy:
        'split the type over several Triggers/Brokers (a queue is one Raft group on one leader: more nodes do not raise it)',
    },
    {
      what: `the MongoDB primary (${fmt(opsPerSecond)} documents/s)`,
      load: opsPerSecond / costs.mongoPrimaryOpsPerSecond.value,
      remedy: 'shard by account/key (each shard its own replica set), or fewer documents per event',
    },
  ];
  bottlenecks.sort((a, b) => b.load - a.load);
  return {
    rate,
    system: system.name,
    steps,
    broker: { hopsPerSecond, cores: brokerCores },
    rabbitmq: { messagesPerSecond, cores: rabbitCores, nodes: rabbitNodes, busiestQueueRate },
    mongodb: { opsPerSecond, roundTripsPerSecond, shards },
    nodes,
    workNodes,
    workCores,
    storeNodes,
    bottlenecks,
  };
}

/** The smallest odd integer ≥ x (a Raft cluster keeps a majority with one node lost only when odd). */
export function oddCeil(x: number): number {
  const n = Math.max(1, Math.ceil(x));
  return n % 2 === 1 ? n : n + 1;
}

const fmt = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2);

/** The plan as text: its inputs first, then the plan, then what breaks first. */
export function formatPlan(
  p: CapacityPlan,
  system: SystemProfile,
  costs: PlatformCosts,
  hw = DEFAULT_HARDWARE,
): string {
  const lines = [
    `capacity plan: ${fmt(p.rate)} ${system.entry}/s through ${system.name}`,
    '',
    'inputs:',
    ...system.steps.flatMap((s) => [
      `  ${s.name}: ${s.cpuMs.value} ms CPU per event (${s.cpuMs.source}); ${s.storeCalls.value} store round trips (${s.storeCalls.source}); ${s.documents.value} documents (${s.documents.source})`,
    ]),
    `  broker data plane: ${costs.brokerCpuMsPerHop.value} ms CPU per hop (${costs.brokerCpuMsPerHop.source})`,
    `  RabbitMQ: ${costs.rabbitmqCpuMsPerMessage.value} ms CPU per message per replica (${costs.rabbitmqCpuMsPerMessage.source}); one quorum queue ≤ ${fmt(costs.quorumQueueMaxRate.value)} msg/s (${costs.quorumQueueMaxRate.source}); ${costs.quorumReplicas} replicas`,
    `  MongoDB: one primary ≤ ${fmt(costs.mongoPrimaryOpsPerSecond.value)} w:majority documents/s (${costs.mongoPrimaryOpsPerSecond.source})`,
    `  delivery latency ${costs.deliveryLatencyMs.value} ms (${costs.deliveryLatencyMs.source}); instance ${hw.instanceCores} core at ${hw.targetUtilization * 100} % target; nodes of ${hw.nodeCores} cores at ${hw.nodeUtilization * 100} %`,
    '',
    'plan:',
    ...p.steps.map(
      (s) =>
        `  ${s.name}: ${s.replicas} ${s.replicas === 1 ? 'replica' : 'replicas'} (${fmt(s.cores)} cores), ${s.inFlight} deliveries in flight (dispatchers × parallelism), ${fmt(s.storeCallsPerSecond)} store round trips/s, ${fmt(s.documentsPerSecond)} documents/s`,
    ),
    `  broker data plane: ${fmt(p.broker.hopsPerSecond)} hops/s, ${fmt(p.broker.cores)} cores (ingress + dispatchers)`,
    `  RabbitMQ: ${p.rabbitmq.nodes} nodes, ${fmt(p.rabbitmq.messagesPerSecond)} msg/s, ${fmt(p.rabbitmq.cores)} cores in all replicas, busiest queue ${fmt(p.rabbitmq.busiestQueueRate)} msg/s`,
    `  MongoDB: ${fmt(p.mongodb.opsPerSecond)} documents/s in ${fmt(p.mongodb.roundTripsPerSecond)} round trips/s → ${p.mongodb.shards === 1 ? 'one replica set (3 members)' : `${p.mongodb.shards} shards of 3 members`}`,
    `  nodes: ${p.nodes} of ${hw.nodeCores} cores (${p.workNodes} for ${fmt(p.workCores)} cores of functions, broker and RabbitMQ${p.storeNodes > 0 ? `, ${p.storeNodes} for MongoDB's shards` : ''})`,
    '',
    'what breaks first (load ÷ capacity):',
    ...p.bottlenecks.map(
      (b) =>
        `  ${b.load >= 1 ? 'BREAKS' : 'ok    '} ${b.load.toFixed(2)}  ${b.what}${b.load >= 1 ? ` — ${b.remedy}` : ''}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
