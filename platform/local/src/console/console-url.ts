/**
 * `make console`: the running `make dev`'s console URL with its per-run token (the start-up view printed it; this is
 * for when the terminal has scrolled). Exit 69 when no `make dev` is running.
 */
import { readDevEndpoints } from '../../../../functions/runtime/src/index.ts';

const dev = readDevEndpoints();
if (dev?.consoleUrl === undefined || dev.trailToken === undefined) {
  process.stderr.write('console: no make dev is running (.tmp/dev/endpoints.json): start it with make dev\n');
  process.exit(69);
}
process.stdout.write(`${dev.consoleUrl}?token=${dev.trailToken}\n`);
