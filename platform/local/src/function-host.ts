/**
 * The port between the scaler and whatever runs a function instance: a child process in `make dev`
 * (process-host.ts), a fake in unit tests. The scaler only needs "start one, tell me when it is
 * ready or gone, stop it".
 */
import type { KnativeServiceSpec } from './knative-service.ts';

export interface InstanceExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** True when the platform asked it to stop. */
  readonly expected: boolean;
}

export interface InstanceStartRequest {
  readonly service: KnativeServiceSpec;
  /** `<service>-<n>`, unique for the platform's life. */
  readonly instanceId: string;
  /** Called once when the instance ends after `start` resolved (crash or stop). */
  readonly onExit: (exit: InstanceExit) => void;
}

export interface FunctionInstance {
  readonly id: string;
  /** Base URL of the instance, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Base URL of its metrics server when the Service moves /metrics off the serving port (METRICS_PORT). */
  readonly metricsUrl?: string;
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM, wait); resolves when it is gone. */
  stop(): Promise<void>;
}

export interface FunctionHost {
  /** Resolves once the instance answers its readiness probe; rejects when it cannot start. */
  start(request: InstanceStartRequest): Promise<FunctionInstance>;
}

export class InstanceStartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InstanceStartError';
  }
}
