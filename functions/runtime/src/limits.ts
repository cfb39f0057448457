/**
 * What one bad request may cost in answer and log, whatever it holds: any input up to the body limit
 * yields at most RESPONSE_BYTES of problem+json and LOG_LINE_BYTES of log (docs/runtime.md, "Bad input
 * costs little"). The caps apply where untrusted text becomes output: problem details, logged fields.
 */
export const Limits = {
  /** Problems listed in `invalid-params`; the rest are counted in one "and N more" entry. */
  problems: 20,
  /** Characters of an attribute name or schema path in `invalid-params`. */
  problemName: 128,
  /** Characters of one problem's reason. */
  problemReason: 256,
  /** Characters of a problem's `detail` and of a log line's `message`. */
  detail: 1024,
  /** Bytes of a problem+json body. */
  responseBytes: 16 * 1024,
  /** Characters of one logged field's value (a stack trace gets `stackTrace`). */
  logField: 512,
  stackTrace: 2048,
  /** Bytes of one log line. */
  logLineBytes: 8 * 1024,
} as const;

/** `text` cut to `max` characters, saying how much was cut; short text is returned as is. */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = `… (${text.length - max} more characters)`;
  // Never split a surrogate pair: a lone half has no UTF-8 form.
  let end = Math.max(0, max - marker.length);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}${marker}`;
}
