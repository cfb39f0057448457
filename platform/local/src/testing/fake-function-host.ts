/**
 * A FunctionHost for unit tests: every start waits until the test says ready or failed, and an
 * instance can be crashed at will. Nothing runs, nothing listens.
 */
import type { FunctionHost, FunctionInstance, InstanceExit, InstanceStartRequest } from '../function-host.ts';
import type { KnativeServiceSpec } from '../knative-service.ts';

export interface FakeStart {
  readonly request: InstanceStartRequest;
  ready(): FunctionInstance;
  fail(message?: string): void;
  crash(code?: number): void;
  readonly stopped: boolean;
}

export class FakeFunctionHost implements FunctionHost {
  readonly starts: FakeStart[] = [];

  start(request: InstanceStartRequest): Promise<FunctionInstance> {
    return new Promise((resolve, reject) => {
      let stopped = false;
      const instance: FunctionInstance = {
        id: request.instanceId,
        url: `http://fake/${request.instanceId}`,
        pid: undefined,
        stop: async () => {
          if (stopped) return;
          stopped = true;
          request.onExit({ code: 0, signal: 'SIGTERM', expected: true });
        },
      };
      this.starts.push({
        request,
        ready: () => {
          resolve(instance);
          return instance;
        },
        fail: (message = 'boom') => reject(new Error(message)),
        crash: (code = 1) => {
          stopped = true;
          const exit: InstanceExit = { code, signal: null, expected: false };
          request.onExit(exit);
        },
        get stopped() {
          return stopped;
        },
      });
    });
  }

  /** Starts whose instance is still running (not stopped or crashed). */
  get running(): FakeStart[] {
    return this.starts.filter((s) => !s.stopped);
  }
}

export function serviceSpec(overrides: Partial<KnativeServiceSpec> = {}): KnativeServiceSpec {
  return {
    name: 'hello',
    namespace: 'sluice',
    visibility: 'cluster-local',
    functionDir: '/repo/functions/hello',
    file: '/repo/functions/hello/service.yaml',
    minScale: 0,
    maxScale: 3,
    target: 100,
    containerConcurrency: 0,
    timeoutSeconds: 30,
    retentionMs: undefined,
    windowMs: undefined,
    env: {},
    skippedEnv: [],
    secretEnv: [],
    ...overrides,
  };
}
