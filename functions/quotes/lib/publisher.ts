/**
 * Publishing quote events to the broker's ingress (BROKER_URL: set by `make dev`, and on the cluster by the
 * `sluice-eventing-env` ConfigMap), in CloudEvents binary mode, answered 202 once the broker stored it.
 *
 * The quotes function writes a change and its event together (the quote document is its own outbox record,
 * `published: false`), publishes, then marks it published. A publish that fails is left to the relay
 * (`relayPending`), which the function runs at start and then periodically, so a change always reaches the
 * broker, at least once; ids are deterministic (quotes.ts), so the consumers see one event.
 */
import {
  type CloudEvent,
  type Collection,
  type Logger,
  notStoredReason,
  postToIngress,
  type SchemaSet,
  storedByBroker,
  toBinary,
} from '../../runtime/src/index.ts';
import { createdEvent, deletedEvent, type QuoteDoc, type QuoteEvent, type TombstoneDoc } from './quotes.ts';

export class PublishError extends Error {
  override name = 'PublishError';
}

export interface Publisher {
  publish(event: QuoteEvent): Promise<void>;
}

export interface BrokerPublisherOptions {
  readonly brokerUrl: string;
  /** The emitted types' schemas: an event that fails its own schema is a bug, never sent. */
  readonly schemas: SchemaSet;
  readonly timeoutMs?: number;
}

export function toCloudEvent(e: QuoteEvent): CloudEvent {
  return {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type: e.type,
    subject: e.subject,
    time: e.time,
    datacontenttype: 'application/json',
    data: e.data,
    extensions: {},
  };
}

export function brokerPublisher(options: BrokerPublisherOptions): Publisher {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    async publish(event) {
      const problems = options.schemas.check(event.type, event.data);
      if (problems.length > 0)
        throw new PublishError(`${event.type} fails its schema: ${JSON.stringify(problems)}`);
      const message = toBinary(toCloudEvent(event));
      const answer = await postToIngress(options.brokerUrl, message, { timeoutMs });
      if (!storedByBroker(answer))
        throw new PublishError(`${event.id} not stored: ${notStoredReason(answer)}`);
    },
  };
}

export interface OutboxCollections {
  readonly quotes: Collection<QuoteDoc>;
  readonly tombstones: Collection<TombstoneDoc>;
}

/** Publishes what is not yet published (a failed or interrupted publish); returns how many were sent. */
export async function relayPending(
  { quotes, tombstones }: OutboxCollections,
  publisher: Publisher,
  log: Logger,
): Promise<number> {
  let sent = 0;
  for (const q of await quotes.find({ published: false }, { limit: 500 })) {
    await publisher.publish(createdEvent(q));
    await quotes.updateOne({ _id: q._id }, { $set: { published: true } });
    sent++;
  }
  for (const t of await tombstones.find({ deletePublished: false }, { limit: 500 })) {
    // The created event first: a consumer that never saw the quote still learns it existed and went.
    if (!t.published) await publisher.publish(createdEvent(t));
    await publisher.publish(deletedEvent(t));
    await tombstones.updateOne({ _id: t._id }, { $set: { published: true, deletePublished: true } });
    // A delete interrupted between its tombstone and the quote's removal is finished here.
    await quotes.deleteOne({ _id: t._id });
    sent++;
  }
  if (sent > 0) log.info(`relayed ${sent} unpublished quote changes`, { 'event.action': 'outbox-relay' });
  return sent;
}

/** Every event the stored state stands for, in an order a consumer can apply (creations, then deletions). */
export async function* eventLog({ quotes, tombstones }: OutboxCollections): AsyncGenerator<QuoteEvent> {
  const PAGE = 500;
  for (const [collection, deleted] of [
    [quotes, false],
    [tombstones, true],
  ] as const) {
    let after = '';
    for (;;) {
      const page = await collection.find({ _id: { $gt: after } }, { sort: { _id: 1 }, limit: PAGE });
      for (const doc of page) {
        yield createdEvent(doc);
        if (deleted) yield deletedEvent(doc as TombstoneDoc);
      }
      const last = page.at(-1);
      if (last === undefined || page.length < PAGE) break;
      after = last._id;
    }
  }
}
