import { describe, expect, it } from 'vitest';
import { seededUniform } from './seeded-random.ts';
import { continueTrace, formatTraceparent } from './trace.ts';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** W3C Trace Context's traceparent (version 00's form), as a regex: what continueTrace reads by hand. */
function continues(traceparent: string): boolean {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent);
  return m !== null && m[1] !== 'ff' && !/^0+$/.test(m[2] as string) && !/^0+$/.test(m[3] as string);
}

describe('continueTrace', () => {
  it('continues a valid traceparent: its trace id, its span as the parent, its flags, a new span', () => {
    const ctx = continueTrace(PARENT, 'vendor=1');
    expect(ctx).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: expect.stringMatching(/^[0-9a-f]{16}$/),
      parentSpanId: '00f067aa0ba902b7',
      flags: '01',
      tracestate: 'vendor=1',
    });
    expect(ctx.spanId).not.toBe('00f067aa0ba902b7');
    expect(formatTraceparent(ctx)).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${ctx.spanId}-01`);
  });

  it('starts a new trace for anything else, as the pattern of the spec reads it', () => {
    const cases = [
      '',
      PARENT.toUpperCase(),
      `${PARENT} `,
      ` ${PARENT}`,
      `${PARENT}\n`,
      PARENT.replace('-01', '-1'),
      `ff${PARENT.slice(2)}`,
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      PARENT.replaceAll('-', '_'),
    ];
    // Random one-character changes of a valid traceparent, some of them still valid.
    const uniform = seededUniform(11);
    const alphabet = '0123456789abcdefABCDEF-g _\u0660';
    for (let i = 0; i < 3000; i++) {
      const at = Math.floor(uniform() * PARENT.length);
      const c = alphabet[Math.floor(uniform() * alphabet.length)] as string;
      cases.push(PARENT.slice(0, at) + c + PARENT.slice(at + 1));
    }
    let valid = 0;
    for (const traceparent of cases) {
      const ctx = continueTrace(traceparent, undefined);
      const continued = ctx.parentSpanId !== undefined;
      expect(continued, JSON.stringify(traceparent)).toBe(continues(traceparent));
      if (continued) {
        valid++;
        expect([ctx.traceId, ctx.parentSpanId, ctx.flags]).toEqual([
          traceparent.slice(3, 35),
          traceparent.slice(36, 52),
          traceparent.slice(53),
        ]);
      } else expect(ctx.flags).toBe('01');
    }
    expect(valid).toBeGreaterThan(500);
    expect(valid).toBeLessThan(cases.length - 500);
  });

  it('starts a new trace when there is no traceparent, and drops an empty tracestate', () => {
    for (const value of [undefined, 42, ['x']]) {
      const ctx = continueTrace(value, '');
      expect(ctx.parentSpanId).toBeUndefined();
      expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ctx).not.toHaveProperty('tracestate');
    }
  });
});
