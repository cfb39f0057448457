/**
 * Structured logs: one JSON object per line in ECS shape (`@timestamp`, `log.level`, `ecs.version`,
 * `message`, `service.name`, …), which Fluent Bit merges into Elasticsearch documents. Lines are
 * buffered and written once per event-loop turn so logging never blocks the hot path.
 */
import type { LogFields, Logger } from './types.ts';

export const ECS_VERSION = '8.11.0';
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevelName = keyof typeof LogLevel;

export interface LogSink {
  write(chunk: string): unknown;
}

export class JsonLogger implements Logger {
  readonly #sink: LogSink;
  readonly #min: number;
  readonly #base: string;
  #buffer: string[] = [];
  #scheduled = false;

  constructor(options: {
    serviceName: string;
    serviceVersion?: string;
    level?: LogLevelName;
    sink?: LogSink;
  }) {
    this.#sink = options.sink ?? process.stdout;
    this.#min = LogLevel[options.level ?? 'info'];
    // Pre-serialised constant fields: appended to every line without re-encoding.
    const service: Record<string, string> = { name: options.serviceName };
    if (options.serviceVersion !== undefined) service.version = options.serviceVersion;
    this.#base = `"ecs.version":"${ECS_VERSION}","service":${JSON.stringify(service)}`;
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  /**
   * A logger for one invocation: every line a handler writes also carries the event's ids and trace
   * context, so Kibana finds it by `event.id` or `trace.id` like the runtime's own outcome line.
   */
  child(fields: LogFields): Logger {
    const at =
      (level: LogLevelName) =>
      (message: string, extra?: LogFields): void =>
        this.log(level, message, extra === undefined ? fields : { ...fields, ...extra });
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  enabled(level: LogLevelName): boolean {
    return LogLevel[level] >= this.#min;
  }

  log(level: LogLevelName, message: string, fields?: LogFields): void {
    if (LogLevel[level] < this.#min) return;
    let line = `{"@timestamp":"${isoNow()}","log.level":"${level}","message":${JSON.stringify(message)},${this.#base}`;
    if (fields !== undefined) {
      const rest = JSON.stringify(fields);
      if (rest.length > 2) line += `,${rest.slice(1, -1)}`;
    }
    this.#buffer.push(`${line}}\n`);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushSoon);
    }
  }

  readonly #flushSoon = (): void => {
    this.flush();
  };

  /** Writes what is buffered now; called at exit so no line is lost. */
  flush(): void {
    this.#scheduled = false;
    if (this.#buffer.length === 0) return;
    const chunk = this.#buffer.join('');
    this.#buffer = [];
    this.#sink.write(chunk);
  }
}

// The ISO text of the current millisecond, made once per millisecond rather than once per line.
let lastMs = Number.NaN;
let lastIso = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Turns an error into ECS `error.*` fields. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    return { 'error.type': err.name, 'error.message': err.message, 'error.stack_trace': err.stack };
  }
  return { 'error.message': String(err) };
}
