/**
 * Operator tools over the dead letters functions/platform/dead-letter-sink stored: list them, and replay them
 * into the broker ingress — the original event (id, source, type, data, extensions) without the
 * knativeerror* extensions — marking each as replayed. A replayed event that fails again is
 * dead-lettered again and its record returns to `dead-lettered` (count + 1).
 */

import type { CloudEvent, DocumentStore } from '../../functions/runtime/src/index.ts';
import {
  DEAD_LETTERS_COLLECTION as COLLECTION,
  type DeadLetter,
  DEAD_LETTER_STATUS as STATUS,
  toBinary,
} from '../../functions/runtime/src/index.ts';

export async function listDeadLetters(
  store: DocumentStore,
  options: { all?: boolean } = {},
): Promise<DeadLetter[]> {
  const filter = options.all === true ? {} : { status: STATUS.deadLettered };
  return store.collection<DeadLetter>(COLLECTION).find(filter, { sort: { lastDeadLetteredAt: -1 } });
}

/** The event as it was before it failed (knativeerror* were stored apart, so they are not in it). */
export function originalEvent(d: DeadLetter): CloudEvent {
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: d.eventId,
    source: d.source,
    type: d.type,
    extensions: d.extensions,
    data:
      d.data === undefined
        ? undefined
        : d.dataEncoding === 'base64'
          ? Buffer.from(d.data, 'base64')
          : Buffer.from(d.data),
  };
  if (d.subject !== undefined) event.subject = d.subject;
  if (d.time !== undefined) event.time = d.time;
  if (d.datacontenttype !== undefined) event.datacontenttype = d.datacontenttype;
  return event as unknown as CloudEvent;
}

export class ReplayError extends Error {
  override name = 'ReplayError';
}

/** POSTs the original event to the broker ingress; marks the record replayed once the broker answered 202. */
export async function replayDeadLetter(
  store: DocumentStore,
  brokerUrl: string,
  d: DeadLetter,
): Promise<void> {
  const message = toBinary(originalEvent(d));
  const res = await fetch(brokerUrl, { method: 'POST', headers: message.headers, body: message.body });
  const text = await res.text();
  if (res.status !== 202) throw new ReplayError(`broker answered ${res.status} for ${d._id}: ${text}`);
  await store
    .collection<DeadLetter>(COLLECTION)
    .updateOne({ _id: d._id }, { $set: { status: STATUS.replayed, replayedAt: new Date().toISOString() } });
}

function cut(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** Reason shown in the table: a problem+json detail/title when the answer was one, else the text. */
export function shortReason(reason: string): string {
  try {
    const p = JSON.parse(reason) as { detail?: unknown; title?: unknown };
    if (typeof p.detail === 'string') return p.detail;
    if (typeof p.title === 'string') return p.title;
  } catch {
    // not JSON
  }
  return reason;
}

export function formatTable(rows: readonly DeadLetter[]): string {
  const header = ['ID', 'TYPE', 'REASON', 'CODE', 'DEST', 'TIME', 'STATUS'];
  const body = rows.map((d) => [
    d._id,
    d.type,
    cut(shortReason(d.reason), 40),
    d.code === null ? '-' : String(d.code),
    cut(d.dest, 40),
    d.lastDeadLetteredAt,
    d.count > 1 ? `${d.status} ×${d.count}` : d.status,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  return [header, ...body]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
