/**
 * W3C Trace Context, carried by hand (no tracing SDK on the hot path): continue the incoming
 * `traceparent` (HTTP header, or the event's distributed-tracing extension), open a span id for this
 * invocation, and hand the context on to reply events.
 */
import { nodeCryptoLoaded, randomBytes } from './lazy-crypto.ts';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
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
  const m = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null;
  const state = typeof tracestate === 'string' && tracestate !== '' ? tracestate : undefined;
  if (m !== null && m[1] !== 'ff' && m[2] !== ZERO_TRACE && m[3] !== ZERO_SPAN) {
    const ctx = {
      traceId: m[2] as string,
      spanId: randomHex(8),
      parentSpanId: m[3] as string,
      flags: m[4] as string,
    };
    return state === undefined ? ctx : { ...ctx, tracestate: state };
  }
  return { traceId: randomHex(16), spanId: randomHex(8), flags: '01' };
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.flags}`;
}
