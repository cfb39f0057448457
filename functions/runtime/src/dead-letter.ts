/**
 * The dead-letter record: what functions/platform/dead-letter-sink stores for every event a Trigger gave
 * up on, and what the operator tools (`make dlq`, `make replay`; eventing/src/dead-letters.ts) read. It
 * lives in the runtime so that the sink function and the platform share one model without importing
 * each other.
 */
import { sha256 } from './lazy-crypto.ts';
import type { ExtensionValue } from './types.ts';

/** The collection the dead-letter sink writes and `make dlq` reads. */
export const DEAD_LETTERS_COLLECTION = 'dead_letters';
export const DEAD_LETTER_STATUS = { deadLettered: 'dead-lettered', replayed: 'replayed' } as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUS)[keyof typeof DEAD_LETTER_STATUS];
/** The extensions Knative adds to a dead letter (and the sink keeps apart from the event's own). */
export const KNATIVE_ERROR_EXTENSIONS: readonly string[] = [
  'knativeerrordest',
  'knativeerrorcode',
  'knativeerrordata',
];

/** One stored dead letter; `data` is kept as text (utf8 or base64) so any payload is a safe document. */
export interface DeadLetter {
  [key: string]: unknown;
  _id: string;
  eventId: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  data?: string;
  dataEncoding?: 'utf8' | 'base64';
  /** Extensions other than knativeerror*. */
  extensions: Record<string, ExtensionValue>;
  dest: string;
  code: number | null;
  /** knativeerrordata decoded (the subscriber's answer body, or the failure text). */
  reason: string;
  status: DeadLetterStatus;
  count: number;
  firstDeadLetteredAt: string;
  lastDeadLetteredAt: string;
  replayedAt?: string;
}

export function deadLetterId(source: string, id: string, dest: string): string {
  return sha256(`${source}\0${id}\0${dest}`, 'hex').slice(0, 24);
}

/** knativeerrordata: base64 of the answer body (core Knative), or plain text (a failed reply publish). */
export function decodeErrorData(value: ExtensionValue | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    if (!decoded.includes('\uFFFD')) return decoded;
  }
  return text;
}
