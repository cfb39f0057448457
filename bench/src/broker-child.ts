/**
 * The broker of a bench run, as its own process (spawned pinned to the server core by
 * bench-processes.ts `startBrokerChild`): startBroker with in-memory manifests on real RabbitMQ. Prints
 * `READY <url> <topology names (+ the console's url and token when recording)>`; when its stdin closes it
 * deletes its exchanges and queues and exits.
 *   node bench/src/broker-child.ts '{"url":"amqp://…","manifests":{…},"subscribers":{"bench-sink":"http://…"}}'
 */
import { startBroker } from '../../eventing/src/index.ts';
import { JsonLogger } from '../../functions/runtime/src/index.ts';
import { startConsoleServer } from '../../platform/local/src/console/console-server.ts';
import { EventRecorder } from '../../platform/local/src/console/recorder.ts';
import type { BrokerChildArgs } from './bench-processes.ts';
import { benchManifests, pipelineManifests, type QueueType } from './broker-bench.ts';
import { ROOT } from './servers.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as BrokerChildArgs;
const m = args.manifests;
// What make dev adds to the broker's path: every accepted event and delivery into the console's recorder, and
// the console's server, whose stream the host reads as an open page would.
const recorder = args.recording === true ? new EventRecorder() : undefined;
const consoleServer = recorder === undefined ? undefined : await startConsoleServer({ recorder });
// SIGUSR2 switches the recording off and on (broker-host.ts measures both states inside one run). Off, the broker
// still builds each record (trail.ts) and drops it: the switch measures the recorder and the page's stream.
let recordingOn = true;
process.on('SIGUSR2', () => {
  recordingOn = !recordingOn;
});
const broker = await startBroker({
  ...(recorder === undefined
    ? {}
    : {
        onAccepted: (r) => {
          if (recordingOn) recorder.add(r);
        },
        onTrail: (r) => {
          if (recordingOn) recorder.add(r);
        },
      }),
  manifests:
    m.kind === 'pipeline'
      ? pipelineManifests(ROOT, m.queueType as QueueType)
      : benchManifests({
          eventType: m.eventType,
          parallelism: m.parallelism,
          queueType: m.queueType as QueueType,
        }),
  resolveSubscriber: (ref) => {
    const url = args.subscribers[ref.name];
    if (url === undefined) throw new Error(`broker-child: no server for ${ref.name}`);
    return url;
  },
  replyTypesOf: async () => undefined,
  port: 0,
  rabbitmqUrl: args.url,
  instance: `bench${process.pid}x${Date.now().toString(36)}`,
  // Only start-up and errors are logged at info; keep them off the READY channel.
  log: new JsonLogger({ serviceName: 'sluice-bench-broker', sink: process.stderr }),
});
const { topology } = broker.plan;
const names = {
  queues: topology.queues.map((q) => q.name),
  exchanges: topology.exchanges,
  ...(consoleServer === undefined ? {} : { console: { url: consoleServer.url, token: consoleServer.token } }),
};
process.stdout.write(`READY ${broker.url} ${JSON.stringify(names)}\n`);
// stdin closing (the host is done, or died) is the stop signal: delete the topology, exit.
process.stdin.resume();
await new Promise<void>((r) => process.stdin.once('close', r).once('end', r));
await broker.destroy();
await consoleServer?.close();
process.exit(0);
