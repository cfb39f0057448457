/** autocannon in its own process (the load generator is never the process that measures cold starts). */
import autocannon from 'autocannon';

interface WorkerArgs {
  readonly port: number;
  readonly connections: number;
  readonly seconds: number;
  readonly prefix: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
const result = await autocannon({
  url: `http://127.0.0.1:${args.port}/`,
  connections: args.connections,
  duration: args.seconds,
  method: 'POST',
  // autocannon replaces [<id>] anywhere in the request with a unique id when idReplacement is on.
  headers: { ...args.headers, 'ce-id': `${args.prefix}-[<id>]` },
  body: args.body,
  idReplacement: true,
});
process.stdout.write(
  `BENCHJSON ${JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    failures: result.errors + result.timeouts + result.non2xx,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  })}\n`,
);
