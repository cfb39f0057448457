/**
 * The two duration syntaxes Knative manifests use, each parsed the way upstream parses it:
 *
 * - ISO 8601 (`spec.delivery.backoffDelay`, `timeout`, `retryAfterMax`): knative.dev/eventing reads them with
 *   `github.com/rickb777/date/period` v1.13.0 `Parse`, then `DurationApprox()` (eventing-rabbitmq's trigger
 *   reconciler turns that into the dispatcher's BACKOFF_DELAY/TIMEOUT). Its grammar: an optional sign, `P`,
 *   date fields Y M W D in that order, `T`, time fields H M S in that order; a `.` or `,` fraction on any field;
 *   `P0` is zero. A year is 365.2425 days, a month a twelfth of that. Each field keeps ONE decimal place
 *   (period stores tenths in an int16): `PT0.05S` is 0 s on a cluster. `clusterMs` is that value; `ms` is the
 *   value as written, so a reader can warn when the two differ.
 * - Go (`autoscaling.knative.dev/window`, `scale-to-zero-pod-retention-period`): Serving reads them with
 *   `time.ParseDuration`: `30s`, `1m30s`, `1.5h`, `250ms`, `0`.
 *
 * Accepted here ⊆ accepted upstream: where upstream takes garbage (`PT1.S`, `PT1.5.5S`, signs inside a field)
 * or a negative duration (which no delivery field means), the parser refuses it with a sentence saying why.
 */

export class DurationError extends Error {
  override name = 'DurationError';
}

export interface IsoDuration {
  /** Milliseconds as written (every digit counted). */
  readonly ms: number;
  /** Milliseconds as a Knative 1.22 cluster computes them (one decimal place per field, the rest dropped). */
  readonly clusterMs: number;
}

// period64's fields in tenths: the order `ParseWithNormalise` reads them in.
const DATE_MARKS = ['Y', 'M', 'W', 'D'] as const;
const TIME_MARKS = ['H', 'M', 'S'] as const;
const NUMBER = /^(?:\d+(?:[.,]\d+)?|[.,]\d+)$/;

const MS = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  /** period.daysPerYearE4 = 3652425 */
  year: 365.2425 * 86_400_000,
  /** period.daysPerMonthE6 = 30436875 */
  month: 30.436875 * 86_400_000,
} as const;

/** int16 storage of one field, in tenths (`period.Period`). */
const FIELD_LIMIT_TENTHS = 32_767;

interface Field {
  /** Exact value as written. */
  readonly value: number;
  /** Tenths as `parseDecimalFixedPoint` keeps them: one fractional digit, the rest dropped. */
  readonly tenths: number;
}

function field(text: string, original: string): Field {
  if (!NUMBER.test(text)) {
    throw new DurationError(`"${original}" is not an ISO 8601 duration: "${text}" is not a number`);
  }
  const normal = text.replace(',', '.');
  const [int = '', frac = ''] = normal.split('.');
  return {
    value: Number(normal.startsWith('.') ? `0${normal}` : normal),
    tenths: Number(`${int || '0'}${frac[0] ?? '0'}`),
  };
}

/** Splits `text` at each mark in order, as `parseField` does: a mark needs at least one character before it. */
function fields(text: string, marks: readonly string[], original: string): (Field | undefined)[] {
  let rest = text;
  const out = marks.map((mark) => {
    const at = rest.indexOf(mark);
    if (at <= 0) return undefined;
    const f = field(rest.slice(0, at), original);
    rest = rest.slice(at + 1);
    return f;
  });
  if (rest !== '') {
    throw new DurationError(
      `"${original}" is not an ISO 8601 duration: unexpected "${rest}" (fields go ${marks.join(', ')} in that order)`,
    );
  }
  return out;
}

/**
 * An ISO 8601 duration as Knative reads it (see the module comment). Throws DurationError with a message that
 * names what is wrong; the message always contains "ISO 8601".
 */
