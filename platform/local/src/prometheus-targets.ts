/**
 * Prometheus file_sd target list of the running function instances, rewritten on every scale event
 * (the local stand-in for Kubernetes pod discovery). `make observe` points Prometheus at it; an
 * instance is scraped directly, so scrapes never wake a function or keep it alive.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ScalerSnapshot } from './scaler.ts';

export const DEFAULT_TARGETS_FILE = '.tmp/dev/prometheus-targets.json';

export interface FileSdGroup {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export function toFileSd(snapshots: readonly ScalerSnapshot[], namespace = 'sluice'): FileSdGroup[] {
  const groups: FileSdGroup[] = [];
  for (const snap of snapshots) {
    for (const inst of snap.instances) {
      const metrics = inst.metricsUrl ?? inst.url;
      if (inst.state !== 'ready' || metrics === undefined) continue;
      groups.push({
        targets: [new URL(metrics).host],
        labels: {
          job: 'sluice-functions',
          namespace,
          service: snap.service,
          faas_name: snap.service,
          pod: inst.id,
          __metrics_path__: '/metrics',
        },
      });
    }
  }
  return groups;
}

/**
 * The local broker's own exposition (GET <broker>/metrics: the dispatchers KEDA's ScaledObjects scale,
 * eventing/src/queue-scaler.ts), as one more target.
 */
export function brokerTarget(brokerUrl: string, namespace = 'sluice'): FileSdGroup {
  return {
    targets: [new URL(brokerUrl).host],
    labels: { job: 'sluice-broker', namespace, service: 'broker', __metrics_path__: '/metrics' },
  };
}

/** Writes the file atomically (Prometheus watches it and must never read half a file). */
export class TargetsFile {
  readonly #file: string;
  readonly #onError: (err: unknown) => void;
  #writing: Promise<void> = Promise.resolve();
  #latest: string | undefined;

  constructor(file: string, onError: (err: unknown) => void = () => {}) {
    this.#file = file;
    this.#onError = onError;
  }

  get file(): string {
    return this.#file;
  }

  write(groups: readonly FileSdGroup[]): Promise<void> {
    const text = `${JSON.stringify(groups, null, 2)}\n`;
    if (text === this.#latest) return this.#writing;
    this.#latest = text;
    this.#writing = this.#writing
      .then(async () => {
        if (text !== this.#latest) return; // a newer list superseded this one
        await mkdir(dirname(this.#file), { recursive: true });
        const tmp = `${this.#file}.${process.pid}.tmp`;
        await writeFile(tmp, text);
        await rename(tmp, this.#file);
      })
      .catch(this.#onError);
    return this.#writing;
  }
}
