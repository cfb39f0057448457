/**
 * Structured logs: one JSON object per line in ECS shape (`@timestamp`, `log.level`, `ecs.version`,
 * `message`, `service.name`, …), which Fluent Bit merges into Elasticsearch documents. Lines are
 * buffered and written once per event-loop turn (or per 256 lines) so logging never blocks the hot path.
 */
import { capText, Limits } from './limits.ts';
import type { LogFields, Logger } from './types.ts';

export const ECS_VERSION = '8.11.0';
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevelName = keyof typeof LogLevel;

/** Lines held for one write at most: bounds the buffer (each line ≤ Limits.logLineBytes). */
const MAX_BUFFERED_LINES = 256;

export interface LogSink {
  write(chunk: string): unknown;
}

export class JsonLogger implements Logger {
  readonly #sink: LogSink;
  readonly #min: number;
  readonly #base: string;
  #buffer: string[] = [];
  #scheduled = false;
  #message = '';
  #messageJson = '""';

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

  /** One line of at most Limits.logLineBytes, whatever the message and fields hold. */
  log(level: LogLevelName, message: string, fields?: LogFields): void {
    if (LogLevel[level] < this.#min) return;
    const head = this.#head(level, message);
    let rest = fields === undefined ? '' : JSON.stringify(fields).slice(1, -1);
    // The common line is short and is written as serialised; a long one gets every field capped.
    if (fields !== undefined && utf8Length(head, rest) > Limits.logLineBytes - 2) {
      rest = boundedFields(fields, Limits.logLineBytes - 3 - Buffer.byteLength(head));
    }
    this.#push(rest.length > 0 ? `${head},${rest}}\n` : `${head}}\n`);
  }

  /**
   * The same line with its fields already serialised as JSON members (`"a":1,"b":"x"`, no braces), as
   * the runtime writes its outcome line for every event: no field object and no JSON.stringify of it.
   * A line that would pass Limits.logLineBytes is written from `fields()` instead, capped as `log` caps.
   */
  logMembers(level: LogLevelName, message: string, members: string, fields: () => LogFields): void {
    if (LogLevel[level] < this.#min) return;
    const head = this.#head(level, message);
    if (utf8Length(head, members) > Limits.logLineBytes - 2) {
      this.log(level, message, fields());
      return;
    }
    this.#push(`${head},${members}}\n`);
  }

  #head(level: LogLevelName, message: string): string {
    // Most lines repeat a message ("event processed"): its JSON is kept from the line before.
    if (message !== this.#message) {
      this.#message = message;
      this.#messageJson = jsonString(capText(message, Limits.detail));
    }
    return `{"@timestamp":"${isoNow()}","log.level":"${level}","message":${this.#messageJson},${this.#base}`;
  }

  #push(line: string): void {
    this.#buffer.push(line);
    // Code that never yields (a long synchronous loop) would otherwise keep every line until it does.
    if (this.#buffer.length >= MAX_BUFFERED_LINES) {
      this.flush();
      return;
    }
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

/**
 * `JSON.stringify(text)`, without the call for printable ASCII without `"` or `\\` (ids, types, sources, messages),
 * where the JSON is the text in quotes: the outcome line quotes several such strings per event.
 */
export function jsonString(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/**
 * UTF-8 bytes of two strings, or their length in characters when even three bytes per character stays
 * under the line limit (a lower bound then, good enough to tell that the line fits): most lines are
 * short, and are not counted twice.
 */
function utf8Length(a: string, b: string): number {
  const chars = a.length + b.length;
  return chars * 3 <= Limits.logLineBytes ? chars : Buffer.byteLength(a) + Buffer.byteLength(b);
}

/**
 * The fields as JSON members, each value capped (a stack trace to Limits.stackTrace, anything else to
 * Limits.logField, objects by their JSON), in order, until `budget` bytes; the fields that no longer
 * fit are left out and counted in `log.truncated_fields` (the first ones are the event's ids).
 */
function boundedFields(fields: LogFields, budget: number): string {
  const members: string[] = [];
  let used = 0;
  const keys = Object.keys(fields);
  for (const [i, key] of keys.entries()) {
    const value = fields[key];
    const cap = key === 'error.stack_trace' ? Limits.stackTrace : Limits.logField;
    let json: string | undefined;
    if (typeof value === 'string') json = JSON.stringify(capText(value, cap));
    else {
      json = JSON.stringify(value);
      if (json === undefined) continue;
      if (json.length > cap) json = JSON.stringify(capText(json, cap)); // an object, kept as its text
    }
    const member = `${JSON.stringify(capText(key, 128))}:${json}`;
    const size = Buffer.byteLength(member) + 1;
    if (used + size > budget - 40) {
      members.push(`"log.truncated_fields":${keys.length - i}`);
      break;
    }
    members.push(member);
    used += size;
  }
  return members.join(',');
}

// The ISO text of a millisecond, kept while the clock stays in it. `toISOString` (~7k instructions) runs
// once per second: a line in another millisecond of that second appends its three digits to the
// second's text. Under light traffic, where no two lines share a millisecond, that is every line's cost.
let lastMs = Number.NaN;
let lastIso = '';
let secondStart = Number.NaN;
let secondText = '';

/** `new Date(ms).toISOString()`, from the text of `ms`'s second when the one before was in it. */
export function isoText(ms: number): string {
  if (ms === lastMs) return lastIso;
  lastMs = ms;
  const millis = ms - secondStart;
  if (millis >= 0 && millis < 1000) {
    lastIso = `${secondText}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
    return lastIso;
  }
  lastIso = new Date(ms).toISOString();
  // `YYYY-MM-DDTHH:mm:ss.sssZ`: years 0–9999 (an extended year, `+010000-…`, is not cached).
  if (lastIso.length === 24) {
    secondStart = Math.floor(ms / 1000) * 1000;
    secondText = lastIso.slice(0, 20);
  } else secondStart = Number.NaN;
  return lastIso;
}

const isoNow = (): string => isoText(Date.now());

/** Turns an error into ECS `error.*` fields. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    return { 'error.type': err.name, 'error.message': err.message, 'error.stack_trace': err.stack };
  }
  return { 'error.message': String(err) };
}
