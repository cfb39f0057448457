import type { LogFields, Logger } from '../../../../functions/runtime/src/index.ts';

export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields;
}

/** Keeps every line in memory so tests can assert on scale events. */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  debug(message: string, fields: LogFields = {}): void {
    this.records.push({ level: 'debug', message, fields });
  }
  info(message: string, fields: LogFields = {}): void {
    this.records.push({ level: 'info', message, fields });
  }
  warn(message: string, fields: LogFields = {}): void {
    this.records.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: LogFields = {}): void {
    this.records.push({ level: 'error', message, fields });
  }
  actions(action: string): LogRecord[] {
    return this.records.filter((r) => r.fields['event.action'] === action);
  }
}
