/**
 * Process entry point — the same in a container and under the local platform:
 *   FUNCTION_DIR=functions/<name> node functions/runtime/src/main.ts
 * Owns signals and exit codes; everything else is in runtime.ts.
 */
import { loadConfig } from './config.ts';
import { ConfigError, FunctionLoadError } from './errors.ts';
import { startFunction } from './runtime.ts';

const processStart = performance.timeOrigin;

try {
  const config = loadConfig();
  const running = await startFunction(config, { processStart });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    running.log.info(`received ${signal}: draining in-flight events`, { 'event.action': 'shutdown' });
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  if (err instanceof ConfigError || err instanceof FunctionLoadError) {
    process.stderr.write(`sluice: cannot start: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}
