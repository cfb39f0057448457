/**
 * Keeps what the function refuses for good. eventing-rabbitmq's dispatcher counts every answer that
 * `SelectiveRetry` does not retry (400, 413, 415, 422, 3xx…) as a success: it acks the event and
 * nothing reaches the dead-letter sink (docs/eventing.md). So before such an answer leaves, the event
 * goes to the dead-letter sink the function's Triggers name (SLUICE_DEAD_LETTER_SINK, set by the
 * platform from the Trigger's `delivery.deadLetterSink` and on the cluster by the kustomize base), with
 * the extensions the sink already reads:
 *
 *   knativeerrordest  the function's event source (/sluice/functions/<name>): one record per function
 *   knativeerrorcode  the status it answers (400, 422, …)
 *   knativeerrordata  base64 of the problem's title, status and detail (what `make dlq` shows)
 *
 * Only once the sink answered 2xx does the refusal go out, marked `Sluice-Dead-Lettered: true` (a
 * broker that dead-letters refusals itself, the local sluice data plane, then does not do it twice).
 * When the sink cannot take it (down, timeout, 5xx) the broker gets a 503 instead, so it retries and
 * the event is never lost; a redelivery is refused again (a permanent rejection is replayed from the
 * idempotency record) and kept then. The sink keys records by source + id + destination, so a repeat
 * is one record. Cost is bounded: one POST per refusal, cut off after `timeoutMs`.
 *
 * A binary-mode event is forwarded as received (its ce-* headers and body bytes, so data that would
 * not parse is kept too); a structured one is re-encoded in binary mode. A request that is not a
 * CloudEvent at all, or that is itself a dead letter (it carries knativeerrordest), is not forwarded.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { encodeHeaderValue, toBinary } from './cloudevent/encode.ts';
import { PROBLEM_CONTENT_TYPE, problemBody, toProblem } from './cloudevent/problem.ts';
import { mediaType, type ReceiveOptions, receive, STRUCTURED_CONTENT_TYPE } from './cloudevent/receive.ts';
import { CAUSATION_FIELD, CORRELATION_FIELD } from './correlation.ts';
import { TransientError } from './errors.ts';
import type { HttpAnswer } from './invoke.ts';
import type { JsonLogger } from './log.ts';

/** Answer header telling the broker the refused event is already in the dead-letter sink. */
export const DEAD_LETTERED_HEADER = 'sluice-dead-lettered';

/** What the server calls for each event: the invoker, or this wrapper around it. */
export interface EventHandler {
  invoke(headers: IncomingHttpHeaders, body: Buffer, options?: ReceiveOptions): Promise<HttpAnswer>;
}

/** One POST to the sink; resolves with its status. Injected by unit tests. */
export type SinkPost = (
  url: string,
  message: { readonly headers: Record<string, string>; readonly body: Buffer },
  timeoutMs: number,
) => Promise<number>;

export interface KeepRejectedOptions {
  readonly sinkUrl: string;
  /** knativeerrordest: the function's event source. */
  readonly dest: string;
  readonly log: JsonLogger;
  /** @default 5000 */
  readonly timeoutMs?: number;
  readonly post?: SinkPost;
}

/** Statuses SelectiveRetry does not retry and that are not success: the refusals upstream acks. */
export function isFinalRefusal(status: number): boolean {
  if (status < 300 || status >= 500) return false;
  return status !== 404 && status !== 408 && status !== 409 && status !== 429;
}

const ERROR_DATA_DETAIL_MAX = 600;

const fetchPost: SinkPost = async (url, message, timeoutMs) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: message.headers,
    body: message.body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer();
  return res.status;
};

export function keepRejected(inner: EventHandler, options: KeepRejectedOptions): EventHandler {
  const post = options.post ?? fetchPost;
  const timeoutMs = options.timeoutMs ?? 5000;
  const log = options.log;

  const keep = async (
    headers: IncomingHttpHeaders,
    body: Buffer,
    answer: HttpAnswer,
  ): Promise<HttpAnswer> => {
    const message = deadLetterMessage(headers, body, answer, options.dest);
    const fields = requestFields(headers, answer.status);
    if (message === undefined) {
      log.warn('refused request is not a CloudEvent: nothing to keep in the dead-letter sink', {
        ...fields,
        'event.action': 'dead-letter-skipped',
      });
      return answer;
    }
    let status: number;
    try {
      status = await post(options.sinkUrl, message, timeoutMs);
      // The sink's own runtime parses data by its content type: data that does not parse goes as bytes.
      if ((status === 400 || status === 415) && message.opaque !== undefined) {
        status = await post(options.sinkUrl, message.opaque, timeoutMs);
      }
    } catch (err) {
      return unavailable(answer, fields, (err as Error).message);
    }
    if (status >= 200 && status < 300) {
      log.info(`refused event kept in the dead-letter sink (${answer.status})`, {
        ...fields,
        'event.action': 'dead-letter-kept',
      });
      return { ...answer, headers: { ...answer.headers, [DEAD_LETTERED_HEADER]: 'true' } };
    }
    if (isFinalRefusal(status)) {
      // Retrying cannot help: the sink will refuse it again. Logged for the operator; answered as is.
      log.error(`the dead-letter sink refused the refused event (${status}): it is LOST`, {
        ...fields,
        'event.action': 'dead-letter-refused',
      });
      return answer;
    }
    return unavailable(answer, fields, `HTTP ${status}`);
  };

  const unavailable = (answer: HttpAnswer, fields: Record<string, unknown>, why: string): HttpAnswer => {
    log.warn(
      `could not keep the refused event (${answer.status}) in the dead-letter sink (${why}): answering 503 so it is redelivered`,
      { ...fields, 'event.action': 'dead-letter-unavailable' },
    );
    const problem = toProblem(
      new TransientError(`the event was refused (${answer.status}) but the dead-letter sink is unavailable`),
    );
    return {
      status: problem.status,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...problem.headers },
      body: problemBody(problem.problem),
    };
  };

  return {
    async invoke(headers, body, receiveOptions) {
      const answer = await inner.invoke(headers, body, receiveOptions);
      return mustKeep(answer, headers) ? keep(headers, body, answer) : answer;
    },
  };
}

