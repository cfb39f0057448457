/**
 * What `make dev`'s event console records, as plain data shared by the recorder, its HTTP API, `make lineage` and
 * the page (platform/local/console/page/ imports these types): the broker's records (eventing/src/trail.ts) and
 * the platform's own, the scale of each Knative Service. Each carries `seq`, its place in the recording: the
 * server-sent events' `id`, so a reconnecting page resumes where it stopped (`Last-Event-ID`).
 */

// The broker's records (eventing/src/trail.ts), as the console reads them. Spelled out here, without an import,
// because the page (browser code) imports this file and nothing of Node; platform.ts hands the broker's records to
// the recorder, so the compiler fails there if the two ever disagree.

export interface AttemptRecord {
  /** HTTP status, or -1 when there was no (complete) answer. */
  readonly status: number;
  /** Milliseconds waited before this attempt: the retry delay (0 for the first). */
  readonly waitedMs: number;
  /** Milliseconds from the request to the end of the answer. */
  readonly durationMs: number;
}

interface EventIds {
  readonly eventId: string;
  readonly eventType: string;
  readonly eventSource: string;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly traceId?: string;
}

export interface AcceptedRecord extends EventIds {
  readonly kind: 'accepted';
  readonly time: string;
  readonly via: 'ingress' | 'reply' | 'source' | 'ping';
  readonly subject?: string;
  readonly eventTime?: string;
}

export interface TrailRecord extends EventIds {
  readonly kind: 'delivery';
  readonly time: string;
  readonly trigger: string;
  readonly subscriber?: string;
  readonly outcome: 'delivered' | 'refused-kept' | 'refused-acked' | 'dead-lettered' | 'lost';
  readonly status: number;
  readonly attempts: number;
  readonly attemptLog: readonly AttemptRecord[];
  readonly reply?: {
    readonly id: string;
    readonly type: string;
    readonly published: boolean;
    readonly data?: unknown;
  };
  readonly deadLetterSink?: string;
  readonly knativeErrorCode?: number;
  readonly knativeErrorData?: string;
  readonly error?: string;
}

/** A Knative Service's instances after a change (serving's snapshot, reduced to counts). */
export interface ScaleRecord {
  readonly kind: 'scale';
  readonly time: string;
  readonly service: string;
  readonly revision?: string;
  /** Instances that take requests. */
  readonly ready: number;
  readonly starting: number;
  readonly stopping: number;
  readonly inFlight: number;
  /** Requests the activator holds for want of an instance. */
  readonly queued: number;
}

/** A scale decision on a Trigger's dispatcher (a ScaledObject, KEDA's part), as the broker reports it. */
export interface DispatcherScaleRecord {
  readonly kind: 'dispatcher-scale';
  readonly time: string;
  readonly trigger: string;
  readonly from: number;
  readonly to: number;
  readonly depth: number;
}

export type RecordInput = AcceptedRecord | TrailRecord | ScaleRecord | DispatcherScaleRecord;
export type ConsoleRecord = RecordInput & { readonly seq: number };
export type RecordKind = ConsoleRecord['kind'];

/** The recording's bounds and losses, for the page's footer and `GET /v1/stats`. */
export interface RecorderStats {
  readonly capacity: number;
  /** Records held now. */
  readonly size: number;
  /** Records recorded since start (or since the first one kept in MongoDB). */
  readonly total: number;
  /** Records evicted from memory by the cap. */
  readonly dropped: number;
  /** Where records survive a restart: `memory` (they do not) or `mongodb`. */
  readonly store: 'memory' | 'mongodb';
  /** Records waiting to be written to MongoDB, and those that could not be (written off). */
  readonly pending: number;
  readonly unsaved: number;
}

/** A Knative Service as the console's Functions view shows it (`GET /v1/functions`). */
export interface FunctionView {
  readonly name: string;
  readonly revision?: string;
  readonly ready: number;
  readonly starting: number;
  readonly stopping: number;
  readonly inFlight: number;
  readonly queued: number;
  readonly minScale: number;
  readonly maxScale: number;
  /** Deliveries to it in the recording, and those that did not end 2xx. */
  readonly deliveries: number;
  readonly errors: number;
}

/** A Trigger as the Triggers view shows it (`GET /v1/triggers`). */
export interface TriggerView {
  readonly name: string;
  /** Attribute filters (exact match); empty: every event. */
  readonly filter: Readonly<Record<string, string>>;
  readonly subscriber: string;
  readonly queue: string;
  /** Messages in its queue (ready + unacknowledged); undefined when the backend cannot say. */
  readonly depth?: number;
  /** Its dispatcher's replicas (KEDA), when a ScaledObject scales it. */
  readonly replicas?: number;
  /** Paused: its dispatcher takes no messages (the queue keeps them); undefined when the broker cannot pause. */
  readonly paused?: boolean;
  readonly deadLetterSink?: string;
  /** Deliveries of the recording that ended dead-lettered or lost. */
  readonly deadLettered: number;
}

/** A dead letter as the Dead letters view lists it (`GET /v1/dead-letters`; eventing/src/dead-letters.ts). */
export interface DeadLetterView {
  readonly id: string;
  readonly eventId: string;
  readonly type: string;
  readonly source: string;
  readonly reason: string;
  readonly code: number | null;
  readonly dest: string;
  readonly status: string;
  readonly count: number;
  readonly lastDeadLetteredAt: string;
}

export interface ReplayOutcome {
  readonly id: string;
  readonly replayed: boolean;
  readonly error?: string;
}
