/**
 * Event sources:
 * - RabbitmqSource (`sources.knative.dev/v1alpha1`, eventing-rabbitmq knative-v1.22.1 `RabbitmqSource.Validate`,
 *   `SetDefaults` and CRD defaults): `rabbitmqResourcesConfig` with `queueName`, `exchangeName` unless
 *   `predeclared`, `parallelism` 1..1000 (default 1); `rabbitmqClusterReference` as for a broker config; a sink;
 *   a delivery of retry, backoffPolicy and backoffDelay only.
 * - PingSource (`sources.knative.dev/v1`, knative.dev/eventing knative-v1.22.2 `PingSourceSpec.Validate` and
 *   `SetDefaults`, and the mtping adapter that sends its events): `schedule` defaults to `* * * * *` (a cron line:
 *   5 fields, or 6 with seconds first, or a descriptor; `@every` refused), `timezone` an IANA zone (the adapter's
 *   own zone, UTC, when unset), `data` and `dataBase64` exclusive, JSON checked when `contentType` is
 *   application/json; events of type `dev.knative.sources.ping` from `/apis/v1/namespaces/<ns>/pingsources/<name>`.
 */
import { type ClusterReference, readClusterReference } from './broker.ts';
import { type DeliverySpec, type Destination, readDelivery, readDestination } from './delivery.ts';
import type { ObjectMeta, ObjectReader } from './object-reader.ts';

export interface RabbitmqSource extends ObjectMeta {
  readonly kind: 'RabbitmqSource';
  readonly rabbitmqClusterReference: ClusterReference;
  readonly queueName: string;
  readonly exchangeName: string | undefined;
  readonly predeclared: boolean;
  readonly vhost: string | undefined;
  /** Channel prefetch and workers (CRD default 1). */
  readonly parallelism: number;
  readonly delivery: Pick<DeliverySpec, 'retry' | 'backoffPolicy' | 'backoffDelayMs'> | undefined;
  readonly sink: Destination;
}

export function readRabbitmqSource(r: ObjectReader): RabbitmqSource | undefined {
  const ref = readClusterReference(
    r,
    r.get('spec', 'rabbitmqClusterReference'),
    'spec.rabbitmqClusterReference',
  );
  const rc = r.object('spec.rabbitmqResourcesConfig', r.get('spec', 'rabbitmqResourcesConfig'), true) ?? {};
  const queueName = r.string('spec.rabbitmqResourcesConfig.queueName', rc.queueName, true);
  const predeclared = r.boolean('spec.rabbitmqResourcesConfig.predeclared', rc.predeclared) ?? false;
  const exchangeName = r.string('spec.rabbitmqResourcesConfig.exchangeName', rc.exchangeName);
  if (!predeclared && exchangeName === undefined) {
    r.problem('spec.rabbitmqResourcesConfig.exchangeName', 'is required when predeclared is false');
  }
  const parallelism = r.integer('spec.rabbitmqResourcesConfig.parallelism', rc.parallelism, 1, 1000) ?? 1;
  const vhost = r.string('spec.rabbitmqResourcesConfig.vhost', rc.vhost);
  const sink = readDestination(r, r.get('spec', 'sink'), 'spec.sink');
  const delivery = readDelivery(r, r.get('spec', 'delivery'), 'spec.delivery', { fields: 'source' });
  if (r.problemCount > 0 || ref === undefined || queueName === undefined || sink === undefined)
    return undefined;
  return Object.freeze({
    kind: 'RabbitmqSource',
    ...r.meta,
    rabbitmqClusterReference: ref,
    queueName,
    exchangeName,
    predeclared,
    vhost,
    parallelism,
    delivery,
    sink,
  });
}

export const PING_SOURCE = {
  eventType: 'dev.knative.sources.ping',
  defaultSchedule: '* * * * *',
  /** The mtping adapter's own zone (its image sets none). */
  defaultTimezone: 'UTC',
} as const;

export interface PingSource extends ObjectMeta {
  readonly kind: 'PingSource';
  /** A cron line as written (or the default), without a CRON_TZ prefix. */
  readonly schedule: string;
  readonly timezone: string;
  readonly contentType: string | undefined;
  /** The event's data bytes: `data` as UTF-8, or `dataBase64` decoded; undefined = an event without data. */
  readonly data: Uint8Array | undefined;
  readonly sink: Destination;
  /** `spec.ceOverrides.extensions`, set on every event. */
  readonly extensions: Readonly<Record<string, string>>;
  /** The CloudEvent attributes the adapter sets. */
  readonly eventType: string;
  readonly eventSource: string;
}

// robfig/cron v3 with SecondOptional | Minute | Hour | Dom | Month | Dow | Descriptor.
const DESCRIPTORS = new Set([
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
]);
const CRON_FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
] as const;

