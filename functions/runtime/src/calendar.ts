/**
 * The proleptic Gregorian calendar of RFC 3339 (appendix C), for the timestamp checks that reject a day the month
 * does not have (cloudevent/receive.ts, date-time-format.ts). Date.UTC cannot answer it: it maps years 0–99 to
 * 1900–1999, and 0000-02-29 is a real day.
 */

/** Days of `month` (1–12) in `year`. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