export function parseIsoDuration(text: string): IsoDuration {
  const bad = (why: string) =>
    new DurationError(`"${text}" is not an ISO 8601 duration (e.g. PT0.2S, PT30S, PT1M): ${why}`);
  if (text === '') throw bad('it is empty');
  if (text === 'P0') return { ms: 0, clusterMs: 0 };
  if (text.startsWith('-')) {
    throw new DurationError(
      `"${text}" is a negative ISO 8601 duration: no delivery field means anything by one`,
    );
  }
  const body = text.startsWith('+') ? text.slice(1) : text;
  if (!body.startsWith('P')) throw bad('it must start with P');
  const rest = body.slice(1);
  const t = rest.indexOf('T');
  const [years, months, weeks, days] = fields(t >= 0 ? rest.slice(0, t) : rest, DATE_MARKS, text);
  const [hours, minutes, seconds] = t >= 0 ? fields(rest.slice(t + 1), TIME_MARKS, text) : [];
  const all = [years, months, weeks, days, hours, minutes, seconds];
  if (all.every((f) => f === undefined)) throw bad('no field given');

  const v = (f: Field | undefined) => f?.value ?? 0;
  const ms =
    v(years) * MS.year +
    v(months) * MS.month +
    (v(weeks) * 7 + v(days)) * MS.day +
    v(hours) * MS.hour +
    v(minutes) * MS.minute +
    v(seconds) * MS.second;

  // Precise normalisation (Parse normalises): seconds ripple into minutes, minutes into hours. Beyond what an
  // int16 of tenths holds, upstream moves time into days and months approximately; refuse that range instead.
  const tenths = (f: Field | undefined) => f?.tenths ?? 0;
  const sTenths = tenths(seconds);
  const mTenths = tenths(minutes) + Math.floor(sTenths / 600) * 10;
  const hTenths = tenths(hours) + Math.floor(mTenths / 600) * 10;
  const dTenths = tenths(weeks) * 7 + tenths(days);
  if (
    hTenths > 32_204 ||
    dTenths > 32_760 ||
    tenths(years) > FIELD_LIMIT_TENTHS ||
    tenths(months) > FIELD_LIMIT_TENTHS
  ) {
    throw new DurationError(
      `"${text}" is too large for Knative's ISO 8601 duration type (at most 3276.7 of each unit, 3220 hours)`,
    );
  }
  const clusterMs =
    (tenths(years) * MS.year +
      tenths(months) * MS.month +
      dTenths * MS.day +
      tenths(hours) * MS.hour +
      tenths(minutes) * MS.minute +
      sTenths * MS.second) /
    10;
  return { ms: Math.round(ms), clusterMs: Math.round(clusterMs) };
}

const GO_UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5
  μs: 1e-3, // U+03BC
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const GO_PART = /(\d*)(?:\.(\d*))?([a-zµμ]+)/y;

/**
 * Milliseconds of a Go duration as `time.ParseDuration` reads it: `30s`, `1m30s`, `1.5h`, `250ms`, `.5s`, `0`.
 * Negative durations, which Go accepts, are refused: no Knative field or sluice setting takes one (Serving
 * refuses a negative window or retention). Throws DurationError.
 */
export function parseGoDuration(text: string): number {
  const bad = (why: string) =>
    new DurationError(`"${text}" is not a duration like "30s", "1m30s" or "250ms": ${why}`);
  if (text.startsWith('-')) throw bad('a negative duration means nothing here');
  const rest = text.startsWith('+') ? text.slice(1) : text;
  if (rest === '0') return 0;
  if (rest === '') throw bad('it is empty');
  let ms = 0;
  let pos = 0;
  while (pos < rest.length) {
    GO_PART.lastIndex = pos;
    const m = GO_PART.exec(rest);
    if (m === null || m.index !== pos) throw bad(`cannot read "${rest.slice(pos)}"`);
    const [whole, int = '', frac, unit = ''] = m;
    if (int === '' && (frac === undefined || frac === '')) throw bad('a number is missing');
    const unitMs = GO_UNIT_MS[unit];
    if (unitMs === undefined) throw bad(`unknown unit "${unit}" (ns, us, ms, s, m, h)`);
    ms += Number(`${int || '0'}.${frac || '0'}`) * unitMs;
    pos += whole.length;
  }
  return ms;
}
