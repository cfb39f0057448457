/**
 * The broker-path floor: raw amqplib on the same RabbitMQ — persistent publishes on a confirm channel
 * (50 in flight, as 50 HTTP connections would hold at the ingress), one durable queue (classic, or
 * quorum with `"queueType":"quorum"`), a consumer with
 * prefetch 50 and a manual ack per message. Nothing else. `"noDelay":true` sets TCP_NODELAY on its
 * socket (amqplib leaves Nagle on by default; Go's net, hence eventing-rabbitmq, and our broker turn it off). Prints BENCHJSON with deliveries/s and the
 * publish → consume latency percentiles. Runs as its own process, pinned by the caller.
 *   node bench/src/amqp-floor.ts '{"url":"amqp://…","seconds":5,"warmupSeconds":1,"inFlight":50}'
 */
import amqp from 'amqplib';
import { EVENT_BODY, EVENT_HEADERS } from './event.ts';
import { percentile } from './stats.ts';

interface FloorArgs {
  readonly url: string;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly inFlight: number;
  /** @default classic */
  readonly queueType?: 'classic' | 'quorum';
  /** TCP_NODELAY on the AMQP socket. @default false (amqplib's default) */
  readonly noDelay?: boolean;
}

const args = JSON.parse(process.argv[2] ?? '{}') as FloorArgs;
const queue = `sluice-bench-floor-${process.pid}`;
const connection = await amqp.connect(args.url, { noDelay: args.noDelay === true });
const publisher = await connection.createConfirmChannel();
const consumer = await connection.createChannel();
await publisher.assertQueue(queue, {
  durable: true,
  arguments: { 'x-queue-type': args.queueType ?? 'classic' },
});
await consumer.prefetch(args.inFlight);

const body = Buffer.from(EVENT_BODY);
let measuring = false;
let stopping = false;
let delivered = 0;
const latencies: number[] = [];
let sequence = 0;

await consumer.consume(
  queue,
  (msg) => {
    if (msg === null) return;
    if (measuring) {
      delivered++;
      const sent = Number(msg.properties.headers?.['x-sent-ns']);
      latencies.push(Number(process.hrtime.bigint() - BigInt(sent)) / 1e6);
    }
    consumer.ack(msg);
  },
  { noAck: false },
);

const publishOne = (): void => {
  if (stopping) return;
  publisher.publish(
    '',
    queue,
    body,
    {
      persistent: true,
      contentType: 'application/json',
      headers: {
        ...EVENT_HEADERS,
        'ce-id': `floor-${++sequence}`,
        'x-sent-ns': String(process.hrtime.bigint()),
      },
    },
    (err) => {
      if (err === null || err === undefined) publishOne();
    },
  );
};
for (let i = 0; i < args.inFlight; i++) publishOne();

await new Promise((r) => setTimeout(r, args.warmupSeconds * 1000));
const cpu0 = process.cpuUsage();
measuring = true;
const started = performance.now();
await new Promise((r) => setTimeout(r, args.seconds * 1000));
measuring = false;
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
stopping = true;
await publisher.waitForConfirms().catch(() => {});
await consumer.deleteQueue(queue).catch(() => {});
await connection.close();
process.stdout.write(
  `BENCHJSON ${JSON.stringify({
    rate: delivered / elapsed,
    delivered,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    // Share of one core while measuring (compare with broker-host's brokerCpu).
    cpu: (cpu.user + cpu.system) / 1e6 / elapsed,
  })}\n`,
);
