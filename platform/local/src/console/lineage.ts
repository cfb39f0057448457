/**
 * An event's path, rebuilt from the console's records (pure: the API serves it, `make lineage` prints it, the page
 * draws it). For one event id: when the broker accepted it (more than once when it was replayed), each Trigger that
 * delivered it with every attempt (status, latency, the retry delay before it), the outcome, the dead letter with
 * `knativeerrorcode`/`knativeerrordata`, and the reply it produced — itself a node, recursively: a reply's
 * `causationid` is the id of the event whose delivery produced it.
 */
import type { AcceptedRecord, AttemptRecord, ConsoleRecord, TrailRecord } from './records.ts';

export interface LineageArrival {
  readonly time: string;
  readonly via: AcceptedRecord['via'];
}

export interface LineageDelivery {
  readonly time: string;
  readonly trigger: string;
  readonly subscriber?: string;
  readonly outcome: TrailRecord['outcome'];
  readonly status: number;
  readonly attempts: readonly AttemptRecord[];
  readonly deadLetter?: {
    readonly sink?: string;
    readonly code?: number;
    readonly data?: string;
    readonly error?: string;
  };
  readonly reply?: TrailRecord['reply'];
  /** The reply's own path, when the broker accepted it. */
  readonly replyPath?: LineageNode;
}

export interface LineageNode {
  readonly eventId: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly traceId?: string;
  /** Each time the broker accepted this id: once, or again per replay. Empty when it was not seen arriving. */
  readonly arrivals: readonly LineageArrival[];
  readonly deliveries: readonly LineageDelivery[];
  /** Events caused by this one that no delivery record names as its reply (published by a handler itself). */
  readonly caused: readonly LineageNode[];
  /** The path goes deeper than the console follows (a loop or a very long chain). */
  readonly truncated?: boolean;
}

/** How deep replies are followed. */
export const MAX_LINEAGE_DEPTH = 20;

interface Index {
  readonly accepted: Map<string, AcceptedRecord[]>;
  readonly deliveries: Map<string, TrailRecord[]>;
  readonly causedBy: Map<string, string[]>;
}

function index(records: readonly ConsoleRecord[]): Index {
  const accepted = new Map<string, AcceptedRecord[]>();
  const deliveries = new Map<string, TrailRecord[]>();
  const causedBy = new Map<string, string[]>();
  const push = <T>(map: Map<string, T[]>, key: string, value: T): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };
  for (const r of records) {
    if (r.kind === 'accepted') {
      push(accepted, r.eventId, r);
      if (r.causationId !== undefined && !(causedBy.get(r.causationId) ?? []).includes(r.eventId))
        push(causedBy, r.causationId, r.eventId);
    } else if (r.kind === 'delivery') push(deliveries, r.eventId, r);
  }
  return { accepted, deliveries, causedBy };
}

function node(ix: Index, id: string, depth: number, seen: Set<string>): LineageNode | undefined {
  const arrivals = ix.accepted.get(id) ?? [];
  const deliveries = ix.deliveries.get(id) ?? [];
  const first = arrivals[0] ?? deliveries[0];
  if (first === undefined) return undefined;
  const base = {
    eventId: id,
    type: first.eventType,
    source: first.eventSource,
    correlationId: first.correlationId,
    ...(arrivals[0]?.subject === undefined ? {} : { subject: arrivals[0].subject }),
    ...(first.causationId === undefined ? {} : { causationId: first.causationId }),
    ...(first.traceId === undefined ? {} : { traceId: first.traceId }),
    arrivals: arrivals.map((a) => ({ time: a.time, via: a.via })),
  };
  if (depth >= MAX_LINEAGE_DEPTH || seen.has(id))
    return { ...base, deliveries: [], caused: [], truncated: true };
  const inner = new Set(seen).add(id);
  const named = new Set<string>();
  const paths: LineageDelivery[] = deliveries.map((d) => {
    const replyPath = d.reply === undefined ? undefined : node(ix, d.reply.id, depth + 1, inner);
    if (d.reply !== undefined) named.add(d.reply.id);
    const failed = d.outcome === 'dead-lettered' || d.outcome === 'lost';
    return {
      time: d.time,
      trigger: d.trigger,
      ...(d.subscriber === undefined ? {} : { subscriber: d.subscriber }),
      outcome: d.outcome,
      status: d.status,
      attempts: d.attemptLog ?? [],
      ...(failed
        ? {
            deadLetter: {
              ...(d.deadLetterSink === undefined ? {} : { sink: d.deadLetterSink }),
              ...(d.knativeErrorCode === undefined ? {} : { code: d.knativeErrorCode }),
              ...(d.knativeErrorData === undefined ? {} : { data: d.knativeErrorData }),
              ...(d.error === undefined ? {} : { error: d.error }),
            },
          }
        : {}),
      ...(d.reply === undefined ? {} : { reply: d.reply }),
      ...(replyPath === undefined ? {} : { replyPath }),
    };
  });
  const caused = (ix.causedBy.get(id) ?? [])
    .filter((child) => !named.has(child))
    .map((child) => node(ix, child, depth + 1, inner))
    .filter((n): n is LineageNode => n !== undefined);
  return { ...base, deliveries: paths, caused };
}

