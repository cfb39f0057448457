/**
 * Where a member's value sits, byte for byte, in a JSON object: how the structured-mode `data` is kept as
 * the exact text the producer wrote (large integers, `1.10`, key order, escapes, whitespace), as sdk-go's
 * reader keeps it (`event/event_unmarshal.go` `consumeData` → `iter.SkipAndReturnBytes()`).
 *
 * Hand-written rather than a library: it runs only over a document JSON.parse has already accepted, so it
 * validates nothing and only skips strings and brackets, over the UTF-8 bytes themselves (libraries such
 * as jsonc-parser work on UTF-16 strings, validate again, and give code-unit offsets).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

function skipSpace(json: Uint8Array, i: number): number {
  while (isSpace(json[i])) i++;
  return i;
}

/** `i` at an opening quote → the index just past the closing one. */
function skipString(json: Uint8Array, i: number): number {
  i++;
  while (i < json.length && json[i] !== QUOTE) i += json[i] === BACKSLASH ? 2 : 1;
  return i + 1;
}

/** `i` at the first byte of a value → the index just past it. */
function skipValue(json: Uint8Array, i: number): number {
  const first = json[i];
  if (first === QUOTE) return skipString(json, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    while (i < json.length) {
      const b = json[i];
      if (b === QUOTE) {
        i = skipString(json, i);
        continue;
      }
      if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // number, true, false, null
  while (i < json.length) {
    const b = json[i];
    if (b === COMMA || b === CLOSE_BRACE || b === CLOSE_BRACKET || isSpace(b)) break;
    i++;
  }
  return i;
}

function keyIs(json: Uint8Array, start: number, end: number, name: string): boolean {
  // start/end include the quotes; an escaped key (`"d\u0061ta"`) is compared by its decoded text.
  const inner = end - start - 2;
  let escaped = false;
  for (let k = start + 1; k < end - 1; k++) if (json[k] === BACKSLASH) escaped = true;
  if (escaped)
    return JSON.parse(Buffer.from(json.buffer, json.byteOffset + start, end - start).toString()) === name;
  if (inner !== name.length) return false;
  for (let k = 0; k < inner; k++) if (json[start + 1 + k] !== name.charCodeAt(k)) return false;
  return true;
}

/**
 * The byte range [start, end) of the value of member `name` of the top-level object in `json` (the last
 * one when repeated, as JSON.parse does), or undefined when there is none. `json` must be valid JSON.
 */
export function memberSpan(json: Uint8Array, name: string): { start: number; end: number } | undefined {
  let i = skipSpace(json, 0);
  if (json[i] !== OPEN_BRACE) return undefined;
  i++;
  let found: { start: number; end: number } | undefined;
  for (;;) {
    i = skipSpace(json, i);
    if (json[i] !== QUOTE) return found; // `}` of an empty object
    const keyStart = i;
    i = skipString(json, i);
    const keyEnd = i;
    i = skipSpace(json, i);
    if (json[i] !== COLON) return found;
    i = skipSpace(json, i + 1);
    const start = i;
    i = skipValue(json, i);
    if (keyIs(json, keyStart, keyEnd, name)) found = { start, end: i };
    i = skipSpace(json, i);
    if (json[i] !== COMMA) return found;
    i++;
  }
}
