/**
 * dead-letter-sink — the Knative Service every Trigger's `deadLetterSink` names, and where functions
 * keep the events they refuse (SLUICE_DEAD_LETTER_SINK; the runtime's keep-rejected.ts). Stores each
 * dead letter with its knativeerror* extensions in the `dead_letters` collection, so operators can list
 * and replay them (`make dlq`, `make replay ID=…`; eventing/src/cli/dlq.ts). Upstream's dead-letter
 * dispatcher drops events it cannot deliver here, so this service runs with min-scale 1.
 *
 * It accepts every CloudEvent type (`acceptsAny`: dead letters are whatever failed) without a schema,
 * and runs without the runtime's idempotency guard (`idempotent: false`): the same event may be
 * dead-lettered by two triggers, or again after a replay, and each must be recorded. Records are keyed
 * by source + id + knativeerrordest instead: a dead letter delivered twice (a redelivery, a function
 * keeping a refusal again) is one record, counted once; only a replayed record counts a new failure.
 *
 * It answers 2xx only once the record is written with a durable write concern (majority + journal),
 * and refuses to become ready on a store held in its own process memory, which a restart would empty.
 */
import { isUtf8 } from 'node:buffer';
import {
  type CloudEvent,
  DEAD_LETTERS_COLLECTION as COLLECTION,
  type DeadLetter,
  DuplicateKeyError,
  deadLetterId,
  decodeErrorData,
  type ExtensionValue,
  KNATIVE_ERROR_EXTENSIONS,
  type SluiceFunction,
  DEAD_LETTER_STATUS as STATUS,
} from '../../runtime/src/index.ts';

export const accepts = [] as const;
export const acceptsAny = true;
export const idempotent = false;

function encodeData(event: CloudEvent): Pick<DeadLetter, 'data' | 'dataEncoding'> {
  const { data, dataBytes } = event;
  if (dataBytes !== undefined) {
    // The bytes it arrived with, so a replay sends them unchanged (large integers, `1.10`, key order).
    const bytes = Buffer.from(dataBytes.buffer, dataBytes.byteOffset, dataBytes.byteLength);
    return isUtf8(bytes)
      ? { data: bytes.toString('utf8'), dataEncoding: 'utf8' }
      : { data: bytes.toString('base64'), dataEncoding: 'base64' };
  }
  if (data === undefined || data === null) return {};
  if (data instanceof Uint8Array)
    return { data: Buffer.from(data).toString('base64'), dataEncoding: 'base64' };
  return { data: typeof data === 'string' ? data : JSON.stringify(data), dataEncoding: 'utf8' };
}

/** Set by the runtime's keep-rejected.ts when the data did not parse as its content type. */
const DATA_CONTENT_TYPE_EXTENSION = 'sluicedatacontenttype';

export class VolatileStoreError extends Error {
  override name = 'VolatileStoreError';
}

export const init: SluiceFunction['init'] = async ({ store }) => {
  if (store.kind === 'memory') {
    throw new VolatileStoreError(
      'the dead-letter sink needs a store that outlives its process: set MONGODB_URL (make dev without it provides a shared dev store)',
    );
  }
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
    if (!KNATIVE_ERROR_EXTENSIONS.includes(name) && name !== DATA_CONTENT_TYPE_EXTENSION)
      extensions[name] = value;
  }
  const originalContentType = event.extensions[DATA_CONTENT_TYPE_EXTENSION];
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
  if (originalContentType !== undefined) fields.datacontenttype = String(originalContentType);
  else if (event.datacontenttype !== undefined) fields.datacontenttype = event.datacontenttype;
  const _id = deadLetterId(event.source, event.id, dest);
  const records = store.collection<DeadLetter>(COLLECTION);
  // Already dead-lettered (not replayed since): the same failure again, one record, counted once.
  const repeat = async (): Promise<boolean> =>
    (await records.updateOne({ _id, status: STATUS.deadLettered }, { $set: fields }, { durable: true }))
      .matchedCount === 1;
  if (!(await repeat())) {
    try {
      // New, or replayed and failing again: `count` is the number of times it failed for good.
      await records.updateOne(
        { _id, status: { $ne: STATUS.deadLettered } },
        { $set: fields, $inc: { count: 1 }, $setOnInsert: { firstDeadLetteredAt: now } },
        { upsert: true, durable: true },
      );
    } catch (err) {
      // A concurrent copy inserted it first (the filter then misses, the upsert collides on _id).
      if (!(err instanceof DuplicateKeyError) || !(await repeat())) throw err;
    }
  }
  log.warn(`dead letter stored: ${event.type} ${event.id} (${code ?? 'no code'} from ${dest || 'unknown'})`, {
    'event.action': 'dead-letter-stored',
    'sluice.dead_letter.id': _id,
    // The tree's leaf in Kibana: where the event ended and why (docs/observability.md).
    'sluice.knative_error_code': code,
  });
  return undefined;
};
