/**
 * `ce-*` header values between the wire and attribute text (docs/runtime.md, "Header values").
 *
 * - Bytes: node:http and fetch hand header values over as one character per byte (Latin-1). Header
 *   values are UTF-8 bytes (what sdk-go and most HTTP clients send), so they are read as UTF-8; bytes that
 *   are not valid UTF-8 are kept in that one-character-per-byte reading (RFC 9110's historical obs-text).
 * - Percent-escapes: the HTTP binding (§3.1.3.2) has senders percent-encode space, `"`, `%` and non-ASCII;
 *   sdk-go and sdk-java send values raw (sdk-go#1331). `decodePercentLenient` decodes every `%XX` run that
 *   forms valid UTF-8 and keeps anything else literally, so `save 50%` stays `save 50%` instead of being
 *   refused.
 * - Writing raw (the broker's dispatcher, as eventing-rabbitmq's): UTF-8 bytes as they are; only what a
 *   header cannot carry is percent-encoded.
 */
import { isUtf8 } from 'node:buffer';

// Anything but 7-bit ASCII: the value needs its bytes re-read.
const NON_ASCII = /[\u0080-\uffff]/;
// A character above U+00FF cannot come from a byte string: the caller passed text already.
const BEYOND_LATIN1 = /[\u0100-\uffff]/;
// Either of the above, or a percent sign: the hot path tests this once and skips both steps.
const NEEDS_WORK = /[%\u0080-\uffff]/;

/** A header value as node:http or fetch give it (one character per byte) → its text. */
export function headerText(raw: string): string {
  if (!NON_ASCII.test(raw) || BEYOND_LATIN1.test(raw)) return raw;
  const bytes = Buffer.from(raw, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : raw;
}

/** headerText, then lenient percent-decoding: what the runtime's receive path does to each `ce-*` value. */
export function readHeaderValue(raw: string): string {
  return NEEDS_WORK.test(raw) ? decodePercentLenient(headerText(raw)) : raw;
}

function hex(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** The byte of the escape `%XX` at `at`, or -1 when there is none. */
function escapedByte(value: string, at: number): number {
  if (value.charCodeAt(at) !== 37) return -1;
  const high = hex(value.charCodeAt(at + 1));
  const low = hex(value.charCodeAt(at + 2));
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

/**
 * The code point of the UTF-8 sequence escaped at `at` and its length in bytes, or undefined when the
 * escapes there do not form one well-formed UTF-8 character (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF).
 */
function escapedCodePoint(value: string, at: number): { codePoint: number; bytes: number } | undefined {
  const lead = escapedByte(value, at);
  if (lead < 0) return undefined;
  if (lead < 0x80) return { codePoint: lead, bytes: 1 };
  let bytes: number;
  let codePoint: number;
  let min = 0x80;
  let max = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    bytes = 2;
    codePoint = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    bytes = 3;
    codePoint = lead & 0x0f;
    if (lead === 0xe0) min = 0xa0; // overlong
    if (lead === 0xed) max = 0x9f; // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    bytes = 4;
    codePoint = lead & 0x07;
    if (lead === 0xf0) min = 0x90; // overlong
    if (lead === 0xf4) max = 0x8f; // above U+10FFFF
  } else {
    return undefined;
  }
  for (let k = 1; k < bytes; k++) {
    const next = escapedByte(value, at + 3 * k);
    if (next < min || next > max) return undefined;
    codePoint = (codePoint << 6) | (next & 0x3f);
    min = 0x80;
    max = 0xbf;
  }
  return { codePoint, bytes };
}

/**
 * Decodes each `%XX` sequence that forms a well-formed UTF-8 character and keeps everything else as it
 * is: a `%` not followed by two hex digits, a lone continuation byte, an overlong or surrogate form. Never
 * throws; linear in the value's length.
 */
export function decodePercentLenient(value: string): string {
  let at = value.indexOf('%');
  if (at === -1) return value;
  let out = '';
  let from = 0;
  while (at !== -1) {
    const decoded = escapedCodePoint(value, at);
    if (decoded === undefined) {
      at = value.indexOf('%', at + 1);
      continue;
    }
    out += value.slice(from, at) + String.fromCodePoint(decoded.codePoint);
    from = at + 3 * decoded.bytes;
    at = value.indexOf('%', from);
  }
  return out + value.slice(from);
}

// Control characters other than tab (a header cannot carry them) and, checked apart, whitespace at either
// end (HTTP parsers strip it).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is matched
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const EDGE_SPACE = /^[ \t]|[ \t]$/;

/**
 * Text → the header string of its UTF-8 bytes (one character per byte, which node:http and fetch write
 * byte for byte): how eventing-rabbitmq's dispatcher writes attribute values (sdk-go `types.Format`, no
 * percent-encoding). Only control characters (but tab) and whitespace at either end, which a header cannot
 * carry, are percent-encoded.
 */
export function rawHeaderValue(value: string): string {
  let text = value;
  if (CONTROL.test(text) || EDGE_SPACE.test(text)) {
    text = text.replace(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is encoded
      /[\x00-\x08\x0a-\x1f\x7f]|^[ \t]+|[ \t]+$/g,
      (m) => [...m].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join(''),
    );
  }
  return NON_ASCII.test(text) ? Buffer.from(text.toWellFormed(), 'utf8').toString('latin1') : text;
}