/** The path of event `id`, or undefined when the records know nothing of it. */
export function buildLineage(records: readonly ConsoleRecord[], id: string): LineageNode | undefined {
  return node(index(records), id, 0, new Set());
}

/** The first event of the flow `id` belongs to, following `causationid` back as far as the records go. */
export function rootOf(records: readonly ConsoleRecord[], id: string): string {
  const ix = index(records);
  let current = id;
  for (let i = 0; i < MAX_LINEAGE_DEPTH; i++) {
    const parent = (ix.accepted.get(current) ?? ix.deliveries.get(current) ?? [])[0]?.causationId;
    if (parent === undefined || (!ix.accepted.has(parent) && !ix.deliveries.has(parent))) return current;
    current = parent;
  }
  return current;
}

const ms = (value: number): string =>
  value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
const clock = (iso: string): string => iso.slice(11, 23);

/** One attempt as a person reads it: `500 in 12 ms`, `no answer in 5.0 s after 100 ms`. */
export function describeAttempt(a: AttemptRecord): string {
  const status = a.status === -1 ? 'no answer' : String(a.status);
  const wait = a.waitedMs > 0 ? ` after waiting ${ms(a.waitedMs)}` : '';
  return `${status} in ${ms(a.durationMs ?? 0)}${wait}`;
}

/** The outcome line of a delivery: `delivered 200`, `dead-lettered (500 after 4 attempts)`. */
export function describeDelivery(d: LineageDelivery): string {
  const n = d.attempts.length;
  const tries = `${n} attempt${n === 1 ? '' : 's'}`;
  const status = d.status === -1 ? 'no answer' : String(d.status);
  return `${d.outcome}: ${status} after ${tries}`;
}

/** The tree as text, for `make lineage ID=…`. */
export function renderLineage(root: LineageNode): string {
  const lines: string[] = [];
  const head = (n: LineageNode): string => {
    const arrived =
      n.arrivals.length === 0
        ? 'arrival not recorded'
        : n.arrivals.map((a) => `accepted ${clock(a.time)} via ${a.via}`).join(', ');
    const subject = n.subject === undefined ? '' : ` subject ${n.subject}`;
    const trace = n.traceId === undefined ? '' : ` trace ${n.traceId}`;
    return `${n.type} ${n.eventId} (source ${n.source}${subject}; ${arrived}${trace})`;
  };
  const walk = (n: LineageNode, prefix: string): void => {
    const children: { text: string; extra: string[]; next?: LineageNode; reply?: boolean }[] = [];
    for (const d of n.deliveries) {
      const extra = d.attempts.map((a, i) => `attempt ${i + 1}: ${describeAttempt(a)}`);
      if (d.deadLetter !== undefined) {
        const dl = d.deadLetter;
        extra.push(
          d.outcome === 'lost'
            ? `LOST${dl.error === undefined ? '' : `: ${dl.error}`}`
            : `dead letter → ${dl.sink ?? '?'} (knativeerrorcode ${dl.code ?? '?'}${dl.data === undefined ? '' : `, knativeerrordata ${dl.data}`})`,
        );
      }
      if (d.reply !== undefined && d.replyPath === undefined)
        extra.push(`reply ${d.reply.type} ${d.reply.id}${d.reply.published ? '' : ' (not published)'}`);
      children.push({
        text: `trigger ${d.trigger} → ${d.subscriber ?? '?'}: ${describeDelivery(d)}`,
        extra,
        ...(d.replyPath === undefined ? {} : { next: d.replyPath, reply: true }),
      });
    }
    for (const c of n.caused) children.push({ text: `caused ${head(c)}`, extra: [], next: c });
    if (n.truncated === true) children.push({ text: '… (followed no further)', extra: [] });
    if (children.length === 0 && n.deliveries.length === 0)
      children.push({ text: 'no Trigger delivered it (yet)', extra: [] });
    children.forEach((c, i) => {
      const last = i === children.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${c.text}`);
      const inner = `${prefix}${last ? '   ' : '│  '}`;
      for (const e of c.extra) lines.push(`${inner}${e}`);
      if (c.next === undefined) return;
      if (c.reply === true) {
        lines.push(`${inner}└─ reply ${head(c.next)}`);
        walk(c.next, `${inner}   `);
      } else walk(c.next, inner);
    });
  };
  lines.push(head(root));
  walk(root, '');
  return `${lines.join('\n')}\n`;
}
