/**
 * W3C Trace Context, carried by hand (no tracing SDK on the hot path): continue the incoming
 * `traceparent` (HTTP header, or the event's distributed-tracing extension), open a span id for this
 * invocation, and hand the context on to reply events.
 */
import { nodeCryptoLoaded, randomBytes } from './lazy-crypto.ts';

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly flags: string;
  readonly tracestate?: string;
}

// Random ids from one pooled buffer: randomBytes per request would allocate twice as much. Not before
// node:crypto is loaded (the first event of a cold start, lazy-crypto.ts): no pool of Math.random bytes.
let pool: Buffer = Buffer.alloc(0);
let offset = 0;
function randomHex(bytes: number): string {
  if (!nodeCryptoLoaded()) return randomBytes(bytes).toString('hex');
  if (offset + bytes > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

export function continueTrace(traceparent: unknown, tracestate: unknown): TraceContext {
  const state = typeof tracestate === 'string' && tracestate !== '' ? tracestate : undefined;
  if (typeof traceparent === 'string' && isTraceparent(traceparent)) {
    const traceId = traceparent.slice(3, 35);
    const parentSpanId = traceparent.slice(36, 52);
    if (!traceparent.startsWith('ff') && traceId !== ZERO_TRACE && parentSpanId !== ZERO_SPAN) {
      const ctx = { traceId, spanId: randomHex(8), parentSpanId, flags: traceparent.slice(53) };
      return state === undefined ? ctx : { ...ctx, tracestate: state };
    }
  }
  return { traceId: randomHex(16), spanId: randomHex(8), flags: '01' };
}

/**
 * `version-traceid-parentid-flags` in lower-case hex, 2-32-16-2 digits: what
 * /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/ matches, read by hand: every event runs it, and the
 * regex's match array and four captures were garbage of every event.
 */
function isTraceparent(text: string): boolean {
  return (
    text.length === 55 &&
    text.charCodeAt(2) === DASH &&
    text.charCodeAt(35) === DASH &&
    text.charCodeAt(52) === DASH &&
    lowerHex(text, 0, 2) &&
    lowerHex(text, 3, 35) &&
    lowerHex(text, 36, 52) &&
    lowerHex(text, 53, 55)
  );
}

const DASH = 0x2d;
function lowerHex(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.flags}`;
}
