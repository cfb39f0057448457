/**
 * ISO 8601 durations as Knative reads them (`github.com/rickb777/date/period` then `DurationApprox`):
 * `PT0.2S`, `PT30S`, `P1DT2H`, fractions on any field, years and months approximated. Negative
 * durations are refused: no delivery field accepts one.
 */
const PATTERN =
  /^P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

const SECOND = 1000;
const DAY = 24 * 3600 * SECOND;
// period.DurationApprox: a year is 365.2425 days, a month a twelfth of that.
const FIELD_MS = [365.2425 * DAY, (365.2425 / 12) * DAY, 7 * DAY, DAY, 3600 * SECOND, 60 * SECOND, SECOND];

export class DurationError extends Error {
  override name = 'DurationError';
}

/** Milliseconds of an ISO 8601 duration, or DurationError naming what is wrong. */
export function parseIsoDuration(text: string): number {
  const m = PATTERN.exec(text.trim());
  if (m === null || text.trim() === 'P' || text.trim().endsWith('T')) {
    throw new DurationError(`"${text}" is not an ISO 8601 duration (e.g. PT0.2S, PT30S, PT1M)`);
  }
  let ms = 0;
  let any = false;
  for (let i = 0; i < FIELD_MS.length; i++) {
    const field = m[i + 1];
    if (field === undefined) continue;
    any = true;
    ms += Number(field.replace(',', '.')) * (FIELD_MS[i] as number);
  }
  if (!any) throw new DurationError(`"${text}" is not an ISO 8601 duration (no field given)`);
  return Math.round(ms);
}
