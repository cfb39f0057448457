/**
 * `make dev`: the local platform in the foreground. stdout carries ECS JSON logs only (the platform's
 * and every function's, so `make dev | jq` works); the operator view goes to stderr. Ctrl-C stops
 * the broker, lets functions finish in-flight requests and waits for them to exit.
 */
import {
  type DevEndpoints,
  ENDPOINTS_STATE,
  endpointsFilePath,
  JsonLogger,
  writeEndpointsFile,
} from '../../../functions/runtime/src/index.ts';
import { operatorView } from './operator-view.ts';
import { type DevPlatform, startDevPlatform } from './platform.ts';
import { LOG_FORMAT } from './process-host.ts';
import { RUN_FROM } from './revision-bundles.ts';

const human = process.env.SLUICE_LOG_FORMAT === LOG_FORMAT.human;
const sink = human
  ? {
      write: (chunk: string) =>
        process.stdout.write(
          chunk
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => `${'platform'.padEnd(12)} | ${l}\n`)
            .join(''),
        ),
    }
  : process.stdout;
const log = new JsonLogger({ serviceName: 'sluice-dev', sink });

let platform: DevPlatform;
try {
  // Each revision runs from its image's bundle (SLUICE_RUN_FROM=source: from the TypeScript, as the tests do).
  platform = await startDevPlatform({ log, revisionsDir: '.tmp/dev/revisions', runFrom: RUN_FROM.bundle });
} catch (err) {
  log.flush();
  process.stderr.write(`sluice dev: cannot start: ${(err as Error).message}\n`);
  process.exit(78); // EX_CONFIG
}
log.flush();
// For make inject / verify / dlq / replay: where this platform can be reached (endpoints-file.ts).
const endpointsFile = endpointsFilePath();
const endpoints: DevEndpoints = {
  state: ENDPOINTS_STATE.running,
  pid: process.pid,
  startedAt: new Date().toISOString(),
  ...(platform.broker === undefined ? {} : { brokerUrl: platform.broker.url }),
  ...(platform.gateway === undefined ? {} : { gatewayUrl: platform.gateway.url }),
  ...(platform.devStoreUrl === undefined ? {} : { devStoreUrl: platform.devStoreUrl }),
  // For make verify / dlq; the file is written owner-only (0600).
  ...(platform.devStoreToken === undefined ? {} : { devStoreToken: platform.devStoreToken }),
  // For make try and make lineage: what became of events (the console's API).
  ...(platform.trail === undefined ? {} : { trailUrl: platform.trail.url, trailToken: platform.trail.token }),
  ...(platform.console === undefined ? {} : { consoleUrl: `${platform.console.url}/console/` }),
  services: Object.fromEntries([...platform.serving.functions].map(([name, fn]) => [name, fn.router.url])),
  // For make simulate / stream / inject over AMQP: whether anything here reads their exchange.
  ...(platform.broker?.sourceExchanges === undefined
    ? {}
    : { sourceExchanges: platform.broker.sourceExchanges }),
  // For make update / make rollback; owner-only, like the dev store's token.
  ...(platform.control === undefined
    ? {}
    : { controlUrl: platform.control.url, controlToken: platform.control.token }),
};
await writeEndpointsFile(endpointsFile, endpoints).catch((err: unknown) =>
  log.warn(`cannot write ${endpointsFile}: ${String(err)}`),
);
process.stderr.write(operatorView(platform));
process.stderr.write(
  `  endpoints ${endpointsFile} (read by make inject / verify / dlq / replay / try / lineage / update / rollback)\n`,
);
// The token is in the URL the way Jupyter prints its own: this terminal only, never the JSON log on stdout.
if (platform.console !== undefined)
  process.stderr.write(
    `  console   ${platform.console.pageUrl}   (events, paths, functions, triggers, dead letters)\n`,
  );
process.stderr.write('\n');

let signals = 0;
const shutdown = (signal: string): void => {
  signals++;
  if (signals > 1) {
    process.stderr.write(`sluice dev: ${signal} again, exiting without waiting\n`);
    process.exit(130);
  }
  process.stderr.write(
    `sluice dev: ${signal}: stopping the broker, draining functions (Ctrl-C again to force)\n`,
  );
  platform
    .stop()
    .then(() =>
      writeEndpointsFile(endpointsFile, { ...endpoints, state: ENDPOINTS_STATE.stopped }).catch(() => {}),
    )
    .then(
      () => {
        log.info('local platform stopped', { 'event.action': 'stop' });
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.flush();
        process.stderr.write(`sluice dev: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
