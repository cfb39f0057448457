/**
 * Step 5, encode: a recorded outcome or an error to the HTTP answer. A first run and every replay go
 * through `answerOf`, so a redelivery gets the same status and bytes.
 */
import { toBinary } from '../cloudevent/encode.ts';
import { PROBLEM_CONTENT_TYPE, type ProblemAnswer } from '../cloudevent/problem.ts';
import type { StoredOutcome } from '../ports/idempotency-store.ts';
import type { CloudEvent } from '../types.ts';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Recorded outcome → HTTP answer: a binary-mode reply, a recorded problem, or an empty 204. */
export function answerOf(outcome: StoredOutcome): HttpAnswer {
  if (outcome.reply !== undefined) {
    const r = outcome.reply;
    const event: Record<string, unknown> = {
      specversion: '1.0',
      id: r.id,
      source: r.source,
      type: r.type,
      time: r.time,
      extensions: r.extensions,
    };
    if (r.subject !== undefined) event.subject = r.subject;
    const message = toBinary(event as unknown as CloudEvent);
    const headers = message.headers;
    if (r.data !== undefined) headers['content-type'] = r.datacontenttype ?? 'application/json';
    return { status: outcome.status, headers, body: r.data === undefined ? EMPTY : Buffer.from(r.data) };
  }
  if (outcome.problem !== undefined) {
    return {
      status: outcome.status,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
      body: Buffer.from(outcome.problem),
    };
  }
  return { status: outcome.status, headers: {}, body: EMPTY };
}

/** A mapped error → problem+json answer (`body` is `problemBody(answer.problem)`, made once by the caller). */
export function problemAnswer(answer: ProblemAnswer, body: Buffer): HttpAnswer {
  return {
    status: answer.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...answer.headers },
    body,
  };
}
