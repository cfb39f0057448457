/**
 * Process entry point — the same in a container and under the local platform:
 *   FUNCTION_DIR=functions/<name> node functions/runtime/src/main.ts
 * Owns signals and exit codes; everything else is in runtime.ts.
 *
 * Knative's runtime contract: listen on PORT, name from K_SERVICE/K_REVISION, and on SIGTERM stop
 * accepting, finish what is in flight, then exit 0 (the pod's grace period bounds the drain).
 */
import { loadConfig } from './config.ts';
import { ConfigError, FunctionLoadError, RouteTableError } from './errors.ts';
import { onParentGone, reportPorts } from './report-ports.ts';
import { type RunningFunction, startFunction } from './runtime.ts';

const processStart = performance.timeOrigin;

let running: RunningFunction | undefined;
let stopRequested: string | undefined;

const stop = (signal: string): void => {
  if (stopRequested !== undefined) return;
  stopRequested = signal;
  // A signal during start-up is honoured as soon as the server is up (below).
  if (running === undefined) return;
  running.log.info(`received ${signal}: draining in-flight events`, { 'event.action': 'shutdown' });
  running.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`shutdown failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
// Registered before start-up so an early SIGTERM drains instead of killing the process mid-start.
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
  const config = loadConfig();
  if (config.reportPortsOverIpc && process.send === undefined) {
    throw new ConfigError([
      'SLUICE_REPORT_PORTS=ipc needs an IPC channel to the parent (the local platform opens one)',
    ]);
  }
  // Started by the local platform: its exit closes the channel, and the instance drains and exits with it.
  if (config.reportPortsOverIpc) onParentGone(() => stop('disconnect'));
  running = await startFunction(config, { processStart });
  if (config.reportPortsOverIpc) reportPorts(running);
  const pending = stopRequested;
  if (pending !== undefined) {
    stopRequested = undefined;
    stop(pending);
  }
} catch (err) {
  if (err instanceof ConfigError || err instanceof FunctionLoadError || err instanceof RouteTableError) {
    process.stderr.write(`sluice: cannot start: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}
