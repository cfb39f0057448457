/**
 * The drill on a cluster (`make drill` with KUBECONFIG set): billing's Trigger is paused by scaling its
 * eventing-rabbitmq dispatcher Deployment, `billing-dispatcher`, to 0 and resumed by scaling it back to 1 (its queue
 * keeps the orders meanwhile); the queue's depth comes from RabbitMQ itself (`rabbitmqctl list_queues` in the
 * broker's RabbitMQ pod; the Trigger's queue is `<namespace>.billing.<trigger uid>`, eventing-rabbitmq's name).
 * Billing's database is not exposed outside the cluster, so bills are checked through GET /api/billing/{orderId}.
 * Every command is printed as `+ kubectl …`; with DRY_RUN=1 only printed (the plan, tested like make deploy's).
 *
 * A Trigger with a KEDA ScaledObject on its dispatcher must be paused on the ScaledObject instead
 * (`autoscaling.keda.sh/paused-replicas: "0"`), or KEDA scales it back; billing's has none.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BILLING_TRIGGER, type DrillPlatform } from './drill.ts';

const run = promisify(execFile);

export interface ClusterOptions {
  readonly kubectl: string;
  readonly namespace: string;
  /** Where the broker's RabbitmqCluster runs: the environment's data namespace. */
  readonly rabbitmqNamespace: string;
  /** @default rabbitmq-server-0 */
  readonly rabbitmqPod: string;
  readonly dryRun: boolean;
  readonly out: (line: string) => void;
}

const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

export function clusterPlatform(o: ClusterOptions): DrillPlatform & { gatewayUrl(): Promise<string> } {
  const dispatcher = `deployment/${BILLING_TRIGGER}-dispatcher`;
  const kubectl = async (args: readonly string[], dryAnswer = ''): Promise<string> => {
    o.out(`+ ${[o.kubectl, ...args].map(quote).join(' ')}`);
    if (o.dryRun) return dryAnswer;
    return (await run(o.kubectl, [...args], { timeout: 120_000 })).stdout.trim();
  };
  const scale = async (replicas: number): Promise<void> => {
    await kubectl(['-n', o.namespace, 'scale', dispatcher, `--replicas=${replicas}`]);
    await kubectl(['-n', o.namespace, 'rollout', 'status', dispatcher, '--timeout=120s']);
  };
  let queue: string | undefined;
  return {
    description: `the cluster (namespace ${o.namespace}, ${o.kubectl} scale ${dispatcher})`,
    pause: () => scale(0),
    resume: () => scale(1),
    async depth() {
      if (queue === undefined) {
        const uid = await kubectl(
          ['-n', o.namespace, 'get', 'trigger', BILLING_TRIGGER, '-o', 'jsonpath={.metadata.uid}'],
          '<trigger-uid>',
        );
        queue = `${o.namespace}.${BILLING_TRIGGER}.${uid}`;
      }
      const listing = await kubectl(
        [
          '-n',
          o.rabbitmqNamespace,
          'exec',
          o.rabbitmqPod,
          '-c',
          'rabbitmq',
          '--',
          'rabbitmqctl',
          'list_queues',
          '--quiet',
          '--no-table-headers',
          'name',
          'messages',
        ],
        `${queue}\t0`,
      );
      const line = listing.split('\n').find((l) => l.split(/\s+/)[0] === queue);
      if (line === undefined) throw new Error(`RabbitMQ has no queue ${queue}`);
      return Number(line.split(/\s+/)[1]);
    },
    async gatewayUrl() {
      return kubectl(
        ['-n', o.namespace, 'get', 'ksvc', 'api-gateway', '-o', 'jsonpath={.status.url}'],
        'http://api-gateway.<namespace>.<node-ip>.sslip.io',
      );
    },
  };
}
