/**
 * Trigger (`eventing.knative.dev/v1`) on a RabbitMQ broker, as knative.dev/eventing knative-v1.22.2 and
 * eventing-rabbitmq knative-v1.22.1 validate and default it:
 * - `TriggerSpec.SetDefaults`: no filter = every event; subscriber and dead-letter refs get the Trigger's namespace.
 * - `RabbitTrigger.Validate`: `rabbitmq.eventing.knative.dev/parallelism` is `strconv.Atoi` 1..1000; the trigger
 *   reconciler defaults it to 1.
 * - eventing-rabbitmq binds a Trigger's queue with `spec.filter.attributes` only: `spec.filters` is accepted by the
 *   cluster and ignored (every event delivered), so it is refused here.
 * - The delivery is the Trigger's own, which replaces the Broker's entirely (dead-letter sink included).
 */
import { type DeliverySpec, type Destination, readDelivery, readDestination } from './delivery.ts';
import type { ObjectMeta, ObjectReader } from './object-reader.ts';

export const PARALLELISM_ANNOTATION = 'rabbitmq.eventing.knative.dev/parallelism';

export interface Trigger extends ObjectMeta {
  readonly kind: 'Trigger';
  readonly broker: string;
  /** `spec.filter.attributes`; empty matches every event. */
  readonly filter: Readonly<Record<string, string>>;
  readonly subscriber: Destination;
  /** The Trigger's own delivery; undefined = the Broker's. */
  readonly delivery: DeliverySpec | undefined;
  /** Dispatcher workers; 1 (the default) means ordered delivery. */
  readonly parallelism: number;
}

/** `strconv.Atoi`, then 1..1000, as the RabbitMQ trigger webhook checks the annotation. */
export function readParallelism(r: ObjectReader, raw: string | undefined, field: string): number {
  if (raw === undefined) return 1;
  const n = Number(raw);
  if (!/^[+-]?\d+$/.test(raw) || n < 1 || n > 1000) {
    r.problem(field, `must be an integer 1..1000 (got ${JSON.stringify(raw)})`);
    return 1;
  }
  return n;
}

export function readTrigger(r: ObjectReader): Trigger | undefined {
  const broker = r.string('spec.broker', r.get('spec', 'broker'), true);
  if (r.get('spec', 'filters') !== undefined) {
    r.problem(
      'spec.filters',
      'is ignored by the RabbitMQ broker (it would receive every event); use spec.filter.attributes',
    );
  }
  const filter: Record<string, string> = {};
  const attributes = r.get('spec', 'filter', 'attributes');
  const attrs = r.object('spec.filter.attributes', attributes);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    const field = `spec.filter.attributes.${name}`;
    if (typeof value !== 'string') {
      r.problem(field, 'must be a string (quote it in YAML)');
      continue;
    }
    if (name.startsWith('x-')) {
      r.problem(field, 'is never matched: RabbitMQ ignores x- headers when matching');
      continue;
    }
    if (name === 'datacontenttype') {
      r.warn(field, 'never matches on the RabbitMQ broker (the message header is content-type)');
    }
    filter[name] = value;
  }
  const subscriber = readDestination(r, r.get('spec', 'subscriber'), 'spec.subscriber');
  const delivery = readDelivery(r, r.get('spec', 'delivery'), 'spec.delivery');
  if (delivery !== undefined && delivery.deadLetterSink === undefined) {
    r.warn('spec.delivery', "has no deadLetterSink; it replaces the Broker's, so failed events are dropped");
  }
  const parallelism = readParallelism(
    r,
    r.meta.annotations[PARALLELISM_ANNOTATION],
    `annotation ${PARALLELISM_ANNOTATION}`,
  );
  if (r.problemCount > 0 || broker === undefined || subscriber === undefined) return undefined;
  return Object.freeze({
    kind: 'Trigger',
    ...r.meta,
    broker,
    filter: Object.freeze(filter),
    subscriber,
    delivery,
    parallelism,
  });
}
