/**
 * JSON Schema's `date-time` format: a hand-written fast path for ajv-formats' own, with the library as the
 * fallback. ajv-formats (full mode, as `addFormats(ajv)` sets it up: a time zone is required) splits the string
 * on a regex, runs two more regexes with captures and turns seven strings into numbers: thousands of CPU
 * instructions (callgrind) for every event whose schema has a `date-time`, ~10x what this fast path costs.
 * The fast path reads the canonical RFC 3339 shape, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t` and `z`
 * too), by character code, and answers only where its answer is certainly the library's; any other input (a
 * space separator, `+HHMM`, a leap second, a long fraction, …) goes to the library's function unchanged.
 * date-time-format.test.ts checks the two against each other.
 *
 * `formats` is ajv-formats' full set with this `date-time`: the module that ajv's standalone code requires its
 * formats from (`code.formats`, validate.ts), so bundles run this function too.
 */
import type { FormatDefinition } from 'ajv/dist/2020.js';
import { type DefinedFormats, fullFormats } from 'ajv-formats/dist/formats.js';
import { daysInMonth } from './calendar.ts';

// ajv-formats types each format as ajv's `Format` union; its date-time is `{ validate, compare }` over strings.
// Called as `library.validate`, not a copy of it, so the test can see which inputs fall back.
const library = fullFormats['date-time'] as {
  readonly validate: (str: string) => boolean;
  readonly compare: (a: string, b: string) => number | undefined;
};

/** The ASCII digit at `i` as 0–9, else -1 (also past the end: NaN). `\d` in ajv-formats has no `u` flag. */
function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1;
}

/** The two ASCII digits at `i` as 0–99, else -1. */
function twoDigits(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

const DASH = 45;
const COLON = 58;
const DOT = 46;
const PLUS = 43;

/** ajv-formats' `fullFormats['date-time'].validate`, answered without it for the canonical shape. */
export function validateDateTime(str: string): boolean {
  // 0123456789012345678
  // YYYY-MM-DDTHH:MM:SS
  const century = twoDigits(str, 0);
  const yy = twoDigits(str, 2);
  const month = twoDigits(str, 5);
  const day = twoDigits(str, 8);
  const hour = twoDigits(str, 11);
  const minute = twoDigits(str, 14);
  const second = twoDigits(str, 17);
  const t = str.charCodeAt(10);
  if (
    century < 0 ||
    yy < 0 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    str.charCodeAt(4) !== DASH ||
    str.charCodeAt(7) !== DASH ||
    (t !== 84 && t !== 116) || // T, t
    str.charCodeAt(13) !== COLON ||
    str.charCodeAt(16) !== COLON
  ) {
    return library.validate(str);
  }
  let i = 19;
  if (str.charCodeAt(i) === DOT) {
    const start = ++i;
    while (digit(str, i) >= 0) i++;
    // At most 9 digits: the library reads the seconds with Number(), which rounds 59.9999999999999999 to 60.
    if (i === start || i - start > 9) return library.validate(str);
  }
  const zone = str.charCodeAt(i);
  if (zone === 90 || zone === 122) {
    // Z, z
    if (i + 1 !== str.length) return library.validate(str);
  } else if (zone === PLUS || zone === DASH) {
    const zoneHour = twoDigits(str, i + 1);
    const zoneMinute = twoDigits(str, i + 4);
    if (zoneHour < 0 || zoneMinute < 0 || str.charCodeAt(i + 3) !== COLON || i + 6 !== str.length) {
      return library.validate(str);
    }
    // The library rejects these before its leap-second rule, whatever the date and time.
    if (zoneHour > 23 || zoneMinute > 59) return false;
  } else {
    return library.validate(str);
  }
  // Second 60 (and an hour or minute out of range) is the library's UTC-adjusted 23:59 rule: leave it to it.
  if (hour > 23 || minute > 59 || second > 59) return library.validate(str);
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(century * 100 + yy, month);
}

/** The `date-time` format: the fast validate above, ajv-formats' compare (for formatMinimum and the like). */
export const dateTimeFormat = {
  validate: validateDateTime,
  compare: library.compare,
} as const satisfies FormatDefinition<string>;

/** ajv-formats' full formats with this `date-time`: the module ajv's standalone code reads formats from. */
export const formats: DefinedFormats = { ...fullFormats, 'date-time': dateTimeFormat };
