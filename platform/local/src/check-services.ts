/**
 * `make check-local-services`: every functions/<name>/service.yaml must load as the local platform
 * reads it (a static check `make test` runs), so a manifest error shows before `make dev`.
 */
import { resolve } from 'node:path';
import { displayPath, KnativeServiceError, loadKnativeServices } from './knative-service.ts';

const root = resolve(import.meta.dirname, '../../..');
try {
  const specs = await loadKnativeServices(resolve(root, 'functions'));
  for (const s of specs) {
    const skipped = s.skippedEnv.length > 0 ? ` (cluster-only env: ${s.skippedEnv.join(', ')})` : '';
    process.stdout.write(`ok  ${displayPath(s.file)}${skipped}\n`);
  }
} catch (err) {
  if (!(err instanceof KnativeServiceError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
}
