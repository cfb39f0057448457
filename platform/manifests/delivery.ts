/**
 * The duck types several kinds share: `Destination` (duckv1: a ref, a URI, or a ref with a URI resolved against
 * it) and `DeliverySpec` (eventing duckv1), validated as `DeliverySpec.Validate` does and defaulted as
 * `SetDefaults` does (a ref without a namespace gets its object's).
 */
import { DurationError, parseIsoDuration } from './duration.ts';
import type { ObjectReader } from './object-reader.ts';

export const BACKOFF_POLICY = { exponential: 'exponential', linear: 'linear' } as const;
export type BackoffPolicy = (typeof BACKOFF_POLICY)[keyof typeof BACKOFF_POLICY];

export const DELIVERY_FORMAT = { json: 'json', binary: 'binary' } as const;
export type DeliveryFormat = (typeof DELIVERY_FORMAT)[keyof typeof DELIVERY_FORMAT];

/** duckv1.KReference, namespace defaulted to the referring object's. */
export interface KReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

export interface Destination {
  readonly ref?: KReference;
  readonly uri?: string;
}

/** `spec.delivery` with durations in milliseconds; fields the manifest leaves unset stay unset. */
export interface DeliverySpec {
  readonly retry?: number;
  readonly backoffPolicy?: BackoffPolicy;
  readonly backoffDelayMs?: number;
  readonly timeoutMs?: number;
  readonly retryAfterMaxMs?: number;
  readonly format?: DeliveryFormat;
  readonly deadLetterSink?: Destination;
}

export function readDestination(r: ObjectReader, raw: unknown, field: string): Destination | undefined {
  const obj = r.object(field, raw, true);
  if (obj === undefined) return undefined;
  const uri = r.string(`${field}.uri`, obj.uri);
  if (obj.ref === undefined || obj.ref === null) {
    if (uri === undefined) {
      r.problem(field, 'needs a ref or a uri');
      return undefined;
    }
    return { uri };
  }
  const ref = r.object(`${field}.ref`, obj.ref);
  if (ref === undefined) return undefined;
  const apiVersion = r.string(`${field}.ref.apiVersion`, ref.apiVersion, true);
  const kind = r.string(`${field}.ref.kind`, ref.kind, true);
  const name = r.string(`${field}.ref.name`, ref.name, true);
  const namespace = r.string(`${field}.ref.namespace`, ref.namespace) ?? r.meta.namespace;
  if (apiVersion === undefined || kind === undefined || name === undefined) return undefined;
  const kref: KReference = { apiVersion, kind, name, namespace };
  return uri === undefined ? { ref: kref } : { ref: kref, uri };
}

type DurationField = 'backoffDelay' | 'timeout' | 'retryAfterMax';

function duration(
  r: ObjectReader,
  raw: Record<string, unknown>,
  field: string,
  name: DurationField,
): number | undefined {
  const text = r.string(`${field}.${name}`, raw[name]);
  if (text === undefined) return undefined;
  try {
    const d = parseIsoDuration(text);
    if (d.clusterMs !== d.ms) {
      r.warn(
        `${field}.${name}`,
        `"${text}" is ${d.ms} ms here, but Knative keeps one decimal place of each field: ${d.clusterMs} ms on a cluster`,
      );
    }
    return d.ms;
  } catch (err) {
    if (!(err instanceof DurationError)) throw err;
    r.problem(`${field}.${name}`, err.message);
    return undefined;
  }
}

export interface DeliveryOptions {
  /** The fields the kind has (a RabbitmqSource's delivery has only retry, backoffPolicy, backoffDelay). */
  readonly fields?: 'eventing' | 'source';
}

export function readDelivery(
  r: ObjectReader,
  raw: unknown,
  field: string,
  options: DeliveryOptions = {},
): DeliverySpec | undefined {
  const obj = r.object(field, raw);
  if (obj === undefined) return undefined;
  const out: {
    -readonly [K in keyof DeliverySpec]: DeliverySpec[K];
  } = {};
  const retry = r.integer(`${field}.retry`, obj.retry, 0, 2_147_483_647);
  if (retry !== undefined) out.retry = retry;
  if (obj.backoffPolicy !== undefined) {
    if (obj.backoffPolicy !== BACKOFF_POLICY.exponential && obj.backoffPolicy !== BACKOFF_POLICY.linear) {
      r.problem(`${field}.backoffPolicy`, 'must be exponential or linear');
    } else out.backoffPolicy = obj.backoffPolicy;
  }
  const backoffDelayMs = duration(r, obj, field, 'backoffDelay');
  if (backoffDelayMs !== undefined) out.backoffDelayMs = backoffDelayMs;
  if (options.fields === 'source') return out;

  const timeoutMs = duration(r, obj, field, 'timeout');
  if (timeoutMs !== undefined) {
    // DeliverySpec.Validate: period.Parse(timeout).IsZero() is invalid.
    if (timeoutMs <= 0) r.problem(`${field}.timeout`, 'must be greater than zero');
    else out.timeoutMs = timeoutMs;
  }
  const retryAfterMaxMs = duration(r, obj, field, 'retryAfterMax');
  if (retryAfterMaxMs !== undefined) {
    out.retryAfterMaxMs = retryAfterMaxMs;
    // config-features delivery-retryafter is "disabled" in a stock Knative 1.22: the webhook refuses the field.
    r.warn(
      `${field}.retryAfterMax`,
      'needs the delivery-retryafter feature, disabled in a stock Knative 1.22 (config-features): the webhook refuses it',
    );
  }
  if (obj.format !== undefined) {
    if (obj.format !== DELIVERY_FORMAT.json && obj.format !== DELIVERY_FORMAT.binary) {
      r.problem(`${field}.format`, 'must be json or binary');
    } else out.format = obj.format;
  }
  if (obj.deadLetterSink !== undefined) {
    const dls = readDestination(r, obj.deadLetterSink, `${field}.deadLetterSink`);
    if (dls !== undefined) out.deadLetterSink = dls;
  }
  return out;
}
