/**
 * dead-letter-sink — the Knative Service every Trigger's `deadLetterSink` names. Stores each dead
 * letter with its knativeerror* extensions in the `dead_letters` collection, so operators can list and
 * replay them (`make dlq`, `make replay ID=…`; eventing/src/cli/dlq.ts). Upstream's dead-letter
 * dispatcher drops events it cannot deliver here, so this service runs with min-scale 1.
 *
 * It accepts every CloudEvent type (`acceptsAny`: dead letters are whatever failed) without a schema,
 * and runs without the runtime's idempotency guard (`idempotent: false`): the same event may be
 * dead-lettered by two triggers, or again after a replay, and each must be recorded. Records are keyed
 * by source + id + knativeerrordest instead, so a redelivered dead letter updates its record.
 */
import { createHash } from 'node:crypto';
import type { CloudEvent, ExtensionValue, SluiceFunction } from '../runtime/src/index.ts';

export const COLLECTION = 'dead_letters';
export const STATUS = { deadLettered: 'dead-lettered', replayed: 'replayed' } as const;
export type DeadLetterStatus = (typeof STATUS)[keyof typeof STATUS];
const ERROR_EXTENSIONS = ['knativeerrordest', 'knativeerrorcode', 'knativeerrordata'];

export const accepts = [] as const;
export const acceptsAny = true;
export const idempotent = false;

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
  return createHash('sha256').update(`${source}\0${id}\0${dest}`).digest('hex').slice(0, 24);
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

function encodeData(event: CloudEvent): Pick<DeadLetter, 'data' | 'dataEncoding'> {
  const { data } = event;
  if (data === undefined || data === null) return {};
  if (data instanceof Uint8Array)
    return { data: Buffer.from(data).toString('base64'), dataEncoding: 'base64' };
  return { data: typeof data === 'string' ? data : JSON.stringify(data), dataEncoding: 'utf8' };
}

export const init: SluiceFunction['init'] = async ({ store }) => {
  await store
    .collection(COLLECTION)
    .createIndex({ keys: { status: 1, lastDeadLetteredAt: -1 }, name: 'status_time' });
};

export const handle: SluiceFunction['handle'] = async (event, { store, log }) => {
  const dest = String(event.extensions.knativeerrordest ?? '');
  const rawCode = event.extensions.knativeerrorcode;
  const code = rawCode === undefined || Number.isNaN(Number(rawCode)) ? null : Number(rawCode);
  const extensions: Record<string, ExtensionValue> = {};
  for (const [name, value] of Object.entries(event.extensions)) {
    if (!ERROR_EXTENSIONS.includes(name)) extensions[name] = value;
  }
  const now = new Date().toISOString();
  const fields: Record<string, unknown> = {
    eventId: event.id,
    source: event.source,
    type: event.type,
    extensions,
    dest,
    code,
    reason: decodeErrorData(event.extensions.knativeerrordata),
    status: STATUS.deadLettered,
    lastDeadLetteredAt: now,
    ...encodeData(event),
  };
  if (event.subject !== undefined) fields.subject = event.subject;
  if (event.time !== undefined) fields.time = event.time;
  if (event.datacontenttype !== undefined) fields.datacontenttype = event.datacontenttype;
  const _id = deadLetterId(event.source, event.id, dest);
  await store
    .collection<DeadLetter>(COLLECTION)
    .updateOne(
      { _id },
      { $set: fields, $inc: { count: 1 }, $setOnInsert: { firstDeadLetteredAt: now } },
      { upsert: true },
    );
  log.warn(`dead letter stored: ${event.type} ${event.id} (${code ?? 'no code'} from ${dest || 'unknown'})`, {
    'event.action': 'dead-letter-stored',
    'sluice.dead_letter.id': _id,
  });
  return undefined;
};
