/** Helpers shared by the banking tests: events and a stub context, as the runtime would pass them. */

import type { CloudEvent, Context, DocumentStore } from '../../runtime/src/index.ts';
import { JsonLogger } from '../../runtime/src/index.ts';

/** `K` keeps the literal type, so the event fits a typed handler (events.gen.ts `Handle`). */
export function bankingEvent<T, K extends string = string>(
  type: K,
  id: string,
  data: T,
  time?: string,
): CloudEvent<T, K> {
  return {
    specversion: '1.0',
    id,
    source: '/tests/banking',
    type,
    datacontenttype: 'application/json',
    ...(time === undefined ? {} : { time }),
    data,
    extensions: {},
  };
}

export interface CapturedLog {
  readonly lines: Record<string, unknown>[];
  readonly logger: JsonLogger;
}

/** A logger whose lines are parsed into objects (flushed synchronously by `flush`). */
export function captureLog(serviceName: string): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const logger = new JsonLogger({
    serviceName,
    level: 'debug',
    sink: {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line !== '') lines.push(JSON.parse(line));
      },
    },
  });
  return { lines, logger };
}

export function stubContext(store: DocumentStore, log = captureLog('test').logger): Context {
  return {
    log,
    store,
    functionName: 'test',
    signal: new AbortController().signal,
    traceId: '0af7651916cd43dd8448eb211c80319c',
  };
}
