/**
 * Metrics port implemented with OpenTelemetry. Placeholder until the observability work: it keeps the
 * no-op behaviour so the runtime runs; see issue "Observability".
 */
import type { RuntimeConfig } from './config.ts';
import { type Metrics, noopMetrics } from './ports/metrics.ts';

export async function createTelemetry(_config: Readonly<RuntimeConfig>): Promise<Metrics> {
  return noopMetrics;
}
