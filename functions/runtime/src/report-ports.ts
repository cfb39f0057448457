/**
 * The ports an instance listens on, told to the local platform that started it (`SLUICE_REPORT_PORTS=ipc`).
 * The platform starts each instance on PORT=0 (and METRICS_PORT=0) so the OS picks free ports as it binds
 * them, then reads them here: a port the platform picked ahead could be taken by another process before the
 * instance binds it, and a readiness probe to that port could then be answered by someone else.
 */
import type { ChildProcess } from 'node:child_process';
import type { RunningFunction } from './runtime.ts';

export interface ListeningMessage {
  readonly type: 'sluice.listening';
  readonly port: number;
  /** A plain HTTP function's separate /metrics port, when METRICS_PORT is set. */
  readonly metricsPort?: number;
}

const isPort = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536;

export function isListeningMessage(value: unknown): value is ListeningMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<Record<keyof ListeningMessage, unknown>>;
  return (
    m.type === 'sluice.listening' && isPort(m.port) && (m.metricsPort === undefined || isPort(m.metricsPort))
  );
}

/** The parent's side: the child's report, or undefined when it exits (or its channel closes) without one. */
export function portsReported(child: ChildProcess): Promise<ListeningMessage | undefined> {
  return new Promise((resolve) => {
    child.on('message', (message: unknown) => {
      if (isListeningMessage(message)) resolve(message);
    });
    child.once('exit', () => resolve(undefined));
  });
}

/**
 * One message; the channel then stays open but unreferenced (it does not keep the process alive). It closes
 * when the platform that started this instance exits, however it ends — a kill -9, an OOM kill —, which
 * `onParentGone` turns into the instance's own drain and exit instead of living on without its platform.
 */
export function reportPorts(fn: Pick<RunningFunction, 'port' | 'metricsPort'>): void {
  const message: ListeningMessage = {
    type: 'sluice.listening',
    port: fn.port,
    ...(fn.metricsPort === undefined ? {} : { metricsPort: fn.metricsPort }),
  };
  // Already disconnected (the parent went away first): the 'disconnect' handler has run or will run.
  if (process.connected) process.send?.(message);
  process.channel?.unref();
}

/** Calls `stop` once the IPC channel to the parent closes (or at once when it already has). */
export function onParentGone(stop: () => void): void {
  if (!process.connected) stop();
  else process.once('disconnect', stop);
}
