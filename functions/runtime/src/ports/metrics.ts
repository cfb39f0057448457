/**
 * What the runtime measures, as a port: `telemetry.ts` implements it with OpenTelemetry; tests and
 * `OTEL_SDK_DISABLED=true` use the no-op. Names follow the OTel FaaS semantic conventions.
 */
export type Outcome = 'success' | 'replayed' | 'invalid' | 'rejected' | 'transient' | 'error';

export interface InvocationRecord {
  readonly eventType: string;
  readonly outcome: Outcome;
  readonly durationSeconds: number;
  readonly coldStart: boolean;
  /** Set for invalid/rejected outcomes: the reason that sends the event to the dead-letter sink. */
  readonly reason?: string;
  readonly replied: boolean;
}

export interface Metrics {
  invocation(record: InvocationRecord): void;
  httpRequest(method: string, route: string, status: number, durationSeconds: number): void;
  coldStart(durationSeconds: number): void;
  /**
   * One call to the store (one network round trip: MongoDB or the dev store), by collection and
   * operation (store-calls.ts). Absent: not counted.
   */
  storeCall?(collection: string, operation: string): void;
  /** Prometheus exposition text for GET /metrics, or undefined when metrics are off. */
  scrape(): Promise<string | undefined>;
  /**
   * Resolves once the SDK is loaded and registered as OpenTelemetry's global MeterProvider, so that a
   * function's own instruments (`metrics.getMeter(…)` from `@opentelemetry/api`, made in `init`) are
   * exported on the same /metrics. Never rejects. Absent: nothing to wait for.
   */
  ready?(): Promise<void>;
  shutdown(): Promise<void>;
}

export const noopMetrics: Metrics = {
  invocation() {},
  httpRequest() {},
  coldStart() {},
  scrape: async () => undefined,
  shutdown: async () => {},
};