function mustKeep(answer: HttpAnswer, headers: IncomingHttpHeaders): boolean {
  return isFinalRefusal(answer.status) && headers['ce-knativeerrordest'] === undefined;
}

interface SinkMessage {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** The same with its data as opaque bytes, for data the sink could not parse. */
  readonly opaque?: { readonly headers: Record<string, string>; readonly body: Buffer };
}

/** The dead letter to POST, or undefined when the request is not a CloudEvent. */
export function deadLetterMessage(
  headers: IncomingHttpHeaders,
  body: Buffer,
  answer: HttpAnswer,
  dest: string,
): SinkMessage | undefined {
  const errors: Record<string, string> = {
    'ce-knativeerrordest': encodeHeaderValue(dest),
    'ce-knativeerrorcode': String(answer.status),
    'ce-knativeerrordata': errorData(answer),
  };
  if (typeof headers['ce-specversion'] === 'string') {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== 'string') continue;
      if (name.startsWith('ce-') && !name.startsWith('ce-knativeerror')) out[name] = value;
    }
    const contentType = headers['content-type'];
    const kept = { ...out, ...errors };
    if (contentType === undefined) return { headers: kept, body };
    return {
      headers: { ...kept, 'content-type': contentType },
      body,
      opaque: {
        headers: {
          ...kept,
          'content-type': 'application/octet-stream',
          'ce-sluicedatacontenttype': encodeHeaderValue(contentType),
        },
        body,
      },
    };
  }
  if (mediaType(headers['content-type']) !== STRUCTURED_CONTENT_TYPE) return undefined;
  try {
    const { event } = receive(headers, body);
    const message = toBinary(event);
    return { headers: { ...message.headers, ...errors }, body: message.body };
  } catch {
    return undefined;
  }
}

/** base64 of the problem's title, status and detail: short enough for one header, readable by `make dlq`. */
function errorData(answer: HttpAnswer): string {
  let problem: { title?: unknown; status?: unknown; detail?: unknown } = {};
  try {
    problem = JSON.parse(answer.body.toString('utf8')) as typeof problem;
  } catch {
    // not problem+json: the status alone
  }
  const detail =
    typeof problem.detail === 'string' ? problem.detail.slice(0, ERROR_DATA_DETAIL_MAX) : undefined;
  const text = JSON.stringify({ title: problem.title, status: problem.status ?? answer.status, detail });
  return Buffer.from(text).toString('base64');
}

function requestFields(headers: IncomingHttpHeaders, status: number): Record<string, unknown> {
  const fields: Record<string, unknown> = { 'http.response.status_code': status };
  const id = headers['ce-id'];
  if (typeof id === 'string') {
    fields['event.id'] = id;
    fields['cloudevents.event_id'] = id;
    fields[CORRELATION_FIELD] =
      typeof headers['ce-correlationid'] === 'string' ? headers['ce-correlationid'] : id;
    if (typeof headers['ce-causationid'] === 'string') fields[CAUSATION_FIELD] = headers['ce-causationid'];
  }
  // The trace the request came with (HTTP traceparent, else the event's extension): joins the line to its tree.
  const traceparent = headers.traceparent ?? headers['ce-traceparent'];
  const traceId =
    typeof traceparent === 'string' ? /^[0-9a-f]{2}-([0-9a-f]{32})-/.exec(traceparent)?.[1] : undefined;
  if (traceId !== undefined) fields['trace.id'] = traceId;
  if (typeof headers['ce-type'] === 'string') fields['cloudevents.event_type'] = headers['ce-type'];
  if (typeof headers['ce-source'] === 'string') fields['cloudevents.event_source'] = headers['ce-source'];
  return fields;
}
