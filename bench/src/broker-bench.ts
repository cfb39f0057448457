/**
 * Pure parts of the broker-path benchmark (broker-host.ts): the in-memory manifests of the one broker
 * and one trigger it runs, and the arguments both of its processes read. Kept apart so they are unit
 * tested without starting anything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EventingManifests, parseEventingManifests } from '../../eventing/src/index.ts';
import { brokerYaml } from '../../eventing/src/testing/manifests.ts';

/** Subscriber and dead-letter sink names in the manifests (resolveSubscriber maps them to URLs). */
export const BENCH_SUBSCRIBER = 'bench-sink';
export const BENCH_DEAD_LETTER = 'dead-letter-sink';
/** CloudEvent extension carrying the poster's clock at POST time (performance.now(), ms). */
export const SENT_EXTENSION = 'benchsent';

export interface BrokerBenchArgs {
  readonly url: string;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Concurrent POSTs at the ingress = trigger parallelism (= the floor's publishes in flight and prefetch). */
  readonly inFlight: number;
  readonly serverCpu: string;
  /** The trigger queues' type (the floor's queue too). @default classic */
  readonly queueType: QueueType;
  /** Feed `make dev`'s console recorder from the broker (onAccepted + onTrail), as make dev does. @default false */
  readonly recording: boolean;
}

export type QueueType = 'classic' | 'quorum';

/** The queue type the project's Broker declares (eventing/manifests/broker.yaml, RabbitmqBrokerConfig). */
export function declaredQueueType(root: string): QueueType {
  const file = join(root, 'eventing/manifests/broker.yaml');
  return parseEventingManifests([{ file: 'broker.yaml', text: readFileSync(file, 'utf8') }]).broker.queueType;
}

export interface BenchManifestOptions {
  readonly eventType: string;
  readonly parallelism: number;
  /** @default classic */
  readonly queueType?: QueueType;
}

export interface BenchTrigger {
  readonly name: string;
  /** Exact `type` filter. */
  readonly type: string;
  /** Knative Service name the subscriber ref points at (resolveSubscriber maps it to a URL). */
  readonly subscriber: string;
  readonly parallelism: number;
}

/** Pipeline benchmark: the banking functions it runs (folder = Knative Service name). */
export const PIPELINE_FUNCTIONS = ['transaction-processor', 'transaction-journal', 'accounts-api'] as const;
export type PipelineFunction = (typeof PIPELINE_FUNCTIONS)[number];
export const BANKING = {
  accountOpened: 'dev.sluice.banking.account.opened.v1',
  submitted: 'dev.sluice.banking.transaction.submitted.v1',
  processed: 'dev.sluice.banking.transaction.processed.v1',
  rejected: 'dev.sluice.banking.transaction.rejected.v1',
} as const;

/**
 * One Broker (classic queues, like the floor's queue, unless told otherwise) and one Trigger with an
 * exact type filter, no retries, a dead-letter sink. Parallelism = the floor's prefetch, so both sides
 * hold the same number of unacked messages.
 */
export function benchManifests(options: BenchManifestOptions): EventingManifests {
  return manifestsOf(
    [
      {
        name: BENCH_SUBSCRIBER,
        type: options.eventType,
        subscriber: BENCH_SUBSCRIBER,
        parallelism: options.parallelism,
      },
    ],
    options.queueType,
  );
}

/**
 * The banking pipeline as deployed: the project's own banking Triggers (eventing/manifests/banking/triggers,
 * their parallelism, retries and dead-letter sink) on a broker of the declared queue type, and nothing else.
 * The closed loop sees each transfer's reply through a queue of its own (`observeEvents`), not through a
 * Trigger: a bench sink behind the broker would be a fourth delivery per transfer on the pinned core the
 * pipeline is measured on, which `make dev` and the cluster do not have.
 */
export function pipelineManifests(root: string, queueType: QueueType): EventingManifests {
  const dir = join(root, 'eventing/manifests/banking/triggers');
  const banking = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ file: `banking/triggers/${f}`, text: readFileSync(join(dir, f), 'utf8') }));
  return parseEventingManifests([
    { file: 'broker.yaml', text: brokerYaml({ queueType, deadLetterSink: BENCH_DEAD_LETTER }) },
    ...banking,
  ]);
}

function manifestsOf(triggers: readonly BenchTrigger[], queueType: QueueType = 'classic'): EventingManifests {
  const broker = brokerYaml({ queueType, deadLetterSink: BENCH_DEAD_LETTER });
  return parseEventingManifests([
    { file: 'broker.yaml', text: broker },
    ...triggers.map((t) => ({ file: `triggers/${t.name}.yaml`, text: triggerYaml(t) })),
  ]);
}

function triggerYaml(t: BenchTrigger): string {
  return `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: ${t.name}
  namespace: sluice
  annotations: { rabbitmq.eventing.knative.dev/parallelism: "${t.parallelism}" }
spec:
  broker: default
  filter:
    attributes:
      type: ${JSON.stringify(t.type)}
  subscriber:
    ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${t.subscriber} }
  delivery:
    retry: 0
    timeout: PT10S
    deadLetterSink:
      ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: ${BENCH_DEAD_LETTER} }
`;
}

/** Reads the JSON argument broker.ts passes; throws on anything missing so a round fails loudly. */
export function parseBrokerBenchArgs(text: string | undefined): BrokerBenchArgs {
  const raw = JSON.parse(text ?? '{}') as Partial<Record<keyof BrokerBenchArgs, unknown>>;
  const num = (k: 'seconds' | 'warmupSeconds' | 'inFlight'): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`broker-host: bad ${k}`);
    return v;
  };
  if (typeof raw.url !== 'string') throw new Error('broker-host: url missing');
  return {
    url: raw.url,
    seconds: num('seconds'),
    warmupSeconds: num('warmupSeconds'),
    inFlight: Math.trunc(num('inFlight')),
    serverCpu: typeof raw.serverCpu === 'string' ? raw.serverCpu : '0',
    queueType: raw.queueType === 'quorum' ? 'quorum' : 'classic',
    recording: raw.recording === true,
  };
}

/**
 * CPU time (user and system, in clock ticks) from the text of /proc/<pid>/stat. Fields 14 and 15; the
 * command name (field 2) may hold spaces, so fields are counted after its closing parenthesis.
 */
export function cpuTimesFromStat(stat: string): { user: number; system: number } | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  return Number.isFinite(user) && Number.isFinite(system) ? { user, system } : undefined;
}

/** The same, user + system. */
export function cpuTicksFromStat(stat: string): number | undefined {
  const times = cpuTimesFromStat(stat);
  return times === undefined ? undefined : times.user + times.system;
}