/** Why a cron field is invalid, or undefined when robfig/cron's `getRange` would accept it. */
function cronFieldProblem(text: string, spec: (typeof CRON_FIELDS)[number]): string | undefined {
  const value = (v: string): number | undefined => {
    const names: readonly string[] = 'names' in spec ? spec.names : [];
    const i = names.indexOf(v.toLowerCase());
    if (i >= 0) return i + spec.min;
    return /^\d+$/.test(v) ? Number(v) : undefined;
  };
  for (const part of text.split(',')) {
    const [range = '', step, extra] = part.split('/');
    if (extra !== undefined || (step !== undefined && !/^\d+$/.test(step))) return `bad step in "${part}"`;
    if (step !== undefined && Number(step) === 0) return `step of zero in "${part}"`;
    if (range === '*' || range === '?') continue;
    const [lo = '', hi, more] = range.split('-');
    const low = value(lo);
    const high = hi === undefined ? low : value(hi);
    if (more !== undefined || low === undefined || high === undefined) return `cannot read "${part}"`;
    if (low < spec.min || high > spec.max || low > high) {
      return `"${part}" is beyond ${spec.min}..${spec.max} for the ${spec.name}`;
    }
  }
  return undefined;
}

/** A PingSource schedule as the webhook parses it; returns why it is refused, or undefined. */
export function cronProblem(schedule: string): string | undefined {
  if (schedule.includes('@every')) return 'uses the unsupported descriptor @every';
  const line = schedule.trim();
  if (line.startsWith('@')) return DESCRIPTORS.has(line) ? undefined : `unknown descriptor ${line}`;
  const fields = line.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6)
    return `has ${fields.length} fields, expected 5 (or 6 with seconds first)`;
  const specs = fields.length === 6 ? CRON_FIELDS : CRON_FIELDS.slice(1);
  for (const [i, f] of fields.entries()) {
    const spec = specs[i];
    const why = spec === undefined ? 'has too many fields' : cronFieldProblem(f, spec);
    if (why !== undefined) return why;
  }
  return undefined;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function readPingSource(r: ObjectReader): PingSource | undefined {
  const spec = r.object('spec', r.get('spec'), true) ?? {};
  const schedule = r.string('spec.schedule', spec.schedule) ?? PING_SOURCE.defaultSchedule;
  const why = cronProblem(schedule);
  if (why !== undefined) r.problem('spec.schedule', `"${schedule}" ${why}`);
  const timezone = r.string('spec.timezone', spec.timezone) ?? PING_SOURCE.defaultTimezone;
  if (!isTimeZone(timezone))
    r.problem('spec.timezone', `"${timezone}" is not an IANA time zone (e.g. Europe/Paris)`);
  const contentType = r.string('spec.contentType', spec.contentType);
  const text = r.string('spec.data', spec.data);
  const base64 = r.string('spec.dataBase64', spec.dataBase64);
  let data: Uint8Array | undefined;
  if (text !== undefined && base64 !== undefined)
    r.problem('spec.data', 'and spec.dataBase64 are mutually exclusive');
  else if (base64 !== undefined) {
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(base64)) {
      r.problem('spec.dataBase64', 'is not valid base64');
    } else data = new Uint8Array(Buffer.from(base64, 'base64'));
  } else if (text !== undefined) data = new TextEncoder().encode(text);
  if (data !== undefined && contentType === 'application/json') {
    const field = base64 === undefined ? 'spec.data' : 'spec.dataBase64';
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(data));
      // validateJSON unmarshals into a map: the data must be a JSON object.
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        r.problem(field, 'must be a JSON object');
    } catch (err) {
      r.problem(field, `is not JSON: ${(err as Error).message}`);
    }
  }
  const sink = readDestination(r, spec.sink, 'spec.sink');
  const extensions: Record<string, string> = {};
  const overrides = r.object(
    'spec.ceOverrides.extensions',
    (spec.ceOverrides as { extensions?: unknown } | undefined)?.extensions,
  );
  for (const [k, v] of Object.entries(overrides ?? {})) {
    const value = r.string(`spec.ceOverrides.extensions.${k}`, v);
    if (value !== undefined) extensions[k] = value;
  }
  if (r.problemCount > 0 || sink === undefined) return undefined;
  return Object.freeze({
    kind: 'PingSource',
    ...r.meta,
    schedule,
    timezone,
    contentType,
    data,
    sink,
    extensions: Object.freeze(extensions),
    eventType: PING_SOURCE.eventType,
    eventSource: `/apis/v1/namespaces/${r.meta.namespace}/pingsources/${r.meta.name}`,
  });
}
